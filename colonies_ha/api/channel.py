"""The relay channel: one WebSocket from a follower to the leader for all relayed requests.

A follower used to relay each leader-only request as an HTTP request of its own; now it keeps
one WebSocket per leader (`GET /relay`) and sends each as a frame (colonies_ha.protocol.
channel), several per message when they arrive together, and the leader answers each frame
with what /api would have answered.  The leader treats a frame exactly as a request to /api
carrying the relay headers: it verifies the signature, serves the request only under the
fencing epoch the follower saw, and never relays it again.  So the channel lets nobody do
anything a client could not do with one HTTP request: it only saves the follower an HTTP
client request and the leader an HTTP request per relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from functools import partial

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from colonies_ha.api.websockets import add_websocket_route
from colonies_ha.domain.errors import BadRequest, TooManyRequests
from colonies_ha.protocol.channel import (
    MAX_MESSAGE_BYTES,
    ReplyFrame,
    RequestFrame,
    decode_replies,
    decode_requests,
    encode_reply,
    encode_request,
    pack,
)
from colonies_ha.protocol.envelope import Relay, encode_error
from colonies_ha.services.coalesce import Coalescer

log = logging.getLogger(__name__)

CHANNEL_PATH = "/relay"
MAX_IN_FLIGHT = 10_000  # requests one channel may have pending on the leader
HEARTBEAT_SECONDS = 5.0  # pings find a peer that vanished without closing the connection
CLOSE_SECONDS = 2.0

# What serves one relayed request on the leader: (signed body, relay) -> what /api would
# answer: (status, whether a 503 is the database's rather than leadership's, body).
Respond = Callable[[bytes, Relay], Awaitable[tuple[int, bool, bytes]]]


class ChannelClosed(ConnectionError):
    """The channel ended (or was abandoned) before the reply came."""


class RelayChannel:
    """A follower's end: requests go out as frames, replies are matched by frame id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, leader: str | None) -> None:
        self.leader = leader  # the Raft address it was opened for
        self._ws = ws
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[ReplyFrame]] = {}
        self._sends: Coalescer[None, bytes, None] = Coalescer()
        self._closed: ChannelClosed | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, url: str, leader: str | None, headers: dict[str, str]
    ) -> RelayChannel:
        ws = await session.ws_connect(
            f"{url}{CHANNEL_PATH}",
            headers=headers,
            heartbeat=HEARTBEAT_SECONDS,
            max_msg_size=0,  # the leader's replies, as /api would send them
            timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_SECONDS),
        )
        return cls(ws, leader)

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def request(self, relay: Relay, body: bytes, within: float) -> ReplyFrame:
        """The leader's reply; ChannelClosed if the channel ends first, TimeoutError after
        `within` seconds (the channel is then closed: a healthy leader answers in time)."""
        if self._closed is not None:
            raise self._closed
        ident = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            await self._sends.run(
                None, encode_request(RequestFrame(ident, relay, body)), self._send
            )
            async with asyncio.timeout(within):
                return await future
        except TimeoutError:
            await self.close(ChannelClosed("the leader did not answer a relayed request in time"))
            raise
        finally:
            self._pending.pop(ident, None)

    async def _send(self, _key: None, frames: list[bytes]) -> list[None]:
        for message in pack(frames):
            await self._ws.send_bytes(message)
        return [None] * len(frames)

    async def _read(self) -> None:
        reason = ChannelClosed("the leader closed the relay channel")
        try:
            async for message in self._ws:
                if message.type != WSMsgType.BINARY:
                    reason = ChannelClosed(f"the relay channel ended ({message.type.name})")
                    break
                for reply in decode_replies(message.data):
                    future = self._pending.get(reply.ident)
                    if future is not None and not future.done():
                        future.set_result(reply)
        except (BadRequest, aiohttp.ClientError, ConnectionError) as exc:
            reason = ChannelClosed(f"the relay channel broke: {exc}")
        finally:
            self._fail(reason)

    def _fail(self, reason: ChannelClosed) -> None:
        if self._closed is None:
            self._closed = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._closed)

    async def close(self, reason: ChannelClosed) -> None:
        """Fail what is pending with `reason` and close the WebSocket."""
        self._fail(reason)
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def add_channel(app: web.Application, respond: Respond, max_message: int) -> None:
    """Route GET /relay, the leader's end of the channels."""
    add_websocket_route(
        app,
        CHANNEL_PATH,
        partial(_serve_channel, respond=respond),
        max_msg_size=max_message,
        heartbeat=HEARTBEAT_SECONDS,
        close_timeout=CLOSE_SECONDS,
    )


async def _serve_channel(ws: web.WebSocketResponse, respond: Respond) -> None:
    """The leader's end: each frame is served concurrently, replies go back as they finish
    (those finishing together in one message).  Whatever is pending when the channel ends
    is cancelled: nobody is left to receive it, and the follower asks again elsewhere."""
    serving: set[asyncio.Task[None]] = set()
    replies: Coalescer[None, bytes, None] = Coalescer()

    async def send(_key: None, frames: list[bytes]) -> list[None]:
        for message in pack(frames):
            await ws.send_bytes(message)
        return [None] * len(frames)

    async def reply(frame: ReplyFrame) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):  # the follower is gone
            await replies.run(None, encode_reply(frame), send)

    async def serve(frame: RequestFrame) -> None:
        status, unavailable, body = await respond(frame.body, frame.relay)
        await reply(ReplyFrame(frame.ident, status, unavailable, body))

    loop = asyncio.get_running_loop()
    try:
        async for message in ws:
            if message.type != WSMsgType.BINARY:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"binary frames only")
                break
            try:
                frames = decode_requests(message.data)
            except BadRequest as exc:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=exc.message.encode())
                break
            for frame in frames:
                if len(serving) >= MAX_IN_FLIGHT:
                    error = TooManyRequests(
                        f"more than {MAX_IN_FLIGHT} relayed requests pending on one channel"
                    )
                    await reply(ReplyFrame(frame.ident, error.status, False, encode_error(error)))
                    continue
                task = loop.create_task(serve(frame))
                serving.add(task)
                task.add_done_callback(serving.discard)
    finally:
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)


def channel_max_message(max_body_bytes: int) -> int:
    """The largest message a follower sends: packed frames, or one frame of a full body."""
    return max(MAX_MESSAGE_BYTES, max_body_bytes) + 64 * 1024
