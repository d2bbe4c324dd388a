"""Group commit: requests that arrive while a batch is in flight share the next round trip.

A replica serves one process per request, but nothing stops it from batching *between*
requests: while one statement is on its way to PostgreSQL, the submits (or closes, or claims
for one colony and executor type) that arrive queue up, and the next statement carries all
of them.  There is no timer: a lone request starts its batch at once (on the next turn of
the event loop, so requests of the same tick go together), and the batch size grows only
with the load.  Each caller still gets its own result or its own error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

KeyT = TypeVar("KeyT", bound=Hashable)
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

# A batch function gets the key and the items, and returns one result per item, in order;
# an exception object in that list is raised to that item's caller alone.  An exception
# raised by the batch function itself reaches every caller of the batch.
BatchFn = Callable[[KeyT, list[ItemT]], Awaitable[list[ResultT | BaseException]]]

MAX_BATCH = 64


class Coalescer(Generic[KeyT, ItemT, ResultT]):
    """Batches of items per key, at most one batch in flight per key."""

    def __init__(self, *, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._pending: dict[KeyT, list[tuple[ItemT, asyncio.Future[ResultT]]]] = {}
        self._draining: dict[KeyT, asyncio.Task[None]] = {}
        self.batches = 0  # batches run, and the items they carried: the mean batch size
        self.items = 0

    async def run(self, key: KeyT, item: ItemT, batch: BatchFn[KeyT, ItemT, ResultT]) -> ResultT:
        """The result of `item`, computed by `batch` together with whatever else is queued
        under `key` (every caller of one key passes the same function)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        self._pending.setdefault(key, []).append((item, future))
        if key not in self._draining:
            self._draining[key] = loop.create_task(self._drain(key, batch))
        return await future

    async def _drain(self, key: KeyT, batch: BatchFn[KeyT, ItemT, ResultT]) -> None:
        try:
            while queue := self._pending.get(key):
                taken = queue[: self.max_batch]
                del queue[: self.max_batch]
                # A caller that was cancelled meanwhile has nobody to answer.
                taken = [(item, future) for item, future in taken if not future.done()]
                if taken:
                    self.batches += 1
                    self.items += len(taken)
                    await self._one_batch(key, taken, batch)
                if not self._pending.get(key):
                    self._pending.pop(key, None)
        finally:
            self._draining.pop(key, None)
            # Callers queued while this task was being torn down must not be stranded.
            for _, future in self._pending.pop(key, []):
                if not future.done():
                    future.cancel()

    @staticmethod
    async def _one_batch(
        key: KeyT,
        taken: list[tuple[ItemT, asyncio.Future[ResultT]]],
        batch: BatchFn[KeyT, ItemT, ResultT],
    ) -> None:
        try:
            results = await batch(key, [item for item, _ in taken])
        except asyncio.CancelledError:
            for _, future in taken:
                future.cancel()
            raise
        except Exception as exc:  # every caller of the batch gets it
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
            return
        if len(results) != len(taken):  # a bug in the batch function: nobody may hang
            error = RuntimeError("a batch function returned the wrong number of results")
            results = [error] * len(taken)
        for (_, future), result in zip(taken, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


@dataclass(slots=True)
class Batches:
    """The coalescers of one replica (see colonies_ha.services.batches for their batches)."""

    executor: Coalescer[Any, Any, Any] = field(default_factory=Coalescer)
    submit: Coalescer[Any, Any, Any] = field(default_factory=Coalescer)
    close: Coalescer[Any, Any, Any] = field(default_factory=Coalescer)
    claim: Coalescer[Any, Any, Any] = field(default_factory=Coalescer)

    def counts(self) -> dict[str, tuple[int, int]]:
        """(batches run, requests carried) by kind, for the metrics."""
        kinds = (
            ("executor", self.executor),
            ("submit", self.submit),
            ("close", self.close),
            ("claim", self.claim),
        )
        return {kind: (c.batches, c.items) for kind, c in kinds}
