"""Cron next-run and generator batch arithmetic, without a database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.schedule import generator_batches, next_run, validate_cron

T0 = datetime(2026, 1, 1, 12, 0, 1, 500_000, tzinfo=UTC)


def test_interval_cron_fires_one_period_later() -> None:
    assert next_run("", 5, T0) == T0 + timedelta(seconds=5)


def test_random_interval_cron_fires_within_the_period() -> None:
    rng = random.Random(7)
    times = {next_run("", 10, T0, jitter=True, rng=rng) for _ in range(20)}
    assert all(T0 <= t <= T0 + timedelta(seconds=10) for t in times) and len(times) > 1


def test_seconds_field_comes_first() -> None:
    first = next_run("0/2 * * * * *", -1, T0)
    assert first == datetime(2026, 1, 1, 12, 0, 2, tzinfo=UTC)
    assert next_run("0/2 * * * * *", -1, first) == datetime(2026, 1, 1, 12, 0, 4, tzinfo=UTC)
    assert next_run("30 0 * * * *", -1, T0) == datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    assert next_run("0 0 * * * *", -1, T0) == datetime(2026, 1, 1, 13, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "interval"),
    [("", 0), ("", -2), ("* * * * *", -1), ("61 * * * * *", -1), ("nonsense", -1)],
)
def test_invalid_crons_are_refused(expression: str, interval: int) -> None:
    with pytest.raises(BadRequest):
        validate_cron(expression, interval)


def test_generator_batches_floor() -> None:
    assert [generator_batches(q, 3) for q in (0, 2, 3, 7, 9)] == [0, 0, 1, 2, 3]
