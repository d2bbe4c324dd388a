"""Membership: a replica joins a running cluster and can lead it; the cluster secret is
required outside dev mode and a wrong one gets nowhere."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import aiohttp
import pytest
from pysyncobj.utility import TcpUtility

from colonies_ha.chaos.local_cluster import Cluster
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.cluster.membership import JoinError, cluster_members
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.cluster.test_cluster import make_colony


async def test_a_joined_replica_becomes_a_member_and_can_lead(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    leader = await cluster.wait_for_agreed_leader(http)
    _, colonyid, (key,) = await make_colony(cluster, http)
    newcomer = cluster._new_replica("replica-3")
    cluster.replicas.append(newcomer)
    cluster.start(
        newcomer, verb="join", extra=["--raft-data-dir", str(cluster.workdir / "raft-replica-3")]
    )
    # Every member, the newcomer included, names the same leader and lists four nodes.
    assert await cluster.wait_for_agreed_leader(http) is leader
    for replica in cluster.replicas:
        info = await cluster.owner(replica, http).get_cluster()
        assert sorted(n["raftaddress"] for n in info["nodes"]) == sorted(
            r.raft_address for r in cluster.replicas
        ), replica.name
    # Hand leadership to the newcomer (refused until it has caught up with the log, and
    # asynchronous: the leader changes a moment after the command is accepted).
    deadline = time.monotonic() + 30
    current = leader
    while current is not newcomer:
        assert time.monotonic() < deadline, f"leadership stayed with {current.name}"
        TcpUtility(cluster.secret, timeout=5).executeCommand(
            current.raft_address, ["transfer", newcomer.raft_address]
        )
        await asyncio.sleep(0.2)  # pace the retries of the command
        current = await cluster.wait_for_agreed_leader(http)
    client = ColoniesClient(cluster.replicas[0].url, key, session=http)
    submitted = await client.submit(function_spec(colonyid, "worker"))
    assert (await client.assign(colonyid, 10))["processid"] == submitted["processid"]
    info = await cluster.owner(cluster.replicas[0], http).get_cluster()
    assert info["leader"]["raftaddress"] == newcomer.raft_address


async def test_a_wrong_cluster_secret_reads_nothing(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    leader = await cluster.wait_for_agreed_leader(http)
    assert sorted(cluster_members(leader.raft_address, cluster.secret)) == sorted(
        r.raft_address for r in cluster.replicas
    )
    with pytest.raises(JoinError):
        cluster_members(leader.raft_address, "not-the-secret", timeout=2)


def test_raft_without_a_cluster_secret_is_refused(database_url: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "colonies_ha",
            "server",
            "--server-id",
            id_of_private_key(generate_private_key()),
            "--database-url",
            database_url,
            "--raft-self",
            "127.0.0.1:1",
            "--peers",
            "127.0.0.1:2",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cluster secret is required" in result.stderr
