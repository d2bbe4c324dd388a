"""Leader-only requests reaching a follower go to the leader as received, byte for byte.

The reply is relayed unchanged.  Each relay carries the fencing epoch the follower saw, what
is left of the client's long poll, and a receipt naming the claim.  Every attempt of one
client request carries the same receipt, and the leader serialises attempts on it and hands
out a committed claim of an earlier attempt instead of claiming again.  So when a reply is
lost (the leader died, froze, was replaced, or the connection broke) the follower simply
asks again, the same leader or its successor: a successor's epoch bump waited for every
transaction of the old epoch, so it sees the old claim if that committed.  A relayed assign
is neither lost nor handed out twice.

Relays travel as frames of one WebSocket per leader (colonies_ha.api.channel), watched by
one task that abandons what is pending on it once Raft names someone else; a broken,
abandoned or silent channel is an attempt whose reply was lost, and is asked again as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

import aiohttp
from aiohttp import web

from colonies_ha.api.channel import ChannelClosed, RelayChannel
from colonies_ha.domain.errors import BadRequest, DatabaseUnavailable, NotLeader
from colonies_ha.protocol.channel import ReplyFrame
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
WATCH_PERIOD = 0.05  # how often a relay channel checks whether Raft moved on
CONNECT_SECONDS = 2.0  # opening a relay channel


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


class _Replaced(ChannelClosed):
    """Raft named another leader (or this replica) while the request was pending."""


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
        # One relay channel per leader URL (see colonies_ha.api.channel), opened on first use.
        self._channels: dict[str, RelayChannel] = {}
        self._opening: dict[str, asyncio.Future[RelayChannel]] = {}
        self._watches: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for watch in self._watches:
            watch.cancel()
        await asyncio.gather(*self._watches, return_exceptions=True)
        for channel in list(self._channels.values()):
            await channel.close(ChannelClosed("this replica is stopping"))
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
        """One relay to `leader` over its channel, abandoned if Raft names someone else."""
        within = (relay.wait_limit or 0.0) + REPLY_MARGIN
        try:
            try:
                channel = await self._channel(url, leader)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status != HTTPStatus.NOT_FOUND:
                    raise
                # A leader of an earlier version (a rolling upgrade): no channel, so one
                # HTTP request with the relay headers, as those versions relayed (without
                # the channel's leader watch: a frozen leader costs it its wait).
                reply = await self._post(url, body, relay, within)
            else:
                reply = await channel.request(relay, body, within)
        except _Replaced:
            return _Attempt(f"{url} was replaced while the request was pending")
        except (aiohttp.ClientConnectorError, aiohttp.WSServerHandshakeError) as exc:
            return _Attempt(f"{url} refused the channel ({exc.__class__.__name__})")
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            return _Attempt(f"{url} did not answer ({exc.__class__.__name__})")
        if reply.status == NotLeader.status and reply.unavailable:
            # Its claim may have committed: the next attempt, same receipt, finds it.
            return _Attempt(f"{url} found its database unavailable", database=True)
        if reply.status == NotLeader.status:
            # It refused before claiming anything, or its claim failed the fence.
            return _Attempt(f"{url} does not lead under epoch {relay.epoch}")
        return web.Response(status=reply.status, body=reply.body, content_type="application/json")

    async def _post(self, url: str, body: bytes, relay: Relay, within: float) -> ReplyFrame:
        headers = {
            FORWARDED_HEADER: self._ctx.node_name,
            EPOCH_HEADER: str(relay.epoch),
            RECEIPT_HEADER: relay.receipt,
            WAIT_LIMIT_HEADER: f"{relay.wait_limit or 0.0:.3f}",
        }
        timeout = aiohttp.ClientTimeout(total=within, sock_connect=2)
        async with self._http().post(
            f"{url}/api", data=body, headers=headers, timeout=timeout
        ) as reply:
            payload = await reply.read()
        return ReplyFrame(0, reply.status, UNAVAILABLE_HEADER in reply.headers, payload)

    async def _channel(self, url: str, leader: str | None) -> RelayChannel:
        """The open channel to `url`, or one opened now (once, for every caller waiting)."""
        channel = self._channels.get(url)
        if channel is not None and not channel.closed:
            return channel
        opening = self._opening.get(url)
        if opening is None:
            opening = asyncio.ensure_future(self._open(url, leader))
            self._opening[url] = opening
            opening.add_done_callback(lambda _: self._opening.pop(url, None))
        return await asyncio.shield(opening)

    async def _open(self, url: str, leader: str | None) -> RelayChannel:
        async with asyncio.timeout(CONNECT_SECONDS):
            channel = await RelayChannel.open(
                self._http(), url, leader, {FORWARDED_HEADER: self._ctx.node_name}
            )
        self._channels[url] = channel
        watch = asyncio.get_running_loop().create_task(self._watch(url, channel))
        self._watches.add(watch)
        watch.add_done_callback(self._watches.discard)
        return channel

    async def _watch(self, url: str, channel: RelayChannel) -> None:
        """The channel's one leader watch: once Raft names someone else (or us), what is
        pending on it is abandoned and asked again of the new leader, same receipts."""
        try:
            await self._leader_moved_from(channel.leader, until_closed=channel)
            if not channel.closed:
                await channel.close(_Replaced(f"{url} no longer leads"))
        finally:
            if self._channels.get(url) is channel:
                del self._channels[url]

    async def _leader_moved_from(
        self, leader: str | None, until_closed: RelayChannel | None = None
    ) -> None:
        leadership = self._ctx.leadership
        while until_closed is None or not until_closed.closed:
            await asyncio.sleep(WATCH_PERIOD)
            now = leadership.leader_address()
            if leadership.epoch is not None or (now is not None and now != leader):
                return
