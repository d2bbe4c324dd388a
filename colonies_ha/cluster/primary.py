"""Leadership of a serving worker: the view of its replica's primary process.

With `--workers N` one process of a replica (the primary) runs Raft and takes the fencing
epoch; the N - 1 others serve the same API port.  A worker follows the primary's view (who
leads, and the epoch the primary holds) through a loopback long poll on the primary's relay
port, which answers at once when the view changes and otherwise every HEARTBEAT seconds.
While the primary leads, a worker claims assigns itself under the primary's epoch: the
database checks that epoch in every claim's transaction, exactly as for the primary's own,
so once a successor has bumped it no claim of this replica's processes commits.  A worker
never takes (bumps) an epoch and runs no scans; when another replica leads it relays, like
a follower.  A primary that stops answering (frozen, gone) leaves the worker with no epoch
and no leader known, so it claims nothing and its /ready turns 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import aiohttp

log = logging.getLogger(__name__)

LEADERSHIP_PATH = "/local/leadership"
HANDOVER_PATH = "/local/handover"
HEARTBEAT = 1.0  # the primary answers a long poll at least this often
CHECK_PERIOD = 0.02  # how often a pending long poll compares the primary's view
STALE_AFTER = HEARTBEAT + 1.0  # no answer for this long: the primary is not following Raft
RETRY_PAUSE = 0.05


class LeadershipSource(Protocol):
    """What the view is read from (the primary's Leadership; see services.context)."""

    @property
    def epoch(self) -> int | None: ...

    def leader_address(self) -> str | None: ...

    def leader_api_url(self) -> str | None: ...

    def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LeadershipView:
    """Who leads, as the primary sees it."""

    leader: str | None = None
    leader_url: str | None = None  # the leader's relay/API URL when another replica leads
    status: dict[str, Any] = field(default_factory=dict, compare=False)
    epoch: int | None = None  # the primary's fencing epoch while it leads

    @property
    def leads(self) -> bool:
        """The primary holds the epoch."""
        return self.epoch is not None

    @classmethod
    def of(cls, source: LeadershipSource) -> LeadershipView:
        return cls(source.leader_address(), source.leader_api_url(), epoch=source.epoch)

    @property
    def key(self) -> str:
        """Changes whenever what a worker relays to, or claims under, changes."""
        return f"{self.epoch or ''}|{self.leader or ''}|{self.leader_url or ''}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LeadershipView:
        return cls(body.get("leader"), body.get("leader_url"), body["status"], body.get("epoch"))


async def next_view(source: LeadershipSource, known: str, within: float) -> LeadershipView:
    """The primary's side of the long poll: the view once its key differs from `known`."""
    deadline = time.monotonic() + within
    view = LeadershipView.of(source)
    while view.key == known and time.monotonic() < deadline:
        # Raft moves on PySyncObj's thread without telling the loop, so this looks.
        await asyncio.sleep(CHECK_PERIOD)
        view = LeadershipView.of(source)
    return replace(view, status=source.status())


class PrimaryLeadership:
    """A worker's Leadership: the primary's epoch while it leads, else relays to the leader
    the primary names."""

    def __init__(self, primary_url: str) -> None:
        self.primary_url = primary_url  # the primary's relay port on loopback
        self._view = LeadershipView()
        self._changed = asyncio.Event()
        self._received = asyncio.Event()  # the primary has answered once
        self._lost: int | None = None  # an epoch a fenced transaction here found superseded
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, within: float = 30.0) -> None:
        """Follow the primary; returns once its first view has arrived."""
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._follow(), name="primary-leadership")
        async with asyncio.timeout(within):
            await self._received.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    @property
    def epoch(self) -> int | None:
        """The primary's epoch while it leads: claims here are fenced by it like the
        primary's own (the database checks it in the claim's transaction)."""
        epoch = self._view.epoch
        return epoch if epoch != self._lost else None

    def lost(self, epoch: int) -> None:
        """A claim here found `epoch` superseded: relay instead until the primary agrees."""
        self._lost = epoch
        self._changed.set()

    def leader_address(self) -> str | None:
        return self._view.leader

    def leader_api_url(self) -> str | None:
        if self._view.leads:
            return self.primary_url
        return self._view.leader_url

    async def wait_for_leader_url(self, within: float) -> str | None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while (url := self.leader_api_url()) is None:
                    await self._next_change()
                return url
        return None

    def status(self) -> dict[str, Any]:
        return dict(self._view.status, leader=self._view.leader)

    async def hand_over(self, wait: float = 3.0) -> bool:
        """The preStop hook may reach a worker (SO_REUSEPORT): ask the primary to hand over."""
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=wait + 2.0)
        async with self._session.post(
            f"{self.primary_url}{HANDOVER_PATH}", timeout=timeout
        ) as reply:
            return bool((await reply.json())["handed_over"])

    async def _next_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    def _set(self, view: LeadershipView) -> None:
        if view != self._view:
            log.info("primary says: leader %s (primary leads: %s)", view.leader, view.leads)
        self._view = view
        self._changed.set()

    async def _follow(self) -> None:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=STALE_AFTER)
        known = ""  # matches no view: the first answer comes at once
        while True:
            try:
                async with self._session.get(
                    f"{self.primary_url}{LEADERSHIP_PATH}",
                    params={"known": known, "within": str(HEARTBEAT)},
                    timeout=timeout,
                ) as reply:
                    reply.raise_for_status()
                    self._set(LeadershipView.from_json(await reply.json()))
                    self._received.set()
            except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
                if self._view.leader is not None or self._view.epoch is not None:
                    log.warning("primary process not answering (%r): no leader known", exc)
                    self._set(replace(self._view, leader=None, leader_url=None, epoch=None))
                await asyncio.sleep(RETRY_PAUSE)
            known = self._view.key if self._received.is_set() else ""
