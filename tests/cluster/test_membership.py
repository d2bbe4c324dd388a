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
from colonies_ha.cluster.raft import RAFT_SETTINGS
from colonies_ha.domain.errors import ColoniesError
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


async def test_a_replica_with_a_wrong_secret_never_becomes_a_member(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    """Two intruders with the wrong secret: one asks to join, one claims the members as
    its Raft peers. Neither gets in, and neither ever leads."""
    leader = await cluster.wait_for_agreed_leader(http)
    members = sorted(r.raft_address for r in cluster.replicas)
    # Not added to cluster.replicas: their peers are the three members, and the cluster's
    # own helpers keep looking at the three alone.
    joiner = cluster._new_replica("intruder-join")
    squatter = cluster._new_replica("intruder-server")
    cluster.start(joiner, verb="join", secret="not-the-secret")
    cluster.start(squatter, secret="not-the-secret")
    try:

        async def cluster_unchanged() -> None:
            for replica in cluster.replicas:
                info = await cluster.owner(replica, http).get_cluster()
                assert sorted(n["raftaddress"] for n in info["nodes"]) == members, info
                # A slow machine may re-elect among the members; never an intruder.
                assert info["leader"].get("raftaddress") in (None, *members), info

        async def squatter_view() -> dict | None:
            try:
                return await cluster.owner(squatter, http).get_cluster()
            except ColoniesError:
                return None  # its API is not up yet

        # Proving a negative needs an observation window: it lasts until the joiner was
        # refused by a member (its log says so) and the squatter, serving, has sat through
        # several election timeouts; meanwhile every observation must show nothing changed.
        window = 3 * RAFT_SETTINGS["raftMaxTimeout"]
        serving_since = None
        deadline = time.monotonic() + 20
        while True:
            await cluster_unchanged()
            view = await squatter_view()
            if view is not None:
                serving_since = serving_since or time.monotonic()
                # It never reached a member: no leader known, never even ran an election.
                assert view["leader"] == {} and view["term"] == 0, view
                assert view["state"] != "leader", view
            joiner_log = joiner.log_path.read_text()
            refused = any(f"join attempt through {m} failed" in joiner_log for m in members)
            if refused and serving_since and time.monotonic() - serving_since >= window:
                break
            assert time.monotonic() < deadline, joiner.log_path.read_text()
            await asyncio.sleep(0.2)  # pace the observations
        # The joiner serves only once admitted: it is still knocking, and its API is down.
        assert joiner.alive and "joined;" not in joiner.log_path.read_text()
        with pytest.raises(ColoniesError, match="cannot reach"):
            await cluster.owner(joiner, http).get_cluster()
        assert sorted(cluster_members(leader.raft_address, cluster.secret)) == members
        assert await cluster.wait_for_agreed_leader(http) in cluster.replicas
    finally:
        for intruder in (joiner, squatter):
            assert intruder.process is not None
            intruder.process.terminate()
            intruder.process.wait(timeout=15)


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
