"""The aiohttp application: /api dispatch, /health, /ready, and the replica's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import replace
from functools import partial
from typing import Any

from aiohttp import web

# Handler modules register their routes on import.
from colonies_ha.api import (  # noqa: F401
    handlers_blueprints,
    handlers_channels,
    handlers_cluster,
    handlers_colonies,
    handlers_files,
    handlers_processes,
    handlers_schedules,
    handlers_workflows,
)
from colonies_ha.api.channel import add_channel, channel_max_message
from colonies_ha.api.dashboard import add_dashboard
from colonies_ha.api.dispatch import ROUTES, Route
from colonies_ha.api.forward import UNAVAILABLE_HEADER, Forwarder, relay_of
from colonies_ha.api.local import add_local_routes
from colonies_ha.api.metrics_endpoint import add_metrics
from colonies_ha.api.pubsub import add_pubsub
from colonies_ha.domain.errors import (
    BadRequest,
    ColoniesError,
    DatabaseUnavailable,
    NotLeader,
    PayloadTooLarge,
)
from colonies_ha.protocol.envelope import (
    Relay,
    SignedRequest,
    decode_request,
    encode_error,
    encode_reply,
)
from colonies_ha.services.context import Context
from colonies_ha.store.db import BOUNDS, UNAVAILABLE_ERRORS, bounded

log = logging.getLogger(__name__)

CONTEXT = web.AppKey("context", Context)
MAX_BODY = web.AppKey("max_body", int)
FORWARDER = web.AppKey("forwarder", Forwarder)


READ_RETRY_PAUSE = 0.2  # a read that met a dead connection is tried once more after this


def _error_response(error: ColoniesError) -> web.Response:
    headers = {}
    if error.status == 503:  # worth retrying: say when (RFC 9110 Retry-After, seconds)
        retry_after = error.retry_after if isinstance(error, DatabaseUnavailable) else 1
        headers["Retry-After"] = str(retry_after)
        if isinstance(error, DatabaseUnavailable):
            headers[UNAVAILABLE_HEADER] = "database"
    return web.Response(
        status=error.status,
        body=encode_error(error),
        content_type="application/json",
        headers=headers,
    )


async def _read_body(request: web.Request) -> bytes:
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"the request body of {request.content_length} bytes exceeds the limit of {limit}"
        )
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes") from exc


async def handle_api(request: web.Request) -> web.Response:
    try:
        body, relay = await _read_body(request), relay_of(request.headers)
    except ColoniesError as error:
        ctx = request.app[CONTEXT]
        ctx.metrics.requests.labels("invalid", str(error.status)).inc()
        return _error_response(error)
    return await respond(request.app, body, relay)


async def respond(app: web.Application, body: bytes, relay: Relay | None) -> web.Response:
    """The reply to one signed request, from a client or relayed by a follower (`relay`)."""
    ctx = app[CONTEXT]
    started = time.perf_counter()
    label = "invalid"  # until the envelope decodes; only known types become labels
    try:
        req = decode_request(body)
        route = ROUTES.get(req.msgtype)
        if route is None:
            raise BadRequest(f"unknown message type '{req.msgtype}'")
        label = req.msgtype
        work = _serve(app, route, req, relay)
        response = await bounded(work, _budget(route, req), req.msgtype)
    except ColoniesError as error:
        response = _error_response(error)
    except Exception:
        log.exception("internal error while serving a request")
        response = _error_response(ColoniesError("internal server error; see the server log"))
    ctx.metrics.requests.labels(label, str(response.status)).inc()
    ctx.metrics.request_seconds.labels(label).observe(time.perf_counter() - started)
    return response


async def _respond_to_relay(
    app: web.Application, body: bytes, relay: Relay
) -> tuple[int, bool, bytes]:
    """A request that came over a relay channel: what /api would answer, for its frame."""
    response = await respond(app, body, relay)
    payload = response.body
    assert isinstance(payload, bytes)
    return response.status, UNAVAILABLE_HEADER in response.headers, payload


def _budget(route: Route, req: SignedRequest) -> float:
    """How long the request may take in all: a long poll gets its own wait on top."""
    if not route.leader_only:
        return BOUNDS.request
    return _long_poll_seconds(req) + BOUNDS.long_poll_extra


def _long_poll_seconds(req: SignedRequest) -> float:
    wait = req.msg.get("timeout")
    return float(wait) if isinstance(wait, int | float) and wait > 0 else 0.0


async def _serve(
    app: web.Application, route: Route, req: SignedRequest, relay: Relay | None
) -> web.Response:
    if route.leader_only:
        return await _serve_leader_only(app, route, req, relay)
    ctx = app[CONTEXT]
    if not route.retry_safe:
        return _reply(req, await route.handler(ctx, req))
    try:
        return _reply(req, await route.handler(ctx, req))
    except UNAVAILABLE_ERRORS as exc:
        # A read changes nothing, so a second try (on a fresh connection, maybe the new
        # primary's) is safe; writes are not retried here: the client decides.
        log.info("%s met an unavailable database (%s); trying once more", req.msgtype, exc)
        await asyncio.sleep(READ_RETRY_PAUSE)
        return _reply(req, await route.handler(ctx, req))


def _reply(req: SignedRequest, value: Any) -> web.Response:
    return web.Response(body=encode_reply(req.msgtype, value), content_type="application/json")


async def _serve_leader_only(
    app: web.Application, route: Route, req: SignedRequest, relay: Relay | None
) -> web.Response:
    """Serve here while leading; otherwise (or once the fence says we lost) forward."""
    ctx = app[CONTEXT]
    if relay is not None:
        # Relayed by a follower: serve it under the epoch it saw, or say we do not lead; the
        # follower retries elsewhere.  Never relay it a second time.
        if ctx.leadership.epoch is None:
            raise NotLeader("this replica no longer leads; ask the new leader")
        return _reply(req, await route.handler(ctx, replace(req, relay=relay)))
    while True:
        if ctx.leadership.epoch is not None:
            with contextlib.suppress(NotLeader):
                return _reply(req, await route.handler(ctx, req))
        response = await app[FORWARDER].forward(req, _long_poll_seconds(req))
        if response is not None:
            return response


async def handle_health(request: web.Request) -> web.Response:
    # The pid tells which process of a replica with --workers answered (SO_REUSEPORT).
    return web.json_response({"status": "ok", "pid": os.getpid()})


async def handle_ready(request: web.Request) -> web.Response:
    """200 only when a write commits within its bound and a leader is known.

    A write, not a `SELECT 1`: a primary waiting for a synchronous standby that is gone
    answers queries but commits nothing, and every write request would hang on it.
    """
    ctx = request.app[CONTEXT]
    problems: list[str] = []
    try:
        await ctx.db.probe_write(ctx.node_name)
    except ColoniesError as exc:
        problems.append(exc.message)
    except Exception as exc:
        problems.append(f"database unavailable: {exc}")
    if ctx.leadership.status().get("leader") is None:
        problems.append("no leader known")
    body: dict[str, Any] = {"ready": not problems, "problems": problems}
    return web.json_response(body, status=200 if not problems else 503)


def build_app(ctx: Context, *, max_body_bytes: int) -> web.Application:
    # aiohttp's own limit sits just above ours so that we, not it, word the 413.
    app = web.Application(client_max_size=max_body_bytes + 1)
    app[CONTEXT] = ctx
    app[MAX_BODY] = max_body_bytes
    app[FORWARDER] = Forwarder(ctx)

    async def close_forwarder(app: web.Application) -> None:
        await app[FORWARDER].close()

    app.on_cleanup.append(close_forwarder)
    app.router.add_post("/api", handle_api)
    add_channel(app, partial(_respond_to_relay, app), channel_max_message(max_body_bytes))
    app.router.add_get("/health", handle_health)
    app.router.add_get("/ready", handle_ready)
    add_pubsub(app, ctx)
    add_metrics(app, ctx)
    add_dashboard(app)  # static page; it signs in the browser
    add_local_routes(app, ctx)  # loopback only: the preStop hook's handover
    return app
