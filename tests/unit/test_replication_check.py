"""The start-up judgement of whether acknowledged commits survive a database failover."""

from __future__ import annotations

from typing import Any

from colonies_ha.store.replication import replication_problems

SAFE = {
    "in_recovery": False,
    "synchronous_commit": "on",
    "synchronous_standby_names": "ANY 1 (*)",
    "sync_standbys": 1,
    "standbys": 1,
}


def problems(**changes: Any) -> list[str]:
    return replication_problems({**SAFE, **changes})


def test_a_primary_waiting_for_a_connected_synchronous_standby_is_safe() -> None:
    assert problems() == []
    assert problems(synchronous_commit="remote_apply") == []


def test_asynchronous_replication_or_no_standby_is_named() -> None:
    (text,) = problems(synchronous_standby_names="", sync_standbys=0, standbys=0)
    assert "asynchronously" in text
    (text,) = problems(sync_standbys=0)
    assert "no synchronous standby is connected" in text


def test_a_commit_level_that_does_not_wait_for_the_standby_is_named() -> None:
    for level in ("off", "local", "remote_write"):
        (text,) = problems(synchronous_commit=level)
        assert level in text


def test_a_url_that_reaches_a_standby_is_named() -> None:
    assert any("standby in recovery" in p for p in problems(in_recovery=True))
