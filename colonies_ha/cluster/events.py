"""Process-change events from Postgres LISTEN/NOTIFY, fanned out inside one replica.

Every transaction that changes a process state sends a NOTIFY (one per process, or, from a
statement that changes a batch of them, one listing up to 20 of them), which Postgres
delivers at commit to every replica's listener.  Long-polling assigns and WebSocket
subscribers wait here.  A NOTIFY sent while the listener is disconnected is gone, so nothing
relies on one alone: waiters for one process or for work re-check about every second, and
after a reconnect every subscriber gets a *resync* event naming the database time since
which it may have missed changes (the listener proves it is alive with a query every few
seconds, so that time is known), and streams re-read what changed since then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from colonies_ha.domain.states import ProcessState
from colonies_ha.store.db import Conn, connection_kwargs
from colonies_ha.store.queries import Q

log = logging.getLogger(__name__)

CHANNEL = "colonies_ha"
# Wake-ups by name (a process channel's "<processid>/<name>"): the payload is the topic.
# Waiters re-read the database on waking, so a lost one only delays them to the re-check.
TOPICS = "colonies_ha_topics"
SAFETY_RECHECK_SECONDS = 1.0
LISTENER_NAME = "colonies-ha-listener"  # application_name: easy to find in pg_stat_activity
HEARTBEAT_SECONDS = 5.0  # an idle listener runs a query this often to prove it is alive
HEARTBEAT_TIMEOUT_SECONDS = 5.0
# How far before the last proof of life a resync looks: longer than a transaction runs
# between its now() (what it stamps on rows) and its commit (when its NOTIFY is sent).
RESYNC_MARGIN = timedelta(seconds=10)
RESYNC_SINCE = "resync_since"  # the key of a resync event; it has no process fields


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


async def notify_topic(conn: Conn, topic: str) -> None:
    """Wake the topic's waiters on every replica when the transaction commits."""
    await conn.execute(Q["notify_topic"], {"topic": topic})


class EventHub:
    """One LISTEN connection per replica, and the waiters it wakes."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._colony_signals: dict[str, asyncio.Event] = {}
        # Weak: a topic nobody waits for any more (its stream ended) leaves no entry behind.
        self._topic_signals: weakref.WeakValueDictionary[str, asyncio.Event] = (
            weakref.WeakValueDictionary()
        )
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
        alive_at: datetime | None = None  # DB time up to which every NOTIFY was received
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    application_name=LISTENER_NAME,
                    **connection_kwargs(self._url),
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {TOPICS}")
                    listening_since = await _db_now(conn)
                    self._listening.set()
                    backoff = 0.1
                    self._wake_everyone()  # anything may have changed while we were away
                    if alive_at is not None:
                        self._resync(alive_at - RESYNC_MARGIN)
                    alive_at = listening_since
                    while True:
                        async for note in conn.notifies(timeout=HEARTBEAT_SECONDS):
                            if note.channel == TOPICS:
                                self._wake_topic(note.payload)
                            else:
                                self._dispatch_payload(note.payload)
                        # NOTIFYs arriving meanwhile wait in psycopg's backlog for the
                        # next notifies(); the query's time bounds what was received.
                        alive_at = await asyncio.wait_for(_db_now(conn), HEARTBEAT_TIMEOUT_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("NOTIFY listener lost its connection (%r); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def _dispatch_payload(self, payload: str) -> None:
        """One NOTIFY: an event, or a list of events (a batch statement announces the rows
        it changed in one NOTIFY per few dozen, not one each)."""
        decoded = json.loads(payload)
        for event in decoded if isinstance(decoded, list) else (decoded,):
            self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        # Only a process that is (again) waiting can be work for a long-polling assign: a
        # claim or a close wakes nobody, or every waiter of the colony would look again
        # for each of them and find nothing.
        if event["state"] == ProcessState.WAITING:
            signal = self._colony_signals.pop(event["colonyid"], None)
            if signal is not None:
                signal.set()
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _resync(self, since: datetime) -> None:
        log.info("NOTIFY listener is back; subscribers re-read changes since %s", since)
        for queue in self._subscribers:
            queue.put_nowait({RESYNC_SINCE: since})

    def _wake_everyone(self) -> None:
        signals, self._colony_signals = self._colony_signals, {}
        topics = list(self._topic_signals.values())
        self._topic_signals.clear()
        for signal in [*signals.values(), *topics]:
            signal.set()

    def _wake_topic(self, topic: str) -> None:
        signal = self._topic_signals.pop(topic, None)
        if signal is not None:
            signal.set()

    def topic_signal(self, topic: str) -> asyncio.Event:
        """An event set by the next notify_topic(topic); take it *before* reading."""
        signal = self._topic_signals.get(topic)
        if signal is None:
            signal = self._topic_signals[topic] = asyncio.Event()
        return signal

    def colony_signal(self, colonyid: str) -> asyncio.Event:
        """An event set when a process of the colony next becomes waiting (or the listener
        reconnects); take it *before* looking for work."""
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


async def _db_now(conn: psycopg.AsyncConnection[Any]) -> datetime:
    """The database's clock: row stamps and resync times must come from one clock."""
    cur = await conn.execute(Q["db_now"])
    row = await cur.fetchone()
    assert row is not None
    return row[0]
