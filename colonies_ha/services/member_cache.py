"""Callers admitted to a colony by submit and assign, remembered for a moment.

Every submit and assign used to look its caller up before doing anything: one round trip of
two on the hot path, for an answer that changes only when a colony owner rejects or removes
an executor or user, or the server owner removes the colony.  Those changes now announce
themselves (a NOTIFY on `MEMBERSHIP_TOPIC`, sent by the transaction that makes them), and
each replica forgets everything it remembered when one arrives, when its listener
reconnects (NOTIFYs may have been missed), and at the latest `TTL_SECONDS` after a lookup.
The replica that makes the change forgets at once, after its commit, so its own next request
already sees it.

What a moment-old admission can still let through is bounded: a submit by a caller removed
on another replica in the few milliseconds before the NOTIFY reaches this one (the same
window the separate lookup-then-insert always had), and never a claim, because the leader's
claim admits every waiter again under row locks (migration 0010).  Only successful
admissions are kept: a refusal is looked up again every time, so an approval takes effect
at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from colonies_ha.cluster.events import EventHub

MEMBERSHIP_TOPIC = "membership"
TTL_SECONDS = 2.0
MAX_ENTRIES = 50_000  # past this everything is forgotten: one lookup each to refill

MemberT = TypeVar("MemberT")


class MemberCache(Generic[MemberT]):
    def __init__(
        self, events: EventHub, *, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._events = events
        self.ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, MemberT]] = {}
        self._signal: asyncio.Event | None = None
        self._generation = 0  # moves on every forgetting: a lookup begun before is not kept
        self.hits = 0  # admissions answered from memory

    async def admit(self, key: Hashable, lookup: Callable[[], Awaitable[MemberT]]) -> MemberT:
        """The remembered admission under `key`, or `lookup()`'s (which raises to refuse)."""
        self._forget_if_announced()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            self.hits += 1
            return entry[1]
        generation = self._generation
        member = await lookup()
        self._forget_if_announced()
        if generation == self._generation:  # nothing changed while we looked
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (now + self.ttl, member)
        return member

    def forget_all(self) -> None:
        """After a membership change this replica committed."""
        self._entries.clear()
        self._generation += 1

    def _forget_if_announced(self) -> None:
        # The hub's topic signal is set by the next NOTIFY on the topic, and by a reconnect
        # of the listener; a fresh one is taken each time it fired.
        if self._signal is None or self._signal.is_set():
            if self._signal is not None:
                self.forget_all()
            self._signal = self._events.topic_signal(MEMBERSHIP_TOPIC)
