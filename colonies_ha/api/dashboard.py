"""`GET /dashboard/`: the static web dashboard, served by every replica.

The page talks to the same signed `/api` and `/pubsub` as any client and signs in the
browser, so serving it needs no state: files only, never a key.  The files are listed once at
start and served by a route of their own (no middleware: `/api` pays nothing for them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from colonies_ha.dashboard import STATIC_DIR

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The page holds a private key in memory: no framing, no scripts from anywhere else.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
}


def _static_files() -> dict[str, Path]:
    """Every servable file by its URL path, listed once: requests never touch other paths."""
    return {
        path.relative_to(STATIC_DIR).as_posix(): path
        for path in sorted(STATIC_DIR.rglob("*"))
        if path.is_file()
    }


def _asset_handler(files: dict[str, Path]) -> Handler:
    async def asset(request: web.Request) -> web.FileResponse:
        relative = request.match_info["path"] or "index.html"
        path = files.get(relative)
        if path is None:
            raise web.HTTPNotFound(text=f"no dashboard file {relative}")
        response = web.FileResponse(path, headers=_HEADERS)
        if path.suffix in _TYPES:
            response.content_type = _TYPES[path.suffix]
        return response

    return asset


async def _to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPFound("/dashboard/")


def add_dashboard(app: web.Application) -> None:
    """Route /dashboard/ and its files, and redirect / and /dashboard there."""
    app.router.add_get("/", _to_dashboard)
    app.router.add_get("/dashboard", _to_dashboard)
    app.router.add_get("/dashboard/{path:.*}", _asset_handler(_static_files()))
