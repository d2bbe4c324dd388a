"""GET /metrics: the replica's Prometheus metrics.

Unauthenticated, as Prometheus expects; it exposes counts and ids, never keys or payloads.
Restrict it at the network level if colony ids are sensitive.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
import psycopg_pool
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from colonies_ha.domain.states import ProcessState
from colonies_ha.observability.metrics import Snapshot
from colonies_ha.services.context import Context
from colonies_ha.store import repo

log = logging.getLogger(__name__)


DATABASE_READ_SECONDS = 2.0  # a scrape answers even when the database does not


async def take_snapshot(ctx: Context, previous: Snapshot) -> Snapshot:
    """This replica's own state always; the database's part when it answers in time (else
    the last epoch read, no queue rows, and colonies_metrics_database_up 0)."""
    status = ctx.leadership.status()
    snapshot = Snapshot(
        leader=ctx.leadership.epoch is not None,
        term=int(status.get("term") or 0),
        epoch=previous.epoch,
        pool={k: int(v) for k, v in ctx.db.pool.get_stats().items()},
        database_up=False,
        batches=ctx.batches.counts(),
    )
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


def add_metrics(app: web.Application, ctx: Context) -> None:
    async def handle_metrics(request: web.Request) -> web.Response:
        ctx.metrics.snapshot = await take_snapshot(ctx, ctx.metrics.snapshot)
        body = generate_latest(ctx.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", handle_metrics)
