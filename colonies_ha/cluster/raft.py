"""Leadership from PySyncObj Raft, made safe by the fencing epoch in PostgreSQL.

Raft only says who *should* lead.  PySyncObj runs its own thread; role changes reach the
asyncio loop through `call_soon_threadsafe` and never block it.  A replica acts as leader
only after it has bumped the epoch in the database, and stops the moment Raft demotes it or
a fenced transaction finds the epoch moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.syncobj import _RAFT_STATE

from colonies_ha.domain.errors import DatabaseUnavailable
from colonies_ha.store import repo
from colonies_ha.store.db import BOUNDS, UNAVAILABLE_ERRORS, Database

log = logging.getLogger(__name__)

# Measured settings (see design notes): fast failover, and a leader that loses its quorum
# steps down after 0.5 s instead of PySyncObj's default 30 s.
RAFT_SETTINGS: dict[str, Any] = {
    "appendEntriesPeriod": 0.1,
    "raftMinTimeout": 0.6,
    "raftMaxTimeout": 1.5,
    "leaderFallbackTimeout": 0.5,
    "connectionTimeout": 3.0,
    "connectionRetryTime": 1.0,
    "dnsCacheTime": 5.0,
    "dnsFailCacheTime": 1.0,
    "autoTick": True,
    "dynamicMembershipChange": True,
}
KEEPALIVE_PERIOD = RAFT_SETTINGS["connectionTimeout"] / 3
REFRESH_PERIOD = 0.5


class RaftLeadership:
    def __init__(
        self,
        db: Database,
        *,
        self_address: str,
        peers: list[str],
        secret: str,
        node_name: str,
        api_url: str,
        data_dir: Path | None = None,
    ) -> None:
        self._db = db
        self.self_address = self_address
        self._peers = [p for p in peers if p != self_address]
        self._secret = secret
        self._node_name = node_name
        self.api_url = api_url
        self._data_dir = data_dir
        self._epoch: int | None = None
        self._sync: SyncObj | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._urls: dict[str, str] = {}
        self._last_keepalive = 0.0
        # A term in which our epoch was superseded: we do not claim again in it, or a
        # resumed ex-leader that still believes in its term would steal the fence back.
        self._fenced_term: int | None = None
        self._handing_over = False
        self._transfer_requested = False  # read and cleared on PySyncObj's thread
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._announce()
        options = dict(
            RAFT_SETTINGS, password=self._secret or None, onStateChanged=self._on_state_changed
        )
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            options["journalFile"] = str(self._data_dir / "raft.journal")
            options["fullDumpFile"] = str(self._data_dir / "raft.dump")
        self._sync = SyncObj(self.self_address, self._peers, SyncObjConf(**options))
        self._sync.addOnTickCallback(self._on_raft_tick)
        self._task = asyncio.create_task(self._follow_raft(), name="raft-leadership")

    async def stop(self) -> None:
        """Hand leadership over first, so the cluster does not wait for an election timeout."""
        await self.hand_over()
        self._stopping = True
        self._epoch = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sync is not None:
            self._sync.destroy()

    async def hand_over(self, wait: float = 3.0) -> bool:
        sync = self._sync
        if sync is None or not sync._isLeader():
            return False
        self._handing_over = True  # no new claim while the successor is being elected
        self._epoch = None  # stop leader-only work before the successor starts it
        try:
            # PySyncObj's transport is not thread-safe: its own thread sends the TimeoutNow.
            self._transfer_requested = True
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                leader = sync._getLeader()
                if leader is not None and leader.address != self.self_address:
                    log.info("handed leadership to %s", leader.address)
                    return True
                await asyncio.sleep(0.05)
            log.warning("no successor took leadership within %.1f s", wait)
            return False
        finally:
            self._transfer_requested = False
            self._handing_over = False
            self._changed.set()

    # -- what the rest of the replica asks ------------------------------------------------

    @property
    def epoch(self) -> int | None:
        return self._epoch

    def lost(self, epoch: int) -> None:
        if self._epoch == epoch:
            log.warning("fencing epoch %d superseded; no longer acting as leader", epoch)
            self._epoch = None
            if self._sync is not None:
                self._fenced_term = self._sync.raftCurrentTerm
            self._changed.set()

    def leader_address(self) -> str | None:
        leader = self._sync._getLeader() if self._sync is not None else None
        return leader.address if leader is not None else None

    def leader_api_url(self) -> str | None:
        address = self.leader_address()
        if address is None or address == self.self_address:
            return None
        return self._urls.get(address)

    async def wait_for_leader_url(self, within: float) -> str | None:
        """The leader's API URL, waiting out an election (up to `within` s)."""
        deadline = time.monotonic() + within
        while True:
            if self._epoch is not None:
                return None
            url = self.leader_api_url()
            if url is not None:
                return url
            if self.leader_address() not in (None, self.self_address):
                await self._refresh_urls()  # a replica we have not heard of yet
                url = self.leader_api_url()
                if url is not None:
                    return url
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)

    def status(self) -> dict[str, Any]:
        sync = self._sync
        raft = sync.getStatus() if sync is not None else {}
        return {
            "self": self.self_address,
            "leader": self.leader_address(),
            "term": raft.get("raft_term", 0),
            "epoch": self._epoch,
            "state": _state_name(raft.get("state")),
            "members": sorted([self.self_address, *[n.address for n in sync.otherNodes]])
            if sync is not None
            else [self.self_address],
            "urls": dict(self._urls),
        }

    # -- the Raft thread ----------------------------------------------------------------

    def _on_state_changed(self, old: int, new: int) -> None:
        """Runs on PySyncObj's thread: demote at once, let the loop do the rest."""
        if new != _RAFT_STATE.LEADER:
            self._epoch = None
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._changed.set)

    def _on_raft_tick(self) -> None:
        """Runs on PySyncObj's thread, the only one that may use its transport."""
        if self._sync is None:
            return
        if self._transfer_requested:
            self._transfer_requested = False
            self._sync.transferLeadership()
        self._keepalive()

    def _keepalive(self) -> None:
        """Idle follower links drop the first vote after a leader dies (timeouts are checked
        on send), so every replica pings each peer about every connectionTimeout / 3."""
        now = time.monotonic()
        if now - self._last_keepalive < KEEPALIVE_PERIOD or self._sync is None:
            return
        self._last_keepalive = now
        transport = self._sync._SyncObj__transport  # PySyncObj has no public send
        for node in self._sync.otherNodes:
            with contextlib.suppress(Exception):
                transport.send(node, {"type": "keep_alive"})

    # -- the asyncio side ---------------------------------------------------------------

    async def _follow_raft(self) -> None:
        while not self._stopping:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives as the event is set, and the replica would never finish stopping.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_PERIOD):
                    await self._changed.wait()
            self._changed.clear()
            if self._stopping:
                return
            try:
                # Bounded, and waited for to the end (not abandoned): two overlapping epoch
                # bumps of ours would fence each other.
                async with asyncio.timeout(BOUNDS.background):
                    await self._reconcile()
            except asyncio.CancelledError:
                raise
            except (TimeoutError, DatabaseUnavailable, *UNAVAILABLE_ERRORS) as exc:
                log.warning("leadership reconciliation: database unavailable (%r); retrying", exc)
                await asyncio.sleep(REFRESH_PERIOD)
            except Exception:
                log.exception("leadership reconciliation failed; retrying")
                await asyncio.sleep(REFRESH_PERIOD)

    async def _reconcile(self) -> None:
        sync = self._sync
        assert sync is not None
        if self.leader_address() not in (None, self.self_address, *self._urls):
            await self._refresh_urls()
        if not sync._isLeader():
            self._epoch = None
            return
        term = sync.raftCurrentTerm
        if self._epoch is not None or self._handing_over:
            return
        if term == self._fenced_term and not await self._fenced_by_older_term(term):
            return
        epoch = await self._db.bump_epoch(self.self_address, term, self.api_url)
        if sync._isLeader() and sync.raftCurrentTerm == term:
            self._epoch = epoch
            log.info("leading: raft term %d, fencing epoch %d", term, epoch)

    async def _fenced_by_older_term(self, term: int) -> bool:
        """Whether the epoch that superseded ours in `term` was taken for an older term.

        A leader of an older term that was paused between seeing itself lead and bumping
        the epoch can bump it late, after we did.  Raft has already moved past it, so no
        new election is coming: we take the epoch back, once, or nobody would lead until
        the next one.  A bump for this term or a newer one stands: we wait for Raft.
        """
        holder = await self._db.leader_row()
        if holder["term"] >= term:
            return False
        log.warning(
            "fencing epoch %d was taken by %s for older raft term %d; taking it back in term %d",
            holder["epoch"],
            holder["nodeid"],
            holder["term"],
            term,
        )
        self._fenced_term = None
        return True

    async def _announce(self) -> None:
        async with self._db.connection() as conn:
            await repo.run(
                conn,
                "announce_replica",
                {
                    "raft_address": self.self_address,
                    "node_name": self._node_name,
                    "api_url": self.api_url,
                },
            )
        await self._refresh_urls()

    async def _refresh_urls(self) -> None:
        async with self._db.connection() as conn:
            rows = await repo.all_rows(conn, "get_replicas")
        self._urls = {r["raft_address"]: r["api_url"] for r in rows}


def _state_name(state: int | None) -> str:
    names = {
        _RAFT_STATE.FOLLOWER: "follower",
        _RAFT_STATE.CANDIDATE: "candidate",
        _RAFT_STATE.LEADER: "leader",
    }
    return names.get(state, "unknown") if state is not None else "unknown"
