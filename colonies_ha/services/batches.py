"""The batches the coalescers run: many submits, closes or claims in one statement each.

Every batch keeps the guarantees of the one-request path: a claim runs in one fenced
transaction (a deposed leader's whole batch is refused), holds the relayed receipts' locks
and hands out an earlier attempt's claim again; a close is the same compare-and-set per
row; and each request gets its own result or error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import psycopg

from colonies_ha.domain.matching import pair_claims
from colonies_ha.services.context import Context
from colonies_ha.store import batching, repo
from colonies_ha.store.db import Conn

Row = dict[str, Any]


# -- membership checks -------------------------------------------------------------------


async def executor_batch(ctx: Context, _key: None, executorids: list[str]) -> list[Row | None]:
    """The executor rows of several requests' callers, in one statement."""
    async with ctx.db.connection() as conn:
        found = await batching.executors_by_id(conn, sorted(set(executorids)))
    return [found.get(executorid) for executorid in executorids]


# -- submit ------------------------------------------------------------------------------


async def submit_batch(ctx: Context, _key: None, processes: list[Row]) -> list[Any]:
    """Store plain processes (no ENV attributes), each with its NOTIFY."""
    if len(processes) > 1:
        try:
            async with ctx.db.connection() as conn:
                await batching.submit_processes(conn, processes)
            return [None] * len(processes)
        except psycopg.Error:
            pass  # one of them (or the connection) failed: one by one, for each one's error
    results: list[Any] = []
    for process in processes:
        try:
            async with ctx.db.connection() as conn:
                await repo.submit_process(conn, process)
            results.append(None)
        except Exception as exc:
            results.append(exc)
    return results


# -- close -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloseRequest:
    processid: str
    executorid: str
    state: int  # ProcessState.SUCCESSFUL or FAILED
    output: list[Any] | None
    errors: list[str] | None


async def close_batch(ctx: Context, _key: None, closes: list[CloseRequest]) -> list[bool]:
    """Close what the compare-and-set allows; False sends a request the one-by-one way
    (a graph member, a refusal to explain, a second close of one process, a failed batch)."""
    first: dict[str, int] = {}
    for index, close in enumerate(closes):
        first.setdefault(close.processid, index)
    rows = [
        {
            "processid": closes[i].processid,
            "executorid": closes[i].executorid,
            "state": closes[i].state,
            "output": closes[i].output or [],
            "errors": closes[i].errors or [],
        }
        for i in first.values()
    ]
    try:
        async with ctx.db.connection() as conn:
            closed = await batching.close_processes(conn, rows)
    except psycopg.Error:
        closed = set()
    return [c.processid in closed and first[c.processid] == i for i, c in enumerate(closes)]


# -- claim -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimKey:
    """Claims that can share a statement: one colony, one executor type, one fencing epoch."""

    colonyid: str
    executortype: str
    epoch: int | None


@dataclass(frozen=True, slots=True)
class Waiter:
    executorid: str
    receipt: str | None  # set for an assign a follower relayed


class Again:
    """A waiter left without a process by a batch that may have left some behind."""

    def __repr__(self) -> str:
        return "AGAIN"


AGAIN: Final = Again()
ClaimResult = Row | None | Again


async def claim_batch(ctx: Context, key: ClaimKey, waiters: list[Waiter]) -> list[ClaimResult]:
    """One fenced transaction for all `waiters`: a process each while there are some.

    None: nothing a waiter may take is free; AGAIN: the batch found as many candidates as
    it had waiters but could not pair this one (their executorids conditions), so there
    may be more beyond: ask again at once.  NotLeader from the fence reaches every waiter.
    """
    if len(waiters) == 1:
        return [await _claim_one(ctx, key, waiters[0])]
    receipts = sorted({w.receipt for w in waiters if w.receipt})
    async with ctx.db.fenced_transaction(key.epoch, serialize_on=receipts) as conn:
        results: list[ClaimResult] = [None] * len(waiters)
        earlier = await _earlier_claims(ctx, conn, receipts)
        first_attempt: dict[str, int] = {}
        open_waiters: list[int] = []
        for index, waiter in enumerate(waiters):
            if waiter.receipt:
                row = earlier.get(waiter.receipt)
                if row is not None and row["assignedexecutorid"] == waiter.executorid:
                    results[index] = row
                    continue
                if first_attempt.setdefault(waiter.receipt, index) != index:
                    continue  # two attempts of one request: one claim, shared below
            open_waiters.append(index)
        if open_waiters:
            await _claim_for(conn, key, waiters, open_waiters, results)
    for index, waiter in enumerate(waiters):
        if waiter.receipt and first_attempt.get(waiter.receipt, index) != index:
            results[index] = results[first_attempt[waiter.receipt]]
    return results


async def _claim_for(
    conn: Conn,
    key: ClaimKey,
    waiters: list[Waiter],
    open_waiters: list[int],
    results: list[ClaimResult],
) -> None:
    executorids = [waiters[i].executorid for i in open_waiters]
    candidates = await batching.lock_claim_candidates(
        conn, key.colonyid, key.executortype, executorids, len(open_waiters)
    )
    paired = pair_claims([(c["processid"], c["executorids"]) for c in candidates], executorids)
    claimed: dict[str, Row] = {}
    if paired:
        picks = [
            {
                "processid": processid,
                "executorid": executorids[j],
                "receipt": waiters[open_waiters[j]].receipt,
            }
            for j, processid in paired.items()
        ]
        claimed = {row["processid"]: row for row in await batching.claim_processes(conn, picks)}
    maybe_more = len(candidates) == len(open_waiters)
    for j, index in enumerate(open_waiters):
        row = claimed.get(paired[j]) if j in paired else None
        results[index] = row if row is not None else AGAIN if maybe_more else None


async def _claim_one(ctx: Context, key: ClaimKey, waiter: Waiter) -> Row | None:
    """A lone waiter: the claim statement of the unbatched path, one round trip."""
    async with ctx.db.fenced_transaction(key.epoch, serialize_on=waiter.receipt) as conn:
        if waiter.receipt is not None:
            row = await repo.one(
                conn,
                "process_by_receipt",
                {"receipt": waiter.receipt, "executorid": waiter.executorid},
            )
            if row is not None:
                ctx.metrics.forwarded.labels("redelivered").inc()
                return row
        # The claim statement also queues the NOTIFY.
        return await repo.one(
            conn,
            "assign_process",
            {
                "executorid": waiter.executorid,
                "colonyid": key.colonyid,
                "executortype": key.executortype,
                "receipt": waiter.receipt,
            },
        )


async def _earlier_claims(ctx: Context, conn: Conn, receipts: list[str]) -> dict[str, Row]:
    """The claims earlier attempts of these relayed requests committed, by receipt (read
    under the receipts' locks, so no attempt of them is in flight)."""
    if not receipts:
        return {}
    rows = await batching.processes_by_receipts(conn, receipts)
    for _ in rows:
        ctx.metrics.forwarded.labels("redelivered").inc()
    return {row["assign_receipt"]: row for row in rows}
