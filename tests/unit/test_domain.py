"""Pure rules: priority time, wire time format, spec and workflow validation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.processes import env_attributes, new_process
from colonies_ha.domain.specs import parse_function_spec, parse_workflow_spec
from colonies_ha.domain.timeutil import NANOS_PER_DAY, priority_time, rfc3339

COLONY = "a" * 64


def spec(**overrides: object) -> dict:
    base = {"funcname": "f", "conditions": {"colonyid": COLONY, "executortype": "t"}}
    base.update(overrides)
    return base


def test_priority_time_moves_one_day_per_step() -> None:
    now = 1_700_000_000_000_000_000
    assert priority_time(now, 0) == now
    assert priority_time(now, 1) == now - NANOS_PER_DAY
    assert priority_time(now, -2) == now + 2 * NANOS_PER_DAY


def test_higher_priority_sorts_before_older_lower_priority() -> None:
    old_low = priority_time(1_000, 0)
    new_high = priority_time(1_000 + 3600 * 10**9, 1)
    assert new_high < old_low


def test_equal_priority_is_fifo() -> None:
    assert priority_time(1_000, 5) < priority_time(1_001, 5)


def test_rfc3339_matches_go_rendering() -> None:
    assert rfc3339(None) == "0001-01-01T00:00:00Z"
    assert rfc3339(datetime(2023, 4, 16, 10, 0, 0, tzinfo=UTC)) == "2023-04-16T10:00:00Z"
    assert rfc3339(datetime(2023, 4, 16, 10, 0, 0, 120000, tzinfo=UTC)) == (
        "2023-04-16T10:00:00.12Z"
    )


def test_spec_defaults_and_ignores_unknown_or_null_fields() -> None:
    parsed = parse_function_spec(spec(kwargs=None, fs=None, args=None, unknown=1))
    assert parsed["args"] == [] and parsed["maxretries"] == 0 and parsed["env"] == {}
    assert parsed["conditions"]["executorids"] == [] and "kwargs" not in parsed


@pytest.mark.parametrize(
    "bad",
    [
        spec(priority=50_001),
        spec(priority="high"),
        spec(args="x"),
        spec(conditions={"colonyid": "nothex", "executortype": "t"}),
        spec(conditions={"colonyid": COLONY}),
        spec(env={"a": 1}),
        spec(maxretries=-2),
    ],
)
def test_invalid_specs_are_refused_with_400(bad: dict) -> None:
    with pytest.raises(BadRequest):
        parse_function_spec(bad)


def test_workflow_with_unknown_dependency_is_refused() -> None:
    wf = {
        "colonyid": COLONY,
        "functionspecs": [
            spec(nodename="a"),
            spec(nodename="b", conditions={"executortype": "t", "dependencies": ["zzz"]}),
        ],
    }
    with pytest.raises(BadRequest, match="zzz"):
        parse_workflow_spec(wf)


def test_workflow_cycle_is_refused() -> None:
    wf = {
        "colonyid": COLONY,
        "functionspecs": [
            spec(nodename="a", conditions={"executortype": "t", "dependencies": ["b"]}),
            spec(nodename="b", conditions={"executortype": "t", "dependencies": ["a"]}),
        ],
    }
    with pytest.raises(BadRequest, match="cycle"):
        parse_workflow_spec(wf)


def test_workflow_members_are_forced_into_the_workflow_colony() -> None:
    other = "b" * 64
    wf = {
        "colonyid": COLONY,
        "functionspecs": [spec(nodename="a", conditions={"colonyid": other, "executortype": "t"})],
    }
    _, specs = parse_workflow_spec(wf)
    assert specs[0]["conditions"]["colonyid"] == COLONY


def test_new_process_sets_deadlines_and_env_attributes() -> None:
    parsed = parse_function_spec(spec(maxwaittime=5, env={"k": "v"}))
    process = new_process(parsed, now_ns=1_700_000_000 * 10**9)
    assert process["waitdeadline"] == datetime.fromtimestamp(1_700_000_005, UTC)
    assert process["state"] == 0 and process["prioritytime"] == 1_700_000_000 * 10**9
    (attribute,) = env_attributes(process)
    assert (attribute["key"], attribute["value"], attribute["attributetype"]) == ("k", "v", 3)
