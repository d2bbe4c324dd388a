"""`GET /pubsub`: WebSocket subscriptions to process state changes.

The client sends one signed envelope as a text frame (`subscribeprocessmsg` or
`subscribeprocessesmsg`); the server pushes reply envelopes and closes the socket when the
subscription's `timeout` passes.  Events come from the EventHub, i.e. Postgres
LISTEN/NOTIFY, so a change committed through any replica reaches subscribers on every
replica.  An event carries no process object, so each push re-reads the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web

from colonies_ha.api.handlers_channels import SUBSCRIBE_CHANNEL, follow_channel
from colonies_ha.api.websockets import add_websocket_route
from colonies_ha.cluster.events import RESYNC_SINCE, SAFETY_RECHECK_SECONDS
from colonies_ha.domain.errors import BadRequest, ColoniesError
from colonies_ha.domain.states import ProcessState
from colonies_ha.domain.validation import get_int, get_state, get_str, optional_id, require_id
from colonies_ha.protocol.envelope import (
    SignedRequest,
    decode_request,
    encode_error,
    encode_reply,
)
from colonies_ha.protocol.objects import process_json
from colonies_ha.services import auth
from colonies_ha.services.context import Context
from colonies_ha.services.processes import get_process
from colonies_ha.store import repo
from colonies_ha.store.db import UNAVAILABLE_ERRORS, unavailable

log = logging.getLogger(__name__)

Json = dict[str, Any]
Events = asyncio.Queue[Json]

SUBSCRIBE_PROCESS = "subscribeprocessmsg"
SUBSCRIBE_PROCESSES = "subscribeprocessesmsg"
MAX_TIMEOUT_SECONDS = 3600  # longer requests are shortened: no socket lingers for days
FIRST_FRAME_SECONDS = 30.0  # a client that connects but never subscribes is dropped
MAX_FRAME_BYTES = 64 * 1024
CLOSE_SECONDS = 5.0  # how long a close waits for the client's close frame
HEARTBEAT_SECONDS = 30.0  # pings find clients that vanished without closing the TCP connection
RESYNC_LIMIT = 10_000  # processes a stream re-sends after its replica's listener reconnects
FINISHED = frozenset({ProcessState.SUCCESSFUL, ProcessState.FAILED})


@dataclass(frozen=True, slots=True)
class Subscription:
    msgtype: str
    caller_id: str
    state: int
    timeout: int
    executortype: str
    processid: str = ""  # subscribeprocessmsg only
    colonyid: str = ""  # as given; subscribeprocessmsg derives it from the process
    colonyname: str = ""  # the newest generation names the colony instead


def add_pubsub(app: web.Application, ctx: Context) -> None:
    """Route /pubsub."""
    add_websocket_route(
        app,
        "/pubsub",
        partial(_serve, ctx),
        max_msg_size=MAX_FRAME_BYTES,
        heartbeat=HEARTBEAT_SECONDS,
        close_timeout=CLOSE_SECONDS,
    )


async def _serve(ctx: Context, ws: web.WebSocketResponse) -> None:
    try:
        req = decode_request(await _first_frame(ws))
        if req.msgtype == SUBSCRIBE_CHANNEL:
            await _until_done(ws, MAX_TIMEOUT_SECONDS, follow_channel(ctx, ws, req))
            return
        sub = parse_subscription(req)
        # Subscribe before the first read, so no change can slip in between.
        with ctx.events.subscribe() as events:
            if sub.msgtype == SUBSCRIBE_PROCESS:
                row = await _authorised_process(ctx, sub)
                await _until_done(ws, sub.timeout, _watch_process(ctx, ws, sub, events, row))
            else:
                colonyid = await _authorised_colony(ctx, sub)
                await _until_done(ws, sub.timeout, _stream(ctx, ws, sub, colonyid, events))
    except ColoniesError as error:
        await _send_quietly(ws, encode_error(error))
    except TimeoutError:
        log.debug("a /pubsub client sent no subscription within %s s", FIRST_FRAME_SECONDS)
    except ConnectionError:
        log.debug("a /pubsub client went away while a frame was being sent")
    except UNAVAILABLE_ERRORS as exc:  # the stream ends with the 503 an RPC would get
        await _send_quietly(ws, encode_error(unavailable(exc)))
    except Exception:
        log.exception("internal error while serving a /pubsub subscription")
        await _send_quietly(ws, encode_error(ColoniesError("internal server error; see the log")))


async def _first_frame(ws: web.WebSocketResponse) -> bytes:
    frame = await ws.receive(timeout=FIRST_FRAME_SECONDS)
    if frame.type == WSMsgType.TEXT:
        return str(frame.data).encode()
    if frame.type == WSMsgType.BINARY:
        return bytes(frame.data)
    raise BadRequest("the WebSocket closed before a subscription message arrived")


def parse_subscription(req: SignedRequest) -> Subscription:
    """Read the fields of a verified envelope; any fault is a ColoniesError for the client."""
    if req.msgtype not in (SUBSCRIBE_PROCESS, SUBSCRIBE_PROCESSES):
        raise BadRequest(
            f"/pubsub accepts only {SUBSCRIBE_PROCESS}, {SUBSCRIBE_PROCESSES} or "
            f"{SUBSCRIBE_CHANNEL}, not '{req.msgtype}'"
        )
    msg = req.msg
    timeout = get_int(msg, "timeout")
    if timeout < 1:
        raise BadRequest("the field 'timeout' must be at least 1 second")
    return Subscription(
        msgtype=req.msgtype,
        caller_id=req.caller_id,
        state=get_state(msg),
        timeout=min(timeout, MAX_TIMEOUT_SECONDS),
        executortype=get_str(msg, "executortype"),
        processid=require_id(msg, "processid") if req.msgtype == SUBSCRIBE_PROCESS else "",
        colonyid=optional_id(msg, "colonyid"),
        colonyname=get_str(msg, "colonyname"),
    )


async def _authorised_process(ctx: Context, sub: Subscription) -> Json:
    """The process (404 if unknown); the caller must be a member of the process's colony."""
    async with ctx.db.connection() as conn:
        row = await get_process(conn, sub.processid)
        await auth.require_member_by_id(conn, sub.caller_id, row["colonyid"])
    return row


