"""Shared test scaffolding: a replica on loopback and a colony with an approved executor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.config import ServerConfig
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.replica import Replica


@dataclass
class ServerEnv:
    replica: Replica
    server_prvkey: str
    clients: list[ColoniesClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.replica.url

    def client(self, prvkey: str | None = None) -> ColoniesClient:
        client = ColoniesClient(self.url, prvkey)
        self.clients.append(client)
        return client

    @property
    def owner(self) -> ColoniesClient:
        return self.client(self.server_prvkey)

    async def new_colony(self, executortype: str = "worker") -> ColonyEnv:
        colony_prvkey = generate_private_key()
        colonyid = id_of_private_key(colony_prvkey)
        await self.owner.add_colony(colonyid, f"colony-{colonyid[:8]}")
        env = ColonyEnv(self, colony_prvkey, colonyid, executortype)
        env.executor = await env.new_executor()
        return env

    async def stop(self) -> None:
        for client in self.clients:
            await client.aclose()
        await self.replica.stop()


@dataclass
class ColonyEnv:
    server: ServerEnv
    colony_prvkey: str
    colonyid: str
    executortype: str
    executor: ColoniesClient = None  # type: ignore[assignment]

    @property
    def owner(self) -> ColoniesClient:
        return self.server.client(self.colony_prvkey)

    async def new_executor(
        self, executortype: str | None = None, *, approve: bool = True, name: str | None = None
    ) -> ColoniesClient:
        prvkey = generate_private_key()
        executor = self.server.client(prvkey)
        await self.owner.add_executor(
            executor.id,
            self.colonyid,
            executortype or self.executortype,
            name or f"executor-{executor.id[:8]}",
        )
        if approve:
            await self.owner.approve_executor(executor.id)
        return executor

    def spec(self, funcname: str = "echo", **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("args", [])
        return function_spec(
            self.colonyid, kwargs.pop("executortype", self.executortype), funcname, **kwargs
        )

    async def close(self) -> None:
        pass


async def start_server(database_url: str, **overrides: Any) -> ServerEnv:
    server_prvkey = generate_private_key()
    config = ServerConfig(
        database_url=database_url,
        server_id=id_of_private_key(server_prvkey),
        host="127.0.0.1",
        port=0,
        **overrides,
    )
    replica = Replica(config)
    await replica.start()
    return ServerEnv(replica, server_prvkey)


async def start_another_replica(server: ServerEnv) -> ServerEnv:
    """A second standalone replica on the same database and server key.

    Its StandaloneLeadership bumps the fencing epoch, so from then on it leads and the
    first replica answers leader-only requests with 503.
    """
    config = ServerConfig(
        database_url=server.replica.config.database_url,
        server_id=server.replica.config.server_id,
        host="127.0.0.1",
        port=0,
        node_name=f"{server.replica.config.node_name}-2",
    )
    replica = Replica(config)
    await replica.start()
    return ServerEnv(replica, server.server_prvkey)


async def drain(
    executor: ColoniesClient,
    colonyid: str,
    handed_out: Counter[str],
    check: Callable[[ColoniesClient, dict[str, Any]], None] | None = None,
) -> None:
    """Assign and close until the queue stays empty for a 1 s long poll, counting hand-outs."""
    while True:
        try:
            process = await executor.assign(colonyid, 1)
        except ColoniesError as error:
            assert error.status == 404, error.message
            return
        handed_out[process["processid"]] += 1
        if check is not None:
            check(executor, process)
        await executor.close(process["processid"], process["spec"]["args"])
