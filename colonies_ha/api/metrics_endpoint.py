"""GET /metrics: the replica's Prometheus metrics (all its processes', with `--workers`).

Unauthenticated, as Prometheus expects; it exposes counts and ids, never keys or payloads.
Restrict it at the network level if colony ids are sensitive.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import psycopg
import psycopg_pool
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from colonies_ha.domain.states import ProcessState
from colonies_ha.observability.metrics import Snapshot
from colonies_ha.services.context import Context
from colonies_ha.store import repo

log = logging.getLogger(__name__)


DATABASE_READ_SECONDS = 2.0  # a scrape answers even when the database does not
PRIMARY_ANSWER_SECONDS = 3.0  # a worker's scrape, answered by its primary (it reads 2 s)


def local_snapshot(ctx: Context, previous: Snapshot) -> Snapshot:
    """What this process knows without asking the database (the last epoch read stays)."""
    status = ctx.leadership.status()
    return Snapshot(
        leader=ctx.leadership.epoch is not None,
        term=int(status.get("term") or 0),
        epoch=previous.epoch,
        pool={k: int(v) for k, v in ctx.db.pool.get_stats().items()},
        database_up=False,
        batches=ctx.batches.counts(),
    )


async def take_snapshot(ctx: Context, previous: Snapshot) -> Snapshot:
    """This replica's own state always; the database's part when it answers in time (else
    the last epoch read, no queue rows, and colonies_metrics_database_up 0)."""
    snapshot = local_snapshot(ctx, previous)
    try:
        async with asyncio.timeout(DATABASE_READ_SECONDS), ctx.db.connection() as conn:
            queue = await repo.all_rows(conn, "queue_depth")
            leader = await repo.one(conn, "get_leader")
    except (psycopg.Error, psycopg_pool.PoolTimeout, TimeoutError, OSError) as exc:
        log.warning("/metrics could not read the database: %r", exc)
        return snapshot
    snapshot.database_up = True
    snapshot.epoch = int(leader["epoch"]) if leader else 0
    snapshot.queue = [
        {**row, "state": ProcessState(row["state"]).name.lower(), "count": int(row["count"])}
        for row in queue
    ]
    return snapshot


async def _from_primary(primary_url: str) -> bytes | None:
    """The replica's merged exposition, from the primary (None if it does not answer)."""
    timeout = aiohttp.ClientTimeout(total=PRIMARY_ANSWER_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{primary_url}/metrics") as reply,
        ):
            if reply.status == 200:
                return await reply.read()
            log.warning("/metrics: the primary answered %d", reply.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("/metrics: the primary did not answer (%r); answering for this worker", exc)
    return None


def add_metrics(app: web.Application, ctx: Context) -> None:
    async def handle_metrics(request: web.Request) -> web.Response:
        metrics = ctx.metrics
        body = await _from_primary(metrics.primary_url) if metrics.primary_url else None
        if body is None:
            metrics.snapshot = await take_snapshot(ctx, metrics.snapshot)
            body = metrics.render_replica()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", handle_metrics)
