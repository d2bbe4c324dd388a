"""The chaos checker: a short real run passes, and the checks do catch what they claim to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from colonies_ha.chaos.checker import (
    Snapshot,
    closed_by_assignee,
    cron_slots_once,
    packed_args_once,
    single_holder,
    submits_reconciled,
)
from colonies_ha.chaos.history import History
from colonies_ha.chaos.runner import run_chaos
from colonies_ha.chaos.workload import CRON_FUNC, GENERATOR_FUNC, PLAIN_FUNC, ChaosConfig


async def test_a_short_chaos_run_keeps_every_invariant(
    database_url: str, workdir: Path, tmp_path: Path
) -> None:
    history = tmp_path / "history.jsonl"
    config = ChaosConfig(
        duration=50,
        fault_interval=8,
        seed=7,
        executors=4,
        settle_timeout=30,
        faults=("kill", "pause"),  # on the session's database: replica faults only
        history_path=history,
        database_url=database_url,
        workdir=workdir,
    )
    result = await run_chaos(config)
    assert result.ok, "\n".join(result.violations)
    assert result.faults >= 3 and result.leader_faults >= 1, result.gaps
    assert result.counts.get("close:ok", 0) >= 100, result.counts
    assert result.settled_in is not None
    assert history.stat().st_size > 0


# -- the checks themselves, on hand-made histories -----------------------------------


def history_of(*ops: dict[str, Any]) -> History:
    history = History()
    history.extend([{"op": "setup", "t": 0.0, "executors": ["id0", "id1"]}, *ops])
    return history


def assign(executor: str, start: float, retries: int = 0, pid: str = "p") -> dict[str, Any]:
    return {
        "op": "assign",
        "ok": True,
        "t": start + 0.01,
        "t0": start - 0.01,
        "start": start,
        "executor": executor,
        "processid": pid,
        "retries": retries,
        "maxexectime": 5,
    }


def close(executor: str, t: float, *, ok: bool = True, retries: int = 0) -> dict[str, Any]:
    return {
        "op": "close",
        "ok": ok,
        "t": t + 0.01,
        "t0": t,
        "executor": executor,
        "processid": "p",
        "retries": retries,
        "kind": "successful",
    }


def process(state: int = 2, assignee: str = "id0", **extra: Any) -> dict[str, Any]:
    return {
        "processid": "p",
        "state": state,
        "assignedexecutorid": assignee,
        "retries": 0,
        "funcname": PLAIN_FUNC,
        "args": ["m"],
        "processgraphid": "",
        **extra,
    }


def test_a_redelivery_after_the_deadline_is_fine_but_an_early_one_is_not() -> None:
    after_deadline = history_of(assign("e0", 100), assign("e1", 105.2, retries=1))
    assert single_holder(after_deadline).ok
    early = history_of(assign("e0", 100), assign("e1", 102, retries=1))
    assert "held it" in single_holder(early).violations[0]
    closed_first = history_of(assign("e0", 100), close("e0", 101), assign("e1", 101.5, 1))
    assert "acknowledged" in single_holder(closed_first).violations[0]
    same_attempt = history_of(assign("e0", 100), assign("e1", 100.1))
    assert "assigned 2 times" in single_holder(same_attempt).violations[0]


def test_a_close_must_come_from_the_assignee() -> None:
    snapshot = Snapshot([process()], [], [])
    assert closed_by_assignee(history_of(close("e0", 1, ok=False)), snapshot).ok
    assert not closed_by_assignee(history_of(close("e1", 1)), snapshot).ok
    assert not closed_by_assignee(history_of(), snapshot).ok


def test_submits_are_reconciled_by_marker() -> None:
    acked = {"op": "submit", "ok": True, "t": 1, "marker": "m", "processid": "p"}
    assert submits_reconciled(history_of(acked), Snapshot([process()], [], [])).ok
    assert not submits_reconciled(history_of(acked), Snapshot([], [], [])).ok
    lost_reply = {**acked, "ok": False, "processid": None}
    twice = Snapshot([process(), process(processid="q")], [], [])
    assert not submits_reconciled(history_of(lost_reply), twice).ok


def test_cron_slots_and_packed_args() -> None:
    def graph(at: float, funcname: str, args: list[str] | None = None) -> dict[str, Any]:
        return {"processgraphid": f"g{at}", "submitted": at, "funcname": funcname, "args": args}

    assert cron_slots_once(Snapshot([], [graph(1, CRON_FUNC), graph(2, CRON_FUNC)], []), 1).ok
    assert not cron_slots_once(Snapshot([], [graph(1, CRON_FUNC), graph(1.1, CRON_FUNC)], []), 1).ok
    packs = history_of(*({"op": "pack", "ok": True, "t": 1, "arg": a} for a in "abc"))
    good = Snapshot([], [graph(1, GENERATOR_FUNC, ["a", "b"])], ["c"])
    assert packed_args_once(packs, good, 2).ok
    reused = Snapshot(
        [], [graph(1, GENERATOR_FUNC, ["a", "b"]), graph(2, GENERATOR_FUNC, ["b", "c"])], []
    )
    assert not packed_args_once(packs, reused, 2).ok
    lost = Snapshot([], [graph(1, GENERATOR_FUNC, ["a", "b"])], [])
    assert not packed_args_once(packs, lost, 2).ok
