"""Group commit against a real replica and database: concurrent submits, closes and claims
share statements, yet each request keeps its own answer, the priority order, the executor
conditions, the relay receipts and the fence."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from functools import partial
from typing import Any

import psycopg
import pytest

from colonies_ha.client import ColoniesClient
from colonies_ha.domain.errors import BadRequest, ColoniesError, Forbidden, NotLeader
from colonies_ha.domain.processes import new_process
from colonies_ha.domain.specs import parse_function_spec
from colonies_ha.services import processes
from colonies_ha.services.auth import Member
from colonies_ha.services.batches import ClaimKey, Waiter, claim_batch
from colonies_ha.services.context import Context
from colonies_ha.store.db import Database
from tests.helpers import ColonyEnv, drain


def ctx_of(colony: ColonyEnv) -> Context:
    return colony.server.replica.ctx


async def submit_all(colony: ColonyEnv, specs: list[dict[str, Any]]) -> list[str]:
    submitted = [await colony.executor.submit(spec) for spec in specs]
    return [p["processid"] for p in submitted]


def restricted(colony: ColonyEnv, *executorids: str, priority: int = 0) -> dict[str, Any]:
    spec = colony.spec(priority=priority)
    spec["conditions"]["executorids"] = list(executorids)
    return spec


async def test_concurrent_submits_share_one_insert_and_a_bad_one_fails_alone(
    colony: ColonyEnv,
) -> None:
    ctx = ctx_of(colony)
    good = [parse_function_spec(colony.spec(args=[i])) for i in range(4)]
    bad = parse_function_spec(colony.spec())
    bad["conditions"]["colonyid"] = "0" * 64  # no such colony: the row breaks its foreign key
    before = ctx.batches.submit.batches
    results = await asyncio.gather(
        *(processes.submit(ctx, spec) for spec in [*good[:2], bad, *good[2:]]),
        return_exceptions=True,
    )
    assert ctx.batches.submit.batches == before + 1  # one batch for the five
    assert isinstance(results[2], Exception) and "foreign key" in str(results[2])
    stored = await colony.owner.rpc("getprocessesmsg", colonyid=colony.colonyid, state=0, count=100)
    assert sorted(p["spec"]["args"][0] for p in stored) == [0, 1, 2, 3]
    for result in (*results[:2], *results[3:]):
        assert isinstance(result, dict)
        assert result["processid"] in {p["processid"] for p in stored}


async def test_concurrent_closes_each_get_their_own_answer(colony: ColonyEnv) -> None:
    ctx = ctx_of(colony)
    executor, stranger = colony.executor, await colony.new_executor()
    await submit_all(colony, [colony.spec(args=[i]) for i in range(4)])
    running = [await executor.assign(colony.colonyid, 1) for _ in range(4)]
    ids = [p["processid"] for p in running]
    before = ctx.batches.close.batches
    results = await asyncio.gather(
        processes.close(ctx, executor.id, ids[0], output=["a"]),
        processes.close(ctx, stranger.id, ids[1], output=["stolen"]),  # not its process
        processes.close(ctx, executor.id, ids[2], errors=["broken"]),
        processes.close(ctx, executor.id, ids[0], output=["twice"]),  # already closed
        processes.close(ctx, executor.id, ids[3], output=["d"]),
        return_exceptions=True,
    )
    assert ctx.batches.close.batches == before + 1
    assert results[0] is None and results[2] is None and results[4] is None
    assert isinstance(results[1], Forbidden)
    assert isinstance(results[3], BadRequest) and "not running" in results[3].message
    states = [(await executor.get_process(p))["state"] for p in ids]
    assert states == [2, 1, 3, 2]
    assert (await executor.get_process(ids[0]))["out"] == ["a"]
    assert (await executor.get_process(ids[2]))["errors"] == ["broken"]


async def test_closes_in_one_batch_all_count_in_the_function_statistics(
    colony: ColonyEnv,
) -> None:
    ctx = ctx_of(colony)
    executor = colony.executor
    await executor.add_function(colony.colonyid, "echo")
    await submit_all(colony, [colony.spec("echo") for _ in range(3)])
    ids = [(await executor.assign(colony.colonyid, 1))["processid"] for _ in range(3)]
    await asyncio.gather(*(processes.close(ctx, executor.id, p, output=[]) for p in ids))
    (function,) = await executor.get_functions(executor=executor.id)
    assert function["counter"] == 3


async def test_a_batched_claim_hands_out_in_priority_order(colony: ColonyEnv) -> None:
    ctx = ctx_of(colony)
    priorities = [1, 5, 3, 9, 7, 0]
    ids = await submit_all(colony, [colony.spec(priority=p) for p in priorities])
    by_priority = [pid for _, pid in sorted(zip(priorities, ids, strict=True), reverse=True)]
    executors = [await colony.new_executor() for _ in range(4)]
    key = ClaimKey(colony.colonyid, colony.executortype, ctx.leadership.epoch)
    results = await claim_batch(ctx, key, [Waiter(e.id, None) for e in executors])
    claimed = [r["processid"] for r in results if r]
    assert claimed == by_priority[:4]  # the best to the first waiter, and so on
    for result, executor in zip(results, executors, strict=True):
        assert isinstance(result, dict) and result["assignedexecutorid"] == executor.id
    # Through the API, concurrent assigns get the next best ones, each one once.
    rest = await asyncio.gather(*(e.assign(colony.colonyid, 1) for e in executors[:2]))
    assert sorted(p["processid"] for p in rest) == sorted(by_priority[4:])


async def test_a_batched_claim_keeps_each_waiters_executor_condition(colony: ColonyEnv) -> None:
    ctx = ctx_of(colony)
    a, b = colony.executor, await colony.new_executor()
    only_a = await submit_all(
        colony, [restricted(colony, a.id, priority=9), restricted(colony, a.id, priority=8)]
    )
    (anyone,) = await submit_all(colony, [colony.spec(priority=1)])
    key = ClaimKey(colony.colonyid, colony.executortype, ctx.leadership.epoch)
    # The two best are a's alone: b, first in line, is passed over by them, and the claim
    # looks further (the candidates filled its limit) for one b may take.
    results = await claim_batch(ctx, key, [Waiter(b.id, None), Waiter(a.id, None)])
    assert [r["processid"] for r in results if r] == [anyone, only_a[0]]
    assert (await a.assign(colony.colonyid, 1))["processid"] == only_a[1]
    with pytest.raises(ColoniesError) as nothing:
        await b.assign(colony.colonyid, 1)
    assert nothing.value.status == 404


async def test_relayed_attempts_in_one_batch_share_one_claim(colony: ColonyEnv) -> None:
    ctx = ctx_of(colony)
    e, other = colony.executor, await colony.new_executor()
    ids = await submit_all(colony, [colony.spec(priority=p) for p in (3, 2, 1)])
    key = ClaimKey(colony.colonyid, colony.executortype, ctx.leadership.epoch)
    waiters = [Waiter(e.id, "receipt-x"), Waiter(other.id, None), Waiter(e.id, "receipt-x")]
    results = await claim_batch(ctx, key, waiters)
    assert [r["processid"] for r in results if r] == [ids[0], ids[1], ids[0]]
    # A later attempt under the receipt is answered with the same claim, in a batch too.
    again = await claim_batch(ctx, key, [Waiter(other.id, None), Waiter(e.id, "receipt-x")])
    assert [r["processid"] for r in again if r] == [ids[2], ids[0]]


@pytest.mark.parametrize("waiting", [1, 3])
async def test_a_deposed_leaders_whole_batch_is_refused(
    colony: ColonyEnv, database_url: str, waiting: int
) -> None:
    ctx = ctx_of(colony)
    ids = await submit_all(colony, [colony.spec() for _ in range(3)])
    executors = [await colony.new_executor() for _ in range(waiting)]
    old_epoch = ctx.leadership.epoch
    successor = Database(database_url)
    await successor.open()
    try:
        await successor.bump_epoch("successor", term=7)
    finally:
        await successor.close()
    key = ClaimKey(colony.colonyid, colony.executortype, old_epoch)
    before = ctx.batches.claim.batches
    results = await asyncio.gather(
        *(
            ctx.batches.claim.run(key, Waiter(e.id, None), partial(claim_batch, ctx))
            for e in executors
        ),
        return_exceptions=True,
    )
    assert ctx.batches.claim.batches == before + 1
    assert all(isinstance(r, NotLeader) for r in results), results
    states = [(await colony.executor.get_process(p))["state"] for p in ids]
    assert states == [0, 0, 0]


async def test_many_executors_never_get_one_process_twice(colony: ColonyEnv) -> None:
    total = 300
    executors = [await colony.new_executor() for _ in range(40)]
    chosen = executors[:3]
    specs = [
        restricted(colony, chosen[i % 3].id) if i % 5 == 0 else colony.spec(priority=i % 7)
        for i in range(total)
    ]
    await asyncio.gather(*(colony.executor.submit(s) for s in specs))
    handed_out: Counter[str] = Counter()

    def allowed(executor: ColoniesClient, process: dict[str, Any]) -> None:
        condition = process["spec"]["conditions"]["executorids"]
        assert not condition or executor.id in condition

    await asyncio.gather(*(drain(e, colony.colonyid, handed_out, allowed) for e in executors))
    assert len(handed_out) == total
    assert set(handed_out.values()) == {1}
    assert ctx_of(colony).batches.claim.items > ctx_of(colony).batches.claim.batches


@pytest.mark.parametrize("count", [1, 3])
async def test_assign_through_the_service_batches_and_replies_per_waiter(
    colony: ColonyEnv, count: int
) -> None:
    ctx = ctx_of(colony)
    await submit_all(colony, [colony.spec() for _ in range(count)])
    executors = [await colony.new_executor() for _ in range(count)]
    members = [Member(e.id, colony.colonyid, colony.executortype) for e in executors]
    got = await asyncio.gather(*(processes.assign(ctx, m, 1) for m in members))
    assert len({p["processid"] for p in got}) == count
    assert [p["assignedexecutorid"] for p in got] == [e.id for e in executors]


async def test_new_process_rows_round_trip_through_the_batch_insert(colony: ColonyEnv) -> None:
    """Every column a submit stores survives the JSON batch (timestamps, big ints, arrays)."""
    ctx = ctx_of(colony)
    spec = parse_function_spec(colony.spec(priority=-5, maxwaittime=30, args=["x", 1]))
    spec["conditions"]["executorids"] = [colony.executor.id]
    rows = [new_process(spec), new_process(spec)]
    await processes.batches.submit_batch(ctx, None, rows)
    for row in rows:
        stored = await colony.executor.get_process(row["processid"])
        assert stored["spec"]["args"] == ["x", 1]
        assert stored["spec"]["conditions"]["executorids"] == [colony.executor.id]
        assert stored["prioritytime"] == row["prioritytime"]
        assert stored["waitdeadline"] != stored["submissiontime"]


async def test_each_claim_of_a_batch_is_announced(colony: ColonyEnv, database_url: str) -> None:
    """The claim statement announces every claimed process (streams of running processes,
    on every replica, hear of it at commit), in one NOTIFY listing the batch's claims."""
    ctx = ctx_of(colony)
    ids = await submit_all(colony, [colony.spec() for _ in range(2)])
    executors = [await colony.new_executor() for _ in range(2)]
    listener = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    async with listener:
        await listener.execute("LISTEN colonies_ha")
        key = ClaimKey(colony.colonyid, colony.executortype, ctx.leadership.epoch)
        await claim_batch(ctx, key, [Waiter(e.id, None) for e in executors])
        heard = []
        async for note in listener.notifies(timeout=5, stop_after=1):
            heard.append(json.loads(note.payload))
    # One NOTIFY for the batch, listing both claims.
    assert len(heard) == 1 and isinstance(heard[0], list)
    assert sorted(e["processid"] for e in heard[0]) == sorted(ids)
    assert {e["state"] for e in heard[0]} == {1}
