"""Leader-only requests reaching a follower go to the leader as received, byte for byte.

The reply is relayed unchanged.  A forwarded request is never cut short by us (an assign
the leader committed must reach its executor), and it is retried on a new leader only
when the old one could not have acted on it: the connection failed, or it answered that
it no longer leads.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from aiohttp import web

from colonies_ha.domain.errors import NotLeader
from colonies_ha.services.context import Context

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-Colonies-Forwarded-By"
ELECTION_WAIT = 10.0  # how long a follower waits for a leader to appear
REPLY_MARGIN = 5.0  # the leader's own long poll ends first; this catches a paused leader
RETRY_PAUSE = 0.05


class Forwarder:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2)
            )
        return self._session

    async def forward(self, body: bytes, wait_seconds: float) -> web.Response | None:
        """The leader's reply, or None when this replica became the leader meanwhile."""
        deadline = time.monotonic() + ELECTION_WAIT + wait_seconds
        last_problem = "no leader is known"
        while time.monotonic() < deadline:
            url = await self._ctx.leadership.wait_for_leader_url(deadline - time.monotonic())
            if self._ctx.leadership.epoch is not None:
                return None
            if url is None:
                break
            try:
                async with self._http().post(
                    f"{url}/api",
                    data=body,
                    headers={FORWARDED_HEADER: self._ctx.node_name},
                    timeout=aiohttp.ClientTimeout(
                        total=wait_seconds + REPLY_MARGIN, sock_connect=2
                    ),
                ) as reply:
                    payload = await reply.read()
                    if reply.status != NotLeader.status:
                        return web.Response(
                            status=reply.status, body=payload, content_type="application/json"
                        )
                    last_problem = f"{url} no longer leads"
            except (aiohttp.ClientConnectionError, ConnectionError, TimeoutError) as exc:
                # A paused or dead leader cannot commit under its old epoch any more once a
                # successor has bumped it, so trying the successor is safe.
                last_problem = f"{url} did not answer ({exc.__class__.__name__})"
            log.info("forwarding retry: %s", last_problem)
            await asyncio.sleep(RETRY_PAUSE)
        raise NotLeader(f"no leader could take the request: {last_problem}")
