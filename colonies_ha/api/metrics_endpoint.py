"""GET /metrics: the replica's Prometheus metrics.

Unauthenticated, as Prometheus expects; it exposes counts and ids, never keys or payloads.
Restrict it at the network level if colony ids are sensitive.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from colonies_ha.domain.states import ProcessState
from colonies_ha.observability.metrics import Snapshot
from colonies_ha.services.context import Context
from colonies_ha.store import repo


async def take_snapshot(ctx: Context) -> Snapshot:
    status = ctx.leadership.status()
    async with ctx.db.connection() as conn:
        queue = await repo.all_rows(conn, "queue_depth")
        leader = await repo.one(conn, "get_leader")
    stats = ctx.db.pool.get_stats()
    return Snapshot(
        leader=ctx.leadership.epoch is not None,
        term=int(status.get("term") or 0),
        epoch=int(leader["epoch"]) if leader else 0,
        pool={k: int(v) for k, v in stats.items()},
        queue=[
            {**row, "state": ProcessState(row["state"]).name.lower(), "count": int(row["count"])}
            for row in queue
        ],
    )


def add_metrics(app: web.Application, ctx: Context) -> None:
    async def handle_metrics(request: web.Request) -> web.Response:
        ctx.metrics.snapshot = await take_snapshot(ctx)
        body = generate_latest(ctx.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", handle_metrics)
