"""Runs the leader-only scans about once per interval while this replica leads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from colonies_ha.domain.errors import DatabaseUnavailable, NotLeader
from colonies_ha.services.context import Context
from colonies_ha.store.db import BOUNDS, UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

Scan = Callable[[Context, int], Awaitable[int]]


class ScanRunner:
    def __init__(self, ctx: Context, scans: dict[str, Scan], interval: float) -> None:
        self._ctx = ctx
        self._scans = scans
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="leader-scans")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            epoch = self._ctx.leadership.epoch
            if epoch is None:
                continue
            for name, scan in self._scans.items():
                await self._run_one(name, scan, epoch)

    async def _run_one(self, name: str, scan: Scan, epoch: int) -> None:
        try:
            async with asyncio.timeout(BOUNDS.background):  # a paused database answers nothing
                changed = await scan(self._ctx, epoch)
            if changed:
                self._ctx.metrics.scan_actions.labels(name).inc(changed)
                log.debug("%s scan changed %d rows", name, changed)
        except NotLeader:
            self._ctx.leadership.lost(epoch)
        except (TimeoutError, DatabaseUnavailable, *UNAVAILABLE_ERRORS) as exc:
            log.warning("%s scan: database unavailable (%r); runs again next interval", name, exc)
        except Exception:
            log.exception("%s scan failed; it runs again next interval", name)
