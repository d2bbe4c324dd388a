"""Three real replicas over one PostgreSQL: any of them serves any request."""

from __future__ import annotations

import aiohttp

from colonies_ha.chaos.local_cluster import Cluster
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key


async def make_colony(
    cluster: Cluster, http: aiohttp.ClientSession, executors: int = 1
) -> tuple[str, str, list[str]]:
    """A colony with approved executors, created through the first replica."""
    first = cluster.replicas[0]
    colony_prvkey = generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    await cluster.owner(first, http).add_colony(colonyid, "ha")
    owner = ColoniesClient(first.url, colony_prvkey, session=http)
    keys = []
    for index in range(executors):
        key = generate_private_key()
        await owner.add_executor(id_of_private_key(key), colonyid, "worker", f"w{index}")
        await owner.approve_executor(id_of_private_key(key))
        keys.append(key)
    return colony_prvkey, colonyid, keys


async def test_every_replica_serves_the_lifecycle_and_agrees_on_the_leader(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    leader = await cluster.wait_for_agreed_leader(http)
    _, colonyid, (key,) = await make_colony(cluster, http)
    for replica in cluster.replicas:
        client = ColoniesClient(replica.url, key, session=http)
        submitted = await client.submit(function_spec(colonyid, "worker", args=[replica.name]))
        assigned = await client.assign(colonyid, 10)
        assert assigned["processid"] == submitted["processid"]
        await client.close(assigned["processid"], [replica.name])
        assert (await client.get_process(assigned["processid"]))["out"] == [replica.name]
        graph = await client.submit_workflow(
            colonyid,
            [
                function_spec(colonyid, "worker", "a", nodename="a"),
                function_spec(colonyid, "worker", "b", nodename="b", dependencies=["a"]),
            ],
        )
        for _ in range(2):
            process = await client.assign(colonyid, 10)
            await client.close(process["processid"], [1])
        assert (await client.get_processgraph(graph["processgraphid"]))["state"] == 2
    views = await cluster.leaders(http)
    assert set(views.values()) == {leader.raft_address}
    info = await cluster.owner(cluster.replicas[1], http).get_cluster()
    assert sorted(n["raftaddress"] for n in info["nodes"]) == sorted(
        r.raft_address for r in cluster.replicas
    )
    assert info["epoch"] >= 1 and info["term"] >= 1
