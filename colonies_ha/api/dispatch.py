"""The message-type table: which handler serves a msgtype, and whether only the leader may."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from colonies_ha.protocol.envelope import SignedRequest
from colonies_ha.services.context import Context

Handler = Callable[[Context, SignedRequest], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    leader_only: bool
    # Changes nothing, so it may be tried again when the database connection fails under it.
    # Every read of the protocol is named get...msg (versionmsg reads no database).
    retry_safe: bool = False


ROUTES: dict[str, Route] = {}


def rpc(msgtype: str, *, leader_only: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if msgtype in ROUTES:
            raise RuntimeError(f"two handlers for {msgtype}")
        ROUTES[msgtype] = Route(handler, leader_only, retry_safe=msgtype.startswith("get"))
        return handler

    return register
