"""Leader-only requests reaching a follower go to the leader as received, byte for byte.

The reply is relayed unchanged.  Each relay carries the fencing epoch the follower saw, what
is left of the client's long poll, and a receipt naming the claim.  Every attempt of one
client request carries the same receipt, and the leader serialises attempts on it and hands
out a committed claim of an earlier attempt instead of claiming again.  So when a reply is
lost (the leader died, froze, was replaced, or the connection broke) the follower simply
asks again, the same leader or its successor: a successor's epoch bump waited for every
transaction of the old epoch, so it sees the old claim if that committed.  A relayed assign
is neither lost nor handed out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from colonies_ha.domain.errors import BadRequest, DatabaseUnavailable, NotLeader
from colonies_ha.protocol.envelope import Relay, SignedRequest
from colonies_ha.services.context import Context

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-Colonies-Forwarded-By"
EPOCH_HEADER = "X-Colonies-Fence-Epoch"
RECEIPT_HEADER = "X-Colonies-Receipt"
WAIT_LIMIT_HEADER = "X-Colonies-Wait-Limit"
# On a 503 that means "my database is unavailable", not "I do not lead": a follower retries
# both (the receipt makes that safe) but words its own final 503 after the right one.
UNAVAILABLE_HEADER = "X-Colonies-Unavailable"
ELECTION_WAIT = 10.0  # how long a follower waits for a leader to appear
REPLY_MARGIN = 5.0  # the leader's own long poll ends first; this catches a frozen leader
# Between attempts of one request: doubled after each failure at the same leader, up to
# MAX_RETRY_PAUSE, and back to RETRY_PAUSE when Raft names another leader.
RETRY_PAUSE = 0.05
MAX_RETRY_PAUSE = 0.5
WATCH_PERIOD = 0.05  # how often a pending relay checks whether Raft moved on


def relay_of(headers: Mapping[str, str]) -> Relay | None:
    """The relay headers of a request from another replica (None for a client's request)."""
    if FORWARDED_HEADER not in headers:
        return None
    try:
        epoch, receipt = int(headers[EPOCH_HEADER]), headers[RECEIPT_HEADER]
    except (KeyError, ValueError) as exc:
        raise BadRequest(
            f"a relayed request needs integer {EPOCH_HEADER} and {RECEIPT_HEADER} headers"
        ) from exc
    limit = headers.get(WAIT_LIMIT_HEADER)
    try:
        wait_limit = max(float(limit), 0.0) if limit is not None else None
    except ValueError as exc:
        raise BadRequest(f"{WAIT_LIMIT_HEADER} must be a number of seconds") from exc
    return Relay(epoch=epoch, receipt=receipt, wait_limit=wait_limit)


@dataclass(frozen=True, slots=True)
class _Attempt:
    """How one relay ended when it produced no reply to pass on."""

    problem: str
    database: bool = False  # the leader's database was unavailable


class Forwarder:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._session: aiohttp.ClientSession | None = None
        # (leader address, its epoch) as last read from the database.  A stale value only
        # costs a refusal by the leader (it serves one epoch) and a fresh read, so the read
        # is not repeated for every relay.
        self._known_epoch: tuple[str | None, int] | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2)
            )
        return self._session

    async def forward(self, req: SignedRequest, wait_seconds: float) -> web.Response | None:
        """The leader's reply, or None when this replica became the leader meanwhile."""
        leadership = self._ctx.leadership
        started = time.monotonic()
        client_deadline = started + wait_seconds  # the end of the client's long poll
        deadline = client_deadline + ELECTION_WAIT
        receipt = uuid.uuid4().hex  # one for every attempt of this request
        last: _Attempt = _Attempt("no leader is known")
        pause, previous_url = RETRY_PAUSE, None
        while time.monotonic() < deadline:
            url = await leadership.wait_for_leader_url(deadline - time.monotonic())
            if leadership.epoch is not None:
                return None
            if url is None:
                break
            if url != previous_url:
                pause, previous_url = RETRY_PAUSE, url
            leader = leadership.leader_address()
            epoch = await self._leader_epoch()
            wait_left = max(client_deadline - time.monotonic(), 0.0)
            outcome = await self._attempt(leader, url, req.raw, Relay(epoch, receipt, wait_left))
            if isinstance(outcome, web.Response):
                self._count("relayed")
                return outcome
            self._count("retried")
            self._known_epoch = None
            last = outcome
            log.info("relay to %s failed (%s); asking again, same receipt", url, outcome.problem)
            # The pause ends early when Raft names another leader: no failover waits for it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._leader_moved_from(leader), pause)
            pause = min(pause * 2, MAX_RETRY_PAUSE)
        self._count("failed")
        if last.database:
            raise DatabaseUnavailable(f"the leader could not serve the request: {last.problem}")
        raise NotLeader(f"no leader could take the request: {last.problem}")

    async def _leader_epoch(self) -> int:
        leader = self._ctx.leadership.leader_address()
        known = self._known_epoch
        if known is None or known[0] != leader:
            known = (leader, int((await self._ctx.db.leader_row())["epoch"]))
            self._known_epoch = known
        return known[1]

    def _count(self, outcome: str) -> None:
        self._ctx.metrics.forwarded.labels(outcome).inc()

    async def _attempt(
        self, leader: str | None, url: str, body: bytes, relay: Relay
    ) -> web.Response | _Attempt:
        """One relay to `leader`, abandoned early if Raft names someone else meanwhile."""
        post = asyncio.create_task(self._post(url, body, relay))
        watch = asyncio.create_task(self._leader_moved_from(leader))
        try:
            await asyncio.wait({post, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not post.done():
                post.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        if not post.done() or post.cancelled():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await post
            return _Attempt(f"{url} was replaced while the request was pending")
        try:
            return post.result()
        except aiohttp.ClientConnectorError as exc:
            return _Attempt(f"{url} refused the connection ({exc.__class__.__name__})")
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            return _Attempt(f"{url} did not answer ({exc.__class__.__name__})")

    async def _post(self, url: str, body: bytes, relay: Relay) -> web.Response | _Attempt:
        wait = relay.wait_limit or 0.0
        headers = {
            FORWARDED_HEADER: self._ctx.node_name,
            EPOCH_HEADER: str(relay.epoch),
            RECEIPT_HEADER: relay.receipt,
            WAIT_LIMIT_HEADER: f"{wait:.3f}",
        }
        timeout = aiohttp.ClientTimeout(total=wait + REPLY_MARGIN, sock_connect=2)
        async with self._http().post(
            f"{url}/api", data=body, headers=headers, timeout=timeout
        ) as reply:
            payload = await reply.read()
        if reply.status == NotLeader.status and UNAVAILABLE_HEADER in reply.headers:
            # Its claim may have committed: the next attempt, same receipt, finds it.
            return _Attempt(f"{url} found its database unavailable", database=True)
        if reply.status == NotLeader.status:
            # It refused before claiming anything, or its claim failed the fence.
            return _Attempt(f"{url} does not lead under epoch {relay.epoch}")
        return web.Response(status=reply.status, body=payload, content_type="application/json")

    async def _leader_moved_from(self, leader: str | None) -> None:
        leadership = self._ctx.leadership
        while True:
            await asyncio.sleep(WATCH_PERIOD)
            now = leadership.leader_address()
            if leadership.epoch is not None or (now is not None and now != leader):
                return
