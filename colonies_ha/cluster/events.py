"""Process-change events from Postgres LISTEN/NOTIFY, fanned out inside one replica.

Every transaction that changes a process state sends a NOTIFY, which Postgres delivers
at commit to every replica's listener.  Long-polling assigns and WebSocket subscribers
wait here; because waiters also re-check about every second, a lost listener
connection delays a wake-up but never loses work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from typing import Any

import psycopg

from colonies_ha.store.db import Conn
from colonies_ha.store.queries import Q

log = logging.getLogger(__name__)

CHANNEL = "colonies_ha"
SAFETY_RECHECK_SECONDS = 1.0


def event_of(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "processid": row["processid"],
        "colonyid": row["colonyid"],
        "executortype": row["executortype"],
        "state": row["state"],
        "processgraphid": row.get("processgraphid", ""),
    }


async def notify_processes(conn: Conn, rows: Iterable[dict[str, Any]]) -> None:
    """Queue one NOTIFY per changed process; delivered when the transaction commits."""
    for row in rows:
        await conn.execute(Q["notify"], {"payload": json.dumps(event_of(row))})


class EventHub:
    """One LISTEN connection per replica, and the waiters it wakes."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._colony_signals: dict[str, asyncio.Event] = {}
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="notify-listener")
        await asyncio.wait_for(self._listening.wait(), timeout=30)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    backoff = 0.1
                    self._wake_everyone()  # anything may have changed while we were away
                    async for note in conn.notifies():
                        self._dispatch(json.loads(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("NOTIFY listener lost its connection (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _dispatch(self, event: dict[str, Any]) -> None:
        signal = self._colony_signals.pop(event["colonyid"], None)
        if signal is not None:
            signal.set()
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _wake_everyone(self) -> None:
        signals, self._colony_signals = self._colony_signals, {}
        for signal in signals.values():
            signal.set()

    def colony_signal(self, colonyid: str) -> asyncio.Event:
        """An event set by the next change in the colony; take it *before* looking for work."""
        signal = self._colony_signals.get(colonyid)
        if signal is None:
            signal = self._colony_signals[colonyid] = asyncio.Event()
        return signal

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
