"""Remembered admissions of submit and assign (services/member_cache.py): a rejection or
removal takes effect at once on the replica that made it, reaches the other replicas by
NOTIFY, and a moment-old admission never gets a process claimed for it (migration 0010)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.domain.states import ExecutorState
from tests.helpers import ColonyEnv, start_another_replica


async def refusal(call: object) -> ColoniesError:
    with pytest.raises(ColoniesError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_a_rejection_is_refused_at_once_by_the_replica_that_made_it(
    colony: ColonyEnv,
) -> None:
    ctx = colony.server.replica.ctx
    ctx.members.ttl = 3600.0  # only the forgetting on change may end the admission
    executor = await colony.new_executor()
    await executor.submit(colony.spec())
    hits = ctx.members.hits
    await executor.submit(colony.spec())
    assert ctx.members.hits == hits + 1  # the second submit was admitted from memory

    await colony.owner.reject_executor(executor.id)
    error = await refusal(executor.submit(colony.spec()))
    assert error.status == 403 and "rejected" in error.message
    error = await refusal(executor.assign(colony.colonyid, 1))
    assert error.status == 403 and "rejected" in error.message


async def test_a_removal_on_another_replica_reaches_this_one_by_notify(
    colony: ColonyEnv,
) -> None:
    ctx = colony.server.replica.ctx
    ctx.members.ttl = 3600.0
    executor = await colony.new_executor()
    await executor.submit(colony.spec())  # admitted and remembered here
    other = await start_another_replica(colony.server)
    try:
        owner_there = other.client(colony.owner.prvkey)
        signal = ctx.events.topic_signal("membership")  # the one the memory watches
        await owner_there.rpc("deleteexecutormsg", executorid=executor.id)
        await asyncio.wait_for(signal.wait(), 10)  # the NOTIFY arrived here
        error = await refusal(executor.submit(colony.spec()))
        assert error.status == 403 and "not an executor" in error.message
    finally:
        await other.stop()


async def test_a_stale_admission_gets_no_process(colony: ColonyEnv, database_url: str) -> None:
    ctx = colony.server.replica.ctx
    ctx.members.ttl = 3600.0
    executor = await colony.new_executor()
    submitted = await executor.submit(colony.spec())  # admitted and remembered
    # Rejected behind the replica's back (no NOTIFY): its memory still admits the executor.
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "UPDATE executors SET state = %s WHERE executorid = %s",
            (int(ExecutorState.REJECTED), executor.id),
        )
    error = await refusal(executor.assign(colony.colonyid, 1))
    assert error.status == 404  # admitted from memory, but the claim admitted nobody
    process = await colony.executor.assign(colony.colonyid, 1)  # the work is still there
    assert process["processid"] == submitted["processid"]
