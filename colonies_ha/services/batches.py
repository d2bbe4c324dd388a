"""The batches the coalescers run: many submits, closes or claims in one statement each.

Every batch keeps the guarantees of the one-request path: a claim runs in one fenced
transaction (a deposed leader's whole batch is refused), holds the relayed receipts' locks
and hands out an earlier attempt's claim again; a close is the same compare-and-set per
row; and each request gets its own result or error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from colonies_ha.domain.errors import NotLeader
from colonies_ha.services.context import Context
from colonies_ha.store import batching, repo

Row = dict[str, Any]


# SQLSTATE classes an error of one row (or a clash with another writer) raises: bad data,
# a broken constraint, a deadlock or serialization failure.  After those a batch is worth
# redoing one request at a time; after anything else (the connection, the pool, a timeout)
# every request would only fail again, one wait after the other, so all get the error.
_ONE_ROW_MAY_BE_AT_FAULT = ("22", "23", "40")


def redo_one_by_one(exc: psycopg.Error) -> bool:
    return (exc.sqlstate or "")[:2] in _ONE_ROW_MAY_BE_AT_FAULT


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
        except psycopg.Error as exc:
            if not redo_one_by_one(exc):
                raise
            # One of them failed the statement: one by one, for each one's own error.
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
    (a graph member, a refusal to explain, a second close of one process, a batch that one
    row failed)."""
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
    except psycopg.Error as exc:
        if not redo_one_by_one(exc):
            raise
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


async def claim_batch(ctx: Context, key: ClaimKey, waiters: list[Waiter]) -> list[Row | None]:
    """One statement for all `waiters` (store function claim_for_waiters): a process each
    while there are some, None for the others; NotLeader reaches every waiter.

    Rows come back marked by (assignee, receipt): a receipt's claim goes to every attempt
    under it, a direct claim to the next waiter of that executor.
    """
    if key.epoch is None:
        raise NotLeader("this replica is not the leader")
    async with ctx.db.connection() as conn:
        rows = await batching.claim_for_waiters(
            conn,
            key.epoch,
            key.colonyid,
            key.executortype,
            [(w.executorid, w.receipt) for w in waiters],
        )
    by_receipt: dict[str, Row] = {}
    direct: dict[str, list[Row]] = {}
    for row in rows:
        if row.pop("redelivered"):
            ctx.metrics.forwarded.labels("redelivered").inc()
        if row["assign_receipt"] is not None:
            by_receipt[row["assign_receipt"]] = row
        else:
            direct.setdefault(row["assignedexecutorid"], []).append(row)
    results: list[Row | None] = []
    for waiter in waiters:
        if waiter.receipt is not None:
            row = by_receipt.get(waiter.receipt)
            results.append(row if row and row["assignedexecutorid"] == waiter.executorid else None)
        else:
            mine = direct.get(waiter.executorid)
            results.append(mine.pop(0) if mine else None)
    return results
