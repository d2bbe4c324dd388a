"""Running a replica in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import uvloop

from colonies_ha.config import ServerConfig
from colonies_ha.replica import Replica
from colonies_ha.workers import WorkerSupervisor, read_spec, serve_worker

T = TypeVar("T")


def run_on_uvloop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop: a replica measured 9-12 % less CPU per signed cycle
    (benchmarks/README.md); PySyncObj, aiohttp and psycopg all run on it unchanged.  The
    benchmarks' load generators run on it too (the queues they compare with do not)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def freeze_startup_heap() -> None:
    """Move everything alive once the process serves (imports, app, pools) out of the
    collector's reach.  Under load CPython otherwise walks that whole heap in every full
    collection: 20-45 ms with the event loop stopped, every 10-15 s, which every reply in
    flight waits out (benchmarks/README.md, *Issue 13, fourth stop*).  What the process
    allocates later is collected as before."""
    gc.collect()
    gc.freeze()


async def run_until_signalled(
    config: ServerConfig, on_started: Callable[[Replica], Awaitable[None]] | None = None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    replica = Replica(config)
    workers: WorkerSupervisor | None = None

    async def start_workers() -> None:
        nonlocal workers
        workers = WorkerSupervisor(config, port=replica.port, primary_url=replica.local_relay_url)
        await workers.start()

    await replica.start(before_serving=start_workers if config.workers > 1 else None)
    freeze_startup_heap()
    try:
        if on_started is not None:
            await on_started(replica)
        await stop.wait()
    finally:
        await replica.stop(after_handover=workers.stop if workers is not None else None)


def run_worker() -> None:
    """A serving worker of `server --workers N` (settings from the primary, on stdin)."""
    run_on_uvloop(serve_worker(read_spec(), on_serving=freeze_startup_heap))
