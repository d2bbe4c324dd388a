"""A real replica in a background thread, so click's runner can `asyncio.run` in the test's."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from colonies_ha.client import ColoniesClient
from colonies_ha.config import ServerConfig
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.replica import Replica

T = TypeVar("T")
EXECUTOR_TYPE = "cli"


class LoopThread:
    """An event loop of its own on a daemon thread; `run` waits for a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def start_replica(database_url: str, server_id: str) -> Replica:
    config = ServerConfig(database_url=database_url, server_id=server_id, host="127.0.0.1", port=0)
    replica = Replica(config)
    await replica.start()
    return replica


async def add_colony_and_executor(url: str, keys: dict[str, str]) -> None:
    async with ColoniesClient(url, keys["server"]) as owner:
        colonyid = id_of_private_key(keys["colony"])
        await owner.add_colony(colonyid, "cli-test")
        colony = owner.with_key(keys["colony"])
        executorid = id_of_private_key(keys["executor"])
        await colony.add_executor(executorid, colonyid, EXECUTOR_TYPE, "cli-executor")
        await colony.approve_executor(executorid)


@pytest.fixture
def cli_env(database_url: str) -> Iterator[dict[str, str]]:
    """The COLONIES_* variables `colonies-ha dev` prints, for a fresh replica and colony."""
    keys = {role: generate_private_key() for role in ("server", "colony", "executor")}
    loop = LoopThread()
    replica = loop.run(start_replica(database_url, id_of_private_key(keys["server"])))
    try:
        loop.run(add_colony_and_executor(replica.url, keys))
        yield {
            "COLONIES_SERVER_HOST": "127.0.0.1",
            "COLONIES_SERVER_PORT": str(replica.port),
            "COLONIES_TLS": "false",
            "COLONIES_SERVER_ID": id_of_private_key(keys["server"]),
            "COLONIES_SERVER_PRVKEY": keys["server"],
            "COLONIES_COLONY_ID": id_of_private_key(keys["colony"]),
            "COLONIES_COLONY_PRVKEY": keys["colony"],
            "COLONIES_EXECUTOR_ID": id_of_private_key(keys["executor"]),
            "COLONIES_EXECUTOR_PRVKEY": keys["executor"],
            "COLONIES_EXECUTOR_TYPE": EXECUTOR_TYPE,
        }
    finally:
        loop.run(replica.stop())
        loop.close()
