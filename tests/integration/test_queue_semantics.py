"""Concurrency, long poll and deadlines against a real replica and database."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from tests.helpers import ColonyEnv, drain
from tests.integration.test_colonies_executors import refused


async def wait_until(predicate, within: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns something truthy; fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(interval)


async def test_twenty_executors_drain_a_thousand_processes_exactly_once(
    colony: ColonyEnv,
) -> None:
    total = 1000
    executors = [await colony.new_executor() for _ in range(20)]
    submitter = colony.executor
    await asyncio.gather(*(submitter.submit(colony.spec(args=[i])) for i in range(total)))
    handed_out: Counter[str] = Counter()
    await asyncio.gather(*(drain(e, colony.colonyid, handed_out) for e in executors))
    assert len(handed_out) == total
    assert set(handed_out.values()) == {1}
    stats = await colony.owner.colony_stats(colony.colonyid)
    assert stats["successfulprocesses"] == total and stats["waitingprocesses"] == 0


async def test_long_poll_wakes_within_100ms_of_a_matching_submit(colony: ColonyEnv) -> None:
    waiter = asyncio.create_task(colony.executor.assign(colony.colonyid, 10))

    # Wait until the assign is parked on the server (executor was heard from), then submit.
    async def parked() -> bool:
        info = await colony.owner.get_executor(colony.executor.id)
        return not info["lastheardfromtime"].startswith("0001")

    await wait_until(parked)
    submitted_at = time.monotonic()
    process = await colony.executor.submit(colony.spec())
    assigned = await asyncio.wait_for(waiter, 10)
    latency = time.monotonic() - submitted_at
    assert assigned["processid"] == process["processid"]
    assert latency < 0.1, f"long poll woke {latency * 1000:.0f} ms after the submit"


async def test_empty_queue_answers_404_after_the_timeout(colony: ColonyEnv) -> None:
    started = time.monotonic()
    await refused(colony.executor.assign(colony.colonyid, 1), 404, "within 1 s")
    assert time.monotonic() - started >= 1.0


async def test_maxexectime_requeues_then_fails_after_maxretries(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec(maxexectime=1, maxretries=1))
    pid = process["processid"]
    first = await colony.executor.assign(colony.colonyid, 5)
    assert first["processid"] == pid and first["execdeadline"] > first["starttime"]

    async def requeued() -> bool:
        p = await colony.executor.get_process(pid)
        return p["state"] == 0 and p["retries"] == 1

    await wait_until(requeued)
    await refused(colony.executor.close(pid), 400, "waiting, not running")
    second = await colony.executor.assign(colony.colonyid, 5)
    assert second["processid"] == pid and second["retries"] == 1

    async def failed() -> dict | None:
        p = await colony.executor.get_process(pid)
        return p if p["state"] == 3 else None

    final = await wait_until(failed)
    assert final["errors"] == ["Maximum execution time limit exceeded"]


async def test_maxwaittime_fails_a_waiting_process(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec(maxwaittime=1))

    async def failed() -> dict | None:
        p = await colony.executor.get_process(process["processid"])
        return p if p["state"] == 3 else None

    final = await wait_until(failed)
    assert final["errors"] == ["Maximum waiting time limit exceeded"]


async def test_no_exec_limit_means_no_requeue(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec(maxexectime=0))
    assigned = await colony.executor.assign(colony.colonyid, 1)
    assert assigned["execdeadline"].startswith("0001")
    await colony.executor.close(process["processid"])
