"""Running a replica in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from colonies_ha.config import ServerConfig
from colonies_ha.replica import Replica


async def run_until_signalled(
    config: ServerConfig, on_started: Callable[[Replica], Awaitable[None]] | None = None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    replica = Replica(config)
    await replica.start()
    try:
        if on_started is not None:
            await on_started(replica)
        await stop.wait()
    finally:
        await replica.stop()
