"""Process channels: append, read and follow, stored in PostgreSQL so every replica serves
them; an append wakes followers on every replica through NOTIFY (EventHub topics).

Order: entries keep the order in which appends committed (dense positions), and a reader's
`afterseq` is the number of entries it already has.  Upstream orders one sender's entries
by their client-assigned `sequence`; senders that number their messages upwards, as
pycolonies and the upstream SDKs do, see the same order here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from colonies_ha.cluster.events import SAFETY_RECHECK_SECONDS, notify_topic
from colonies_ha.domain import channels as ch
from colonies_ha.domain.errors import Conflict, NotFound, TooManyRequests
from colonies_ha.services import auth
from colonies_ha.services.context import Context
from colonies_ha.store import repo
from colonies_ha.store.db import Conn

Json = dict[str, Any]
Send = Callable[[list[Json]], Awaitable[None]]
_BUCKETS_KEPT = 10_000  # per replica; full (idle) buckets are dropped beyond this
_buckets: dict[str, ch.TokenBucket] = {}


@dataclass(frozen=True, slots=True)
class Ref:
    """One channel: a process's channel of that name."""

    processid: str
    name: str


@dataclass(frozen=True, slots=True)
class Append:
    processid: str
    name: str
    sequence: int
    inreplyto: int
    payload: bytes
    type: str


def _rate_limited(processid: str) -> None:
    """Upstream's per-process limit, kept by each replica for the appends it serves."""
    now = time.monotonic()
    if len(_buckets) > _BUCKETS_KEPT:
        for key in [k for k, b in _buckets.items() if b.full(now)]:
            del _buckets[key]
    bucket = _buckets.setdefault(processid, ch.TokenBucket())
    if not bucket.allow(now):
        raise TooManyRequests(f"rate limit exceeded for the channels of process {processid}")


async def _open_process(
    conn: Conn, caller_id: str, processid: str, name: str, *, lock: bool
) -> Json:
    """The process, once the caller may use its channel `name` and the channel exists."""
    query = "lock_process_for_channel" if lock else "get_process"
    process = await repo.one(conn, query, {"processid": processid})
    if process is None:
        raise NotFound(f"process {processid} not found")
    await auth.require_channel_party(conn, caller_id, process)
    if not ch.declared(process, name):
        raise NotFound(f"channel '{name}' not found for process {processid}")
    return process


async def append(ctx: Context, caller_id: str, entry: Append) -> None:
    async with ctx.db.transaction() as conn:
        await _open_process(conn, caller_id, entry.processid, entry.name, lock=True)
        _rate_limited(entry.processid)
        key = {"processid": entry.processid, "name": entry.name}
        await repo.run(conn, "open_channel", key)
        row = await repo.one(conn, "channel_next_position", {**key, "max_entries": ch.MAX_ENTRIES})
        if row is None:
            raise Conflict(f"channel '{entry.name}' is full ({ch.MAX_ENTRIES} entries)")
        await repo.run(
            conn,
            "insert_channel_entry",
            {
                **key,
                "position": row["position"],
                "sequence": entry.sequence,
                "inreplyto": entry.inreplyto,
                "senderid": caller_id,
                "payload": entry.payload,
                "type": entry.type or ch.DATA,
            },
        )
        await notify_topic(conn, ch.topic(entry.processid, entry.name))


async def _entries(conn: Conn, processid: str, name: str, after: int, limit: int) -> list[Json]:
    params = {
        "processid": processid,
        "name": name,
        "afterseq": max(after, 0),
        "limit": limit if limit > 0 else None,
    }
    return [ch.entry_json(r) for r in await repo.all_rows(conn, "read_channel", params)]


async def read(ctx: Context, caller_id: str, ref: Ref, after: int, limit: int) -> list[Json]:
    async with ctx.db.connection() as conn:
        await _open_process(conn, caller_id, ref.processid, ref.name, lock=False)
        return await _entries(conn, ref.processid, ref.name, after, limit)


async def follow(
    ctx: Context, caller_id: str, ref: Ref, after: int, *, timeout: float, send: Send
) -> None:
    """Send what is there after `after`, then each new batch, until `timeout` passes or the
    process finishes (after its last entries were sent)."""
    processid, name = ref.processid, ref.name
    async with ctx.db.connection() as conn:
        await _open_process(conn, caller_id, processid, name, lock=False)
    deadline = time.monotonic() + timeout
    topic = ch.topic(processid, name)
    while True:
        signal = ctx.events.topic_signal(topic)  # before reading: no append slips by
        async with ctx.db.connection() as conn:
            process = await repo.get_process(conn, processid)
            entries = await _entries(conn, processid, name, after, 0)
        if entries:
            await send(entries)
            after += len(entries)
        if process is None or not ch.declared(process, name):
            return  # finished (or removed): everything appended before has been sent
        left = deadline - time.monotonic()
        if left <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(left, SAFETY_RECHECK_SECONDS)):
                await signal.wait()
