"""Leadership for a replica that runs alone: it leads once it holds the fencing epoch."""

from __future__ import annotations

import logging
from typing import Any

from colonies_ha.store.db import Database

log = logging.getLogger(__name__)


class StandaloneLeadership:
    """Claims the epoch at start.  If another replica claims it later (a second standalone
    server on the same database), this one stops acting as leader instead of racing it."""

    def __init__(self, db: Database, node_name: str) -> None:
        self._db = db
        self._node_name = node_name
        self._epoch: int | None = None

    async def start(self) -> None:
        self._epoch = await self._db.bump_epoch(self._node_name, term=0)
        log.info("leading alone with fencing epoch %d", self._epoch)

    async def stop(self) -> None:
        self._epoch = None

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
                "fencing epoch %d was superseded by another replica; no longer leading", epoch
            )
            self._epoch = None
