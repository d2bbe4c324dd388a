"""Leadership for a replica that runs alone: it leads once it holds the fencing epoch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from colonies_ha.store.db import Database

log = logging.getLogger(__name__)


RETAKE_AFTER_SECONDS = 15.0


class StandaloneLeadership:
    """Claims the epoch at start.  If another replica claims it later (a second standalone
    server on the same database: a misconfiguration), this one stops acting as leader at
    once, says so loudly (and /ready turns 503), and claims the epoch back after
    `retake_after` seconds: the other server may have been a short-lived mistake, and a
    replica that never led again would silently stop assigning and scanning.  Two servers
    that both stay up take turns; the fence keeps every claim single either way."""

    def __init__(
        self, db: Database, node_name: str, *, retake_after: float = RETAKE_AFTER_SECONDS
    ) -> None:
        self._db = db
        self._node_name = node_name
        self._epoch: int | None = None
        self.retake_after = retake_after
        self._retake: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._epoch = await self._db.bump_epoch(self._node_name, term=0)
        log.info("leading alone with fencing epoch %d", self._epoch)

    async def stop(self) -> None:
        self._epoch = None
        if self._retake is not None:
            self._retake.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retake

    @property
    def epoch(self) -> int | None:
        return self._epoch

    def leader_address(self) -> str | None:
        return self._node_name if self._epoch is not None else None

    def leader_api_url(self) -> str | None:
        return None

    async def wait_for_leader_url(self, within: float) -> str | None:
        return None

    def status(self) -> dict[str, Any]:
        return {
            "self": self._node_name,
            "leader": self.leader_address(),
            "term": 0,
            "epoch": self._epoch,
            "state": "standalone",
            "members": [self._node_name],
            "urls": {},
        }

    def lost(self, epoch: int) -> None:
        if self._epoch == epoch:
            log.error(
                "fencing epoch %d was taken by another server on this database; no longer "
                "leading, taking it back in %.0f s.  Run replicas that share a database as "
                "one Raft cluster (--raft-self/--raft-peers), not as standalone servers",
                epoch,
                self.retake_after,
            )
            self._epoch = None
            if self._retake is None or self._retake.done():
                self._retake = asyncio.get_running_loop().create_task(self._retake_later())

    async def _retake_later(self) -> None:
        await asyncio.sleep(self.retake_after)
        self._epoch = await self._db.bump_epoch(self._node_name, term=0)
        log.warning("leading alone again with fencing epoch %d", self._epoch)
