"""Changing the replica count with `kubectl apply` alone: the StatefulSet controller starts the
new pods and replaces the old ones one at a time, highest ordinal first, each with a fresh
emptyDir; the cluster keeps a leader most of the time and ends with the new count's members.

Processes on loopback stand in for pods, as in test_pods_form_cluster: each gets the
rendered manifest's environment with only COLONIES_STATEFULSET_REPLICAS changed (what the
kustomization's `replicas:` does) and the loopback stand-ins of that test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.cluster import scaling
from colonies_ha.cluster.membership import cluster_members
from colonies_ha.cluster.scaling import MembershipKeeper, read_status
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.cluster.test_cluster import make_colony
from tests.deploy.manifests import (
    Doc,
    container,
    dockerfile_argument,
    find,
    of_kind,
    pod_environment,
    secret_data,
)
from tests.deploy.test_pods_form_cluster import (
    NAMESPACE,
    free_port_block,
    process_env,
    program,
)

MOST = 5  # the largest count this test scales to


class Pods:
    """The StatefulSet's pods as the controller would run them, on loopback."""

    def __init__(self, cluster: Cluster, sts: Doc, secrets: dict[str, dict[str, str]]) -> None:
        self.cluster = cluster
        self.sts = sts
        self.secrets = secrets
        entry = json.loads(dockerfile_argument("ENTRYPOINT"))
        self.command = [program(entry[0]), *entry[1:], *container(sts).get("args", [])]
        taken: set[int] = set()
        self.api_base = free_port_block(MOST, taken)
        self.raft_base = free_port_block(MOST, taken)
        self.replicas = [
            ReplicaProcess(
                self.name(i),
                self.api_base + i,
                self.raft_base + i,
                cluster.workdir / f"{self.name(i)}.log",
            )
            for i in range(MOST)
        ]
        self.envs: dict[str, dict[str, str]] = {}
        self.starts = 0

    def name(self, ordinal: int) -> str:
        return f"{self.sts['metadata']['name']}-{ordinal}"

    def start(self, ordinal: int, count: int) -> ReplicaProcess:
        """A new pod: the template with `count`, and an empty emptyDir."""
        replica = self.replicas[ordinal]
        assert not replica.alive
        self.starts += 1
        raft_dir = self.cluster.workdir / replica.name / f"raft-{self.starts}"
        raft_dir.mkdir(parents=True)
        env = pod_environment(self.sts, replica.name, NAMESPACE, self.secrets)
        env |= {
            "COLONIES_STATEFULSET_REPLICAS": str(count),
            "COLONIES_SERVER_HOST": "127.0.0.1",
            "COLONIES_STATEFULSET_HOST": "127.0.0.1",
            "COLONIES_STATEFULSET_PORT_STRIDE": "1",
            "COLONIES_SERVER_PORT": str(self.api_base),
            "COLONIES_RAFT_PORT": str(self.raft_base),
            "COLONIES_RAFT_DATA_DIR": str(raft_dir),
            "COLONIES_PRESTOP_DRAIN_SECONDS": "0",
        }
        self.envs[replica.name] = env
        replica.paused = False
        replica.process = subprocess.Popen(
            self.command,
            env=process_env(env),
            stdout=replica.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if replica not in self.cluster.replicas:
            self.cluster.replicas.append(replica)
        return replica

    async def delete(self, ordinal: int) -> None:
        """A graceful pod deletion: the preStop hook, then SIGTERM (SIGKILL after the
        grace period, as the kubelet would)."""
        replica = self.replicas[ordinal]
        assert replica.process is not None
        prestop = container(self.sts)["lifecycle"]["preStop"]["exec"]["command"]
        await asyncio.to_thread(
            subprocess.run,
            [program(prestop[0]), *prestop[1:]],
            env=process_env(self.envs[replica.name]),
            capture_output=True,
            timeout=30,
            check=False,
        )
        replica.process.terminate()
        try:
            await asyncio.to_thread(replica.process.wait, 10)
        except subprocess.TimeoutExpired:
            self.cluster.kill(replica)

    async def wait_ready(self, ordinal: int, http: aiohttp.ClientSession, within: float) -> None:
        """Until the pod's readiness probe passes (the controller waits for that)."""
        replica = self.replicas[ordinal]
        path = container(self.sts)["readinessProbe"]["httpGet"]["path"]
        deadline = time.monotonic() + within
        while True:
            assert replica.alive, self.cluster.logs()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with asyncio.timeout(2), http.get(replica.url + path) as response:
                    if response.status == 200:
                        return
            assert time.monotonic() < deadline, f"{replica.name} never ready\n{self.cluster.logs()}"
            await asyncio.sleep(0.1)

    async def wait_for_members(self, count: int, within: float) -> list[str]:
        """Until every live pod's Raft names exactly pods 0 … count-1 as members."""
        expected = sorted(r.raft_address for r in self.replicas[:count])
        secret = self.envs[self.replicas[0].name]["COLONIES_CLUSTER_SECRET"]
        deadline = time.monotonic() + within
        while True:
            live = [r for r in self.replicas if r.alive]
            views = {
                r.name: await asyncio.to_thread(members_or_none, r.raft_address, secret)
                for r in live
            }
            if all(v == expected for v in views.values()):
                return expected
            assert time.monotonic() < deadline, f"members {views}\n{self.cluster.logs()}"
            await asyncio.sleep(0.2)

    async def roll(self, count: int, http: aiohttp.ClientSession, ordinals: range) -> None:
        """The rolling update: each pod replaced by one with `count`, once the last is ready."""
        for ordinal in reversed(ordinals):
            await self.delete(ordinal)
            self.start(ordinal, count)
            await self.wait_ready(ordinal, http, within=30)


def members_or_none(address: str, secret: str) -> list[str] | None:
    try:
        return sorted(cluster_members(address, secret, timeout=2))
    except Exception:
        return None


@contextlib.asynccontextmanager
async def leaderless_time(
    cluster: Cluster, http: aiohttp.ClientSession
) -> AsyncIterator[list[float]]:
    """The longest stretch in which no live pod named a leader that was serving."""
    longest = [0.0]

    async def watch() -> None:
        since: float | None = None
        while True:
            views = await cluster.leaders(http, probe_timeout=1.0)
            named = {a for a in views.values() if a}
            leading = [r for r in cluster.replicas if r.alive and r.raft_address in named]
            serving = False
            for replica in leading:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with asyncio.timeout(1), http.get(replica.url + "/ready") as response:
                        serving = serving or response.status == 200
            now = time.monotonic()
            if serving:
                since = None
            else:
                since = since or now
                longest[0] = max(longest[0], now - since)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(watch())
    try:
        yield longest
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def assign_through(
    replica: ReplicaProcess, http: aiohttp.ClientSession, colonyid: str, key: str
) -> None:
    client = ColoniesClient(replica.url, key, session=http)
    submitted = await client.submit(function_spec(colonyid, "worker", args=[replica.name]))
    assigned = await client.assign(colonyid, 10)
    assert assigned["processid"] == submitted["processid"]
    await client.close(assigned["processid"], [replica.name])


async def test_changing_the_count_with_apply_alone_keeps_a_leader_and_ends_consistent(
    rendered: list[Doc], database_url: str, workdir: Path, http: aiohttp.ClientSession
) -> None:
    sts = find(rendered, "StatefulSet", "colonies-ha")
    owner_key = generate_private_key()
    values = {
        "server-id": id_of_private_key(owner_key),
        "cluster-secret": os.urandom(16).hex(),
        "db-password": "unused-next-to-database-url",
    }
    secrets = {
        s["metadata"]["name"]: {key: values[key] for key in secret_data(s)}
        | {"database-url": database_url}
        for s in of_kind(rendered, "Secret")
    }
    cluster = Cluster(database_url, workdir, size=0, server_prvkey=owner_key)
    pods = Pods(cluster, sts, secrets)
    try:
        for ordinal in range(3):  # the first apply: three pods at once, a fresh cluster
            pods.start(ordinal, 3)
        await cluster.wait_for_agreed_leader(http, within=30)
        await pods.wait_for_members(3, within=10)
        _, colonyid, (key,) = await make_colony(cluster, http)

        # count: 3 -> 5.  The controller creates pods 3 and 4, and replaces 2, 1, 0.
        async with leaderless_time(cluster, http) as up_gap:
            for ordinal in (3, 4):
                pods.start(ordinal, 5)
            for ordinal in (3, 4):
                await pods.wait_ready(ordinal, http, within=30)
            await pods.roll(5, http, range(3))
            leader = await cluster.wait_for_agreed_leader(http, within=20)
            await pods.wait_for_members(5, within=20)
        info = await cluster.owner(leader, http).get_cluster()
        assert sorted(n["raftaddress"] for n in info["nodes"]) == sorted(
            r.raft_address for r in pods.replicas
        )
        for replica in (pods.replicas[0], pods.replicas[4]):
            await assign_through(replica, http, colonyid, key)

        # count: 5 -> 3.  The controller deletes pods 4 and 3, and replaces 2, 1, 0.
        async with leaderless_time(cluster, http) as down_gap:
            for ordinal in (4, 3):
                await pods.delete(ordinal)
            await pods.roll(3, http, range(3))
            await cluster.wait_for_agreed_leader(http, within=20)
            await pods.wait_for_members(3, within=20)
        for replica in pods.replicas[:3]:
            await assign_through(replica, http, colonyid, key)
        secret = values["cluster-secret"]
        for replica in pods.replicas[:3]:
            status = await asyncio.to_thread(read_status, replica.raft_address, secret)
            assert status is not None and status["partner_nodes_count"] == 2
        # Scaling up costs at most an election; scaling down, at most the restart of the
        # first replaced pod (3 of 5 members are gone until it is back).
        gaps = f"longest without a leader: up {up_gap[0]:.2f} s, down {down_gap[0]:.2f} s"
        print(gaps)
        assert up_gap[0] < 5 and down_gap[0] < 15, gaps
    finally:
        for replica in pods.replicas:
            if replica.alive:
                cluster.kill(replica)


class FakeNode:
    def __init__(self, address: str) -> None:
        self.address = address


def fake_status(self_address: str, *, leader: str, members: dict[str, int]) -> dict:
    """PySyncObj's status as a node reports it: 2 for a connected partner, 0 if not."""
    status = {"self": FakeNode(self_address), "leader": FakeNode(leader), "raft_term": 1}
    status["state"] = 2 if leader == self_address else 0
    for address, connected in members.items():
        if address != self_address:
            status["partner_node_status_server_" + address] = connected
    return status


def keeper_deciding(
    monkeypatch: pytest.MonkeyPatch, statuses: dict[str, dict], now: list[float]
) -> MembershipKeeper:
    monkeypatch.setattr(scaling, "read_status", lambda address, secret: statuses.get(address))
    keeper = MembershipKeeper("p0", ["p1", "p2"], "s", grace=2.0, clock=lambda: now[0])
    monkeypatch.setattr(keeper, "_ask", lambda leader, verb, member: f"{verb} {member} @{leader}")
    return keeper


def test_the_keeper_removes_only_members_outside_its_list_that_stay_disconnected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    members = {"p0": 2, "p1": 2, "p2": 2, "p3": 2, "p4": 0}
    leader = fake_status("p1", leader="p1", members=members)
    statuses = {"p0": fake_status("p0", leader="p1", members=members), "p1": leader}
    keeper = keeper_deciding(monkeypatch, statuses, now)
    assert keeper.step() is None  # p4 only just seen disconnected; p3 is connected
    now[0] += 1.9
    assert keeper.step() is None
    now[0] += 0.2
    assert keeper.step() == "remove p4 @p1"
    leader["partner_node_status_server_p4"] = 2  # back before it was removed: forgiven
    assert keeper.step() is None
    leader["partner_node_status_server_p3"] = 0
    now[0] += 1.0
    assert keeper.step() is None  # the grace starts again from the first look
    now[0] += 2.0
    assert keeper.step() == "remove p3 @p1"


def test_the_keeper_asks_to_be_added_back_and_never_removes_the_leader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    members = {"p1": 2, "p2": 2, "p9": 2}
    leader = fake_status("p9", leader="p9", members=members)  # a leader outside the list
    # p0 was removed while away: the others do not talk to it, so it knows no leader.
    statuses = {"p0": {"self": FakeNode("p0"), "leader": None, "state": 0}, "p9": leader}
    statuses["p1"] = fake_status("p1", leader="p9", members=members)
    statuses["p2"] = fake_status("p2", leader="p9", members=members)
    keeper = keeper_deciding(monkeypatch, statuses, now)
    assert keeper.step() == "add p0 @p9"
    members["p0"] = 2
    statuses["p9"] = fake_status("p9", leader="p9", members=members)
    statuses["p0"] = fake_status("p0", leader="p9", members=members)
    now[0] += 10
    assert keeper.step() is None
    assert keeper.step() is None