async def _authorised_colony(ctx: Context, sub: Subscription) -> str:
    """The colony named in the message, else the caller's own; a member or its owner."""
    async with ctx.db.connection() as conn:
        if sub.colonyname:
            member = await auth.require_membership(conn, sub.caller_id, sub.colonyname)
            return member.colonyid
        return await auth.require_own_colony_member_or_owner(conn, sub.caller_id, sub.colonyid)


async def _until_done(
    ws: web.WebSocketResponse, timeout: int, work: Coroutine[Any, Any, None]
) -> None:
    """Run `work` until it finishes, the client goes away, or `timeout` seconds pass."""
    worker = asyncio.create_task(work)
    watcher = asyncio.create_task(_client_gone(ws))
    try:
        await asyncio.wait({worker, watcher}, timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        for task in (worker, watcher):
            task.cancel()
        await asyncio.gather(worker, watcher, return_exceptions=True)
    if worker.done() and not worker.cancelled():
        worker.result()  # re-raise what stopped it, e.g. the process was deleted (404)


async def _client_gone(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) frames until the client closes or the connection breaks."""
    while True:
        frame = await ws.receive()
        if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return


def deliverable(row: Json, wanted: int) -> bool:
    """In the wanted state, or finished in another state: it can never get there then."""
    return row["state"] == wanted or row["state"] in FINISHED


async def _watch_process(
    ctx: Context, ws: web.WebSocketResponse, sub: Subscription, events: Events, row: Json
) -> None:
    """Send the process once it is in the wanted state, then stop (the socket closes).

    Unlike upstream, a process that *finishes* in another state is sent too (say FAILED
    while SUCCESSFUL was wanted): it can never reach the wanted state, and pycolonies'
    `wait()` would otherwise hang until the timeout.  The client checks the state it gets.
    The executortype of the message is not needed: the process id is unique.
    """
    while not deliverable(row, sub.state):
        await _next_change(events, sub.processid)
        async with ctx.db.connection() as conn:
            row = await get_process(conn, sub.processid)  # deleted meanwhile → 404 frame
    await ws.send_str(encode_reply(SUBSCRIBE_PROCESS, process_json(row)).decode())


async def _next_change(events: Events, processid: str) -> None:
    """An event about the process, a resync, or a second without either (the re-check)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SAFETY_RECHECK_SECONDS):
            while True:
                event = await events.get()
                if RESYNC_SINCE in event or event["processid"] == processid:
                    return


async def _stream(
    ctx: Context, ws: web.WebSocketResponse, sub: Subscription, colonyid: str, events: Events
) -> None:
    """Push every process of the colony that reaches the state; runs until cancelled.

    The pushed object is re-read, so it is the process as it is now (it may have moved on).
    An empty executortype matches every type.  After this replica's NOTIFY listener
    reconnects, the processes that reached the state since it was last known alive are
    pushed again: a change made in the gap arrives late, never not at all, and one made just
    before it may arrive twice (at least once).
    """
    while True:
        event = await events.get()
        if RESYNC_SINCE in event:
            for row in await _changed_since(ctx, sub, colonyid, event[RESYNC_SINCE]):
                await _push(ws, row)
            continue
        if not _matches(event, sub, colonyid):
            continue
        async with ctx.db.connection() as conn:
            row = await repo.get_process(conn, event["processid"])
        if row is not None:
            await _push(ws, row)


async def _push(ws: web.WebSocketResponse, row: Json) -> None:
    await ws.send_str(encode_reply(SUBSCRIBE_PROCESSES, process_json(row)).decode())


async def _changed_since(
    ctx: Context, sub: Subscription, colonyid: str, since: datetime
) -> list[Json]:
    async with ctx.db.connection() as conn:
        rows = await repo.processes_changed_since(
            conn,
            colonyid,
            state=sub.state,
            executortype=sub.executortype,
            since=since,
            limit=RESYNC_LIMIT,
        )
    if len(rows) == RESYNC_LIMIT:
        log.warning(
            "a /pubsub stream of colony %s re-sends only the first %d processes that reached "
            "state %d while the NOTIFY listener was away",
            colonyid,
            RESYNC_LIMIT,
            sub.state,
        )
    return rows


def _matches(event: Json, sub: Subscription, colonyid: str) -> bool:
    return (
        event["colonyid"] == colonyid
        and event["state"] == sub.state
        and (not sub.executortype or event["executortype"] == sub.executortype)
    )


async def _send_quietly(ws: web.WebSocketResponse, frame: bytes) -> None:
    """An error frame for a client that may already be gone."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(frame.decode())
