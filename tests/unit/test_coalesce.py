"""Without a database: group commit (batch boundaries, per-item errors, cancellation, which
errors send a batch one by one) and which process events wake long-polling assigns."""

from __future__ import annotations

import asyncio
import json

import psycopg
import psycopg_pool
import pytest

from colonies_ha.cluster.events import EventHub
from colonies_ha.domain.states import ProcessState
from colonies_ha.services.batches import redo_one_by_one
from colonies_ha.services.coalesce import Coalescer


class Recorder:
    """A batch function that records its batches and can be held open."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, _key: None, items: list[int]) -> list[object]:
        self.batches.append(list(items))
        self.started.set()
        await self.release.wait()
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]


async def test_a_lone_item_goes_at_once_in_a_batch_of_one() -> None:
    coalescer: Coalescer[None, int, int] = Coalescer()
    recorder = Recorder()
    assert await coalescer.run(None, 1, recorder) == 10
    assert recorder.batches == [[1]]


async def test_items_of_one_tick_share_a_batch_and_later_ones_wait_for_the_next() -> None:
    coalescer: Coalescer[None, int, int] = Coalescer()
    recorder = Recorder()
    recorder.release.clear()
    first = [asyncio.create_task(coalescer.run(None, i, recorder)) for i in (1, 2, 3)]
    await recorder.started.wait()  # the first batch is in flight and held
    later = [asyncio.create_task(coalescer.run(None, i, recorder)) for i in (4, 5)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert recorder.batches == [[1, 2, 3]]  # nothing else starts while one is in flight
    recorder.release.set()
    assert await asyncio.gather(*first, *later) == [10, 20, 30, 40, 50]
    assert recorder.batches == [[1, 2, 3], [4, 5]]
    assert (coalescer.batches, coalescer.items) == (2, 5)


async def test_keys_batch_apart_and_run_side_by_side() -> None:
    coalescer: Coalescer[str, int, int] = Coalescer()
    seen: list[tuple[str, list[int]]] = []

    async def batch(key: str, items: list[int]) -> list[object]:
        seen.append((key, items))
        return list(items)

    pairs = [("a", 1), ("b", 2), ("a", 3)]
    results = await asyncio.gather(*(coalescer.run(k, i, batch) for k, i in pairs))
    assert results == [1, 2, 3]
    assert sorted(seen) == [("a", [1, 3]), ("b", [2])]


async def test_an_item_error_reaches_its_caller_alone() -> None:
    coalescer: Coalescer[None, int, int] = Coalescer()
    recorder = Recorder()
    results = await asyncio.gather(
        *(coalescer.run(None, i, recorder) for i in (1, -2, 3)), return_exceptions=True
    )
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad -2"
    assert len(recorder.batches) == 1


async def test_a_batch_error_reaches_every_caller_of_that_batch_only() -> None:
    coalescer: Coalescer[None, int, int] = Coalescer()
    calls = 0

    async def failing_once(_key: None, items: list[int]) -> list[object]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the statement failed")
        return list(items)

    results = await asyncio.gather(
        *(coalescer.run(None, i, failing_once) for i in (1, 2)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await coalescer.run(None, 3, failing_once) == 3


async def test_a_cancelled_caller_is_left_out_of_the_batch() -> None:
    coalescer: Coalescer[None, int, int] = Coalescer()
    recorder = Recorder()
    recorder.release.clear()
    held = asyncio.create_task(coalescer.run(None, 1, recorder))
    await recorder.started.wait()
    gone = asyncio.create_task(coalescer.run(None, 2, recorder))
    kept = asyncio.create_task(coalescer.run(None, 3, recorder))
    await asyncio.sleep(0)
    gone.cancel()
    recorder.release.set()
    assert await held == 10 and await kept == 30
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert recorder.batches == [[1], [3]]


def test_only_a_waiting_process_wakes_the_long_polls_of_its_colony() -> None:
    """A claim or a close is no work for anybody: waking every waiter of the colony for it
    would only make each one look again, in vain."""
    hub = EventHub("postgresql://unused")
    signal = hub.colony_signal("c1")
    for state in (ProcessState.RUNNING, ProcessState.SUCCESSFUL, ProcessState.FAILED):
        hub._dispatch({"processid": "p", "colonyid": "c1", "executortype": "t", "state": state})
    assert not signal.is_set()
    hub._dispatch({"processid": "q", "colonyid": "c2", "executortype": "t", "state": 0})
    assert not signal.is_set()
    hub._dispatch({"processid": "q", "colonyid": "c1", "executortype": "t", "state": 0})
    assert signal.is_set()
    assert hub.colony_signal("c1") is not signal  # the next waiter waits for the next one


def test_only_an_error_one_row_can_cause_makes_a_batch_go_one_by_one() -> None:
    """Bad data, a broken constraint or a deadlock: redo each request alone, for its own
    answer.  A lost connection, a pool or statement timeout: every request would only wait
    and fail again, one after the other, so the batch's callers all get the error."""
    redo = psycopg.errors.ForeignKeyViolation, psycopg.errors.DeadlockDetected
    for error in redo:
        assert redo_one_by_one(error())
    for error in (psycopg_pool.PoolTimeout, psycopg.errors.QueryCanceled, psycopg.OperationalError):
        assert not redo_one_by_one(error())


def test_a_notify_may_list_several_events() -> None:
    """A batch statement announces its rows in one NOTIFY carrying a list of events."""
    hub = EventHub("postgresql://unused")
    signal = hub.colony_signal("c1")
    events = [
        {"processid": "p", "colonyid": "c1", "executortype": "t", "state": 2},
        {"processid": "q", "colonyid": "c1", "executortype": "t", "state": 0},
    ]
    with hub.subscribe() as queue:
        hub._dispatch_payload(json.dumps(events))
        assert [queue.get_nowait()["processid"] for _ in events] == ["p", "q"]
    assert signal.is_set()
