"""Routes for the pod's own tooling (the Kubernetes preStop hook), answered on loopback only.

`POST /local/handover` asks a leading replica to hand leadership to another one now, while it
still serves, rather than at SIGTERM.  It carries no signature: anyone who can connect from
the replica's own network namespace (its container, a sidecar) may call it, nobody else.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from colonies_ha.services.context import Context

HANDOVER_PATH = "/local/handover"


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


def add_local_routes(app: web.Application, ctx: Context) -> None:
    async def handle_handover(request: web.Request) -> web.Response:
        if not is_loopback(request.remote):
            return web.json_response(
                {"error": f"{HANDOVER_PATH} answers loopback callers only"}, status=403
            )
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

    app.router.add_post(HANDOVER_PATH, handle_handover)
