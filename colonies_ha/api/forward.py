"""Leader-only requests reaching a follower go to the leader as received, byte for byte.

The reply is relayed unchanged.  Each relay carries the fencing epoch the follower saw and
a receipt naming the claim.  When the leader dies, freezes or is replaced before its reply
arrives, the follower does not guess: it waits until the epoch has moved past the one it
sent (from then on no claim under that epoch can commit), then looks the receipt up.  A
claim that committed is delivered to the client; otherwise the request goes to the new
leader.  So a relayed assign is neither lost in a dead leader nor handed out twice.
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

from colonies_ha.domain.errors import BadRequest, NotLeader
from colonies_ha.protocol.envelope import Relay, SignedRequest, encode_reply
from colonies_ha.services import processes
from colonies_ha.services.context import Context

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-Colonies-Forwarded-By"
EPOCH_HEADER = "X-Colonies-Fence-Epoch"
RECEIPT_HEADER = "X-Colonies-Receipt"
ELECTION_WAIT = 10.0  # how long a follower waits for a leader to appear
REPLY_MARGIN = 5.0  # the leader's own long poll ends first; this catches a frozen leader
RETRY_PAUSE = 0.05
WATCH_PERIOD = 0.05  # how often a pending relay checks whether Raft moved on


def relay_of(headers: Mapping[str, str]) -> Relay | None:
    """The relay headers of a request from another replica (None for a client's request)."""
    if FORWARDED_HEADER not in headers:
        return None
    try:
        return Relay(epoch=int(headers[EPOCH_HEADER]), receipt=headers[RECEIPT_HEADER])
    except (KeyError, ValueError) as exc:
        raise BadRequest(
            f"a relayed request needs integer {EPOCH_HEADER} and {RECEIPT_HEADER} headers"
        ) from exc


@dataclass(frozen=True, slots=True)
class _Attempt:
    """How one relay ended when it produced no reply to pass on."""

    problem: str
    uncertain: bool  # the leader may have committed a claim we never heard of


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
        deadline = time.monotonic() + ELECTION_WAIT + wait_seconds
        receipt = uuid.uuid4().hex
        last_problem = "no leader is known"
        while time.monotonic() < deadline:
            url = await leadership.wait_for_leader_url(deadline - time.monotonic())
            if leadership.epoch is not None:
                return None
            if url is None:
                break
            epoch = await self._leader_epoch()
            outcome = await self._attempt(url, req.raw, Relay(epoch, receipt), wait_seconds)
            if isinstance(outcome, web.Response):
                self._count("relayed")
                return outcome
            self._count("retried")
            self._known_epoch = None
            last_problem = outcome.problem
            log.info("relay to %s failed: %s", url, outcome.problem)
            if outcome.uncertain:
                if not await self._wait_for_epoch_after(epoch, deadline):
                    last_problem += "; the fencing epoch did not move, so it was not retried"
                    break
                claimed = await processes.claimed_by_receipt(self._ctx, receipt, req.caller_id)
                if claimed is not None:
                    self._count("recovered")
                    log.info("delivered a claim the old leader committed: %s", claimed["processid"])
                    return web.Response(
                        body=encode_reply(req.msgtype, claimed), content_type="application/json"
                    )
            await asyncio.sleep(RETRY_PAUSE)
        self._count("failed")
        raise NotLeader(f"no leader could take the request: {last_problem}")

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
        self, url: str, body: bytes, relay: Relay, wait_seconds: float
    ) -> web.Response | _Attempt:
        """One relay, abandoned early if Raft elects someone else while it is pending."""
        leader = self._ctx.leadership.leader_address()
        post = asyncio.create_task(self._post(url, body, relay, wait_seconds))
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
            return _Attempt(f"{url} was replaced while the request was pending", uncertain=True)
        try:
            return post.result()
        except aiohttp.ClientConnectorError as exc:  # never reached the leader
            return _Attempt(f"{url} refused the connection ({exc.__class__.__name__})", False)
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
            return _Attempt(f"{url} did not answer ({exc.__class__.__name__})", uncertain=True)

    async def _post(
        self, url: str, body: bytes, relay: Relay, wait_seconds: float
    ) -> web.Response | _Attempt:
        headers = {
            FORWARDED_HEADER: self._ctx.node_name,
            EPOCH_HEADER: str(relay.epoch),
            RECEIPT_HEADER: relay.receipt,
        }
        timeout = aiohttp.ClientTimeout(total=wait_seconds + REPLY_MARGIN, sock_connect=2)
        async with self._http().post(
            f"{url}/api", data=body, headers=headers, timeout=timeout
        ) as reply:
            payload = await reply.read()
        if reply.status == NotLeader.status:
            # It refused before claiming anything, or its claim failed the fence.
            return _Attempt(f"{url} does not lead under epoch {relay.epoch}", uncertain=False)
        return web.Response(status=reply.status, body=payload, content_type="application/json")

    async def _leader_moved_from(self, leader: str | None) -> None:
        leadership = self._ctx.leadership
        while True:
            await asyncio.sleep(WATCH_PERIOD)
            now = leadership.leader_address()
            if leadership.epoch is not None or (now is not None and now != leader):
                return

    async def _wait_for_epoch_after(self, epoch: int, deadline: float) -> bool:
        """Once the epoch has moved, every transaction fenced by the old one has ended."""
        while time.monotonic() < deadline:
            if int((await self._ctx.db.leader_row())["epoch"]) > epoch:
                return True
            await asyncio.sleep(RETRY_PAUSE * 2)
        return False
