"""A WebSocket route whose sockets are closed at shutdown (aiohttp would wait for them)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, web

Serve = Callable[[web.WebSocketResponse], Awaitable[None]]


def add_websocket_route(
    app: web.Application,
    path: str,
    serve: Serve,
    *,
    max_msg_size: int,
    heartbeat: float,
    close_timeout: float,
) -> None:
    """GET `path` upgrades to a WebSocket that `serve` runs until it returns."""
    sockets: set[web.WebSocketResponse] = set()

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            max_msg_size=max_msg_size, heartbeat=heartbeat, timeout=close_timeout
        )
        await ws.prepare(request)
        sockets.add(ws)
        try:
            await serve(ws)
        finally:
            sockets.discard(ws)
            await ws.close()
        return ws

    async def close_all(app: web.Application) -> None:
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
            return_exceptions=True,
        )

    app.router.add_get(path, handle)
    app.on_shutdown.append(close_all)
