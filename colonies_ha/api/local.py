"""Routes for the pod's own tooling (the Kubernetes preStop hook), answered on loopback only.

`POST /local/handover` asks a leading replica to hand leadership to another one now, while it
still serves, rather than at SIGTERM.  `GET /local/leadership` is how a replica's serving
workers (`--workers`) follow its primary's view of who leads (a long poll, see
cluster/primary.py), and `POST /local/metrics` how they hand it their metrics, which the
primary's /metrics merges with its own.  They carry no signature: anyone who can connect
from the replica's own network namespace (its container, a sidecar) may call them, nobody
else.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from colonies_ha.cluster.primary import HANDOVER_PATH, HEARTBEAT, LEADERSHIP_PATH, next_view
from colonies_ha.observability.metrics import parse_exposition
from colonies_ha.services.context import Context

METRICS_PUSH_PATH = "/local/metrics"
PROCESS_HEADER = "X-Colonies-Process"  # the pushing worker's process name: worker-<n>
_WORKER_NAME = re.compile(r"worker-[1-9][0-9]?")  # at most 99 kept (--workers stops at 64)
MAX_EXPOSITION_BYTES = 1 << 20  # a worker's is tens of kB


@runtime_checkable
class HandsOver(Protocol):
    """Leadership that can pass itself on (Raft); a lone replica has nobody to pass it to."""

    async def hand_over(self, wait: float = 3.0) -> bool: ...


def is_loopback(remote: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for anything unparsable."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _refuse_remote(request: web.Request) -> web.Response | None:
    if is_loopback(request.remote):
        return None
    return web.json_response({"error": f"{request.path} answers loopback callers only"}, status=403)


def add_local_routes(app: web.Application, ctx: Context) -> None:
    async def handle_handover(request: web.Request) -> web.Response:
        if (refused := _refuse_remote(request)) is not None:
            return refused
        status: dict[str, Any] = ctx.leadership.status()
        was_leader = status.get("leader") is not None and status.get("leader") == status.get("self")
        handed_over = False
        if was_leader and isinstance(ctx.leadership, HandsOver):
            handed_over = await ctx.leadership.hand_over()
        return web.json_response(
            {
                "was_leader": was_leader,
                "handed_over": handed_over,
                "leader": ctx.leadership.leader_address(),
            }
        )

    async def handle_leadership(request: web.Request) -> web.Response:
        """Answers when the view differs from `known`, or after `within` s (at most 10)."""
        if (refused := _refuse_remote(request)) is not None:
            return refused
        try:
            within = min(max(float(request.query.get("within", HEARTBEAT)), 0.0), 10.0)
        except ValueError:
            return web.json_response({"error": "within must be a number of seconds"}, status=400)
        view = await next_view(ctx.leadership, request.query.get("known", ""), within)
        return web.json_response(view.to_json())

    async def handle_metrics_push(request: web.Request) -> web.Response:
        if (refused := _refuse_remote(request)) is not None:
            return refused
        name = request.headers.get(PROCESS_HEADER, "")
        if not _WORKER_NAME.fullmatch(name):
            return web.json_response(
                {"error": f"{PROCESS_HEADER} must name a worker (worker-<n>)"}, status=400
            )
        text = await request.read()
        if len(text) > MAX_EXPOSITION_BYTES:
            return web.json_response(
                {"error": f"an exposition is at most {MAX_EXPOSITION_BYTES} bytes"}, status=413
            )
        try:
            ctx.metrics.worker_families[name] = parse_exposition(text)
        except (ValueError, UnicodeDecodeError) as exc:
            return web.json_response({"error": f"not a Prometheus exposition: {exc}"}, status=400)
        return web.Response(status=204)

    app.router.add_post(HANDOVER_PATH, handle_handover)
    app.router.add_post(METRICS_PUSH_PATH, handle_metrics_push)
    app.router.add_get(LEADERSHIP_PATH, handle_leadership)
