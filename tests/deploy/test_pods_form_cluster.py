"""The image's entry command, run with the environment the StatefulSet gives its pods, forms
a cluster; the preStop command then hands leadership to another pod.

Three processes on loopback stand in for three pods.  Their environment is the rendered
manifest's, resolved as the kubelet would (pod name and namespace from the downward API,
Secret keys with this test's values), with only the stand-ins below changed, each because
three "pods" here share one host and one IP address.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.deploy.manifests import (
    Doc,
    container,
    dockerfile_argument,
    find,
    of_kind,
    pod_environment,
    secret_data,
)

NAMESPACE = "colonies-test"
# Settings the manifest leaves to their defaults, given here.
ADDED = {
    "COLONIES_SERVER_HOST",  # pods listen on their own IP (0.0.0.0); here on loopback only
    "COLONIES_STATEFULSET_HOST",  # 127.0.0.1 instead of the per-pod DNS names
    "COLONIES_STATEFULSET_PORT_STRIDE",  # one IP for all: pod i's ports shifted by i
}
# Settings the manifest sets, replaced here.
REPLACED = {
    "COLONIES_SERVER_PORT",  # free ports, not 50080 and 50090 (maybe in use on this host)
    "COLONIES_RAFT_PORT",
    "COLONIES_RAFT_DATA_DIR",  # each pod's own emptyDir
    "COLONIES_PRESTOP_DRAIN_SECONDS",  # no endpoint removal to wait for here
}


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port_block(count: int, taken: set[int]) -> int:
    """A base port such that base … base+count-1 are free (below the ephemeral range)."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 32000)
        block = set(range(base, base + count))
        if not block & taken and all(port_is_free(p) for p in block):
            taken |= block
            return base
    raise AssertionError("no block of free ports")


def program(name: str) -> str:
    """The console script the image has on PATH, from this venv."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed in this venv"
    return str(path)


def process_env(pod_env: dict[str, str]) -> dict[str, str]:
    """Only what the pod gets: no COLONIES_* leaking in from the developer's shell."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **pod_env}


async def wait_for_new_leader(
    cluster: Cluster, http: aiohttp.ClientSession, old: ReplicaProcess, within: float
) -> ReplicaProcess:
    deadline = time.monotonic() + within
    while True:
        leader = await cluster.wait_for_agreed_leader(
            http, within=max(deadline - time.monotonic(), 1)
        )
        if leader is not old:
            return leader
        assert time.monotonic() < deadline, f"leadership stayed with {old.name}"
        await asyncio.sleep(0.1)


def start_pods(
    cluster: Cluster, sts: Doc, secrets: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Start the entry command once per pod, each with its pod's environment; returns the
    environments by pod name."""
    count = int(sts["spec"]["replicas"])
    entry = json.loads(dockerfile_argument("ENTRYPOINT"))
    command = [program(entry[0]), *entry[1:], *container(sts).get("args", [])]
    taken: set[int] = set()
    api_base, raft_base = free_port_block(count, taken), free_port_block(count, taken)
    envs: dict[str, dict[str, str]] = {}
    for ordinal in range(count):
        pod = f"{sts['metadata']['name']}-{ordinal}"
        env = pod_environment(sts, pod, NAMESPACE, secrets)
        assert set(env) >= REPLACED and not ADDED & set(env)
        raft_dir = cluster.workdir / pod / "raft"
        raft_dir.mkdir(parents=True)
        env |= {
            "COLONIES_SERVER_HOST": "127.0.0.1",
            "COLONIES_STATEFULSET_HOST": "127.0.0.1",
            "COLONIES_STATEFULSET_PORT_STRIDE": "1",
            "COLONIES_SERVER_PORT": str(api_base),
            "COLONIES_RAFT_PORT": str(raft_base),
            "COLONIES_RAFT_DATA_DIR": str(raft_dir),
            "COLONIES_PRESTOP_DRAIN_SECONDS": "0",
        }
        envs[pod] = env
        replica = ReplicaProcess(
            pod, api_base + ordinal, raft_base + ordinal, cluster.workdir / f"{pod}.log"
        )
        replica.process = subprocess.Popen(
            command,
            env=process_env(env),
            stdout=replica.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        cluster.replicas.append(replica)
    return envs


async def test_pods_form_a_cluster_and_prestop_hands_over(
    rendered: list[Doc], database_url: str, workdir: Path, http: aiohttp.ClientSession
) -> None:
    sts = find(rendered, "StatefulSet", "colonies-ha")
    server = container(sts)
    owner_key = generate_private_key()
    values = {  # what the operator puts into secret.env
        "server-id": id_of_private_key(owner_key),
        "cluster-secret": os.urandom(16).hex(),
        "db-password": "unused-next-to-database-url",
    }
    secrets = {
        s["metadata"]["name"]: {key: values[key] for key in secret_data(s)}
        | {"database-url": database_url}  # the managed-database path
        for s in of_kind(rendered, "Secret")
    }
    cluster = Cluster(database_url, workdir, size=0, server_prvkey=owner_key)
    envs = start_pods(cluster, sts, secrets)
    try:
        leader = await cluster.wait_for_agreed_leader(http, within=20)
        found = await cluster.owner(leader, http).get_cluster()
        assert sorted(n["name"] for n in found["nodes"]) == sorted(envs)
        assert {n["raftaddress"] for n in found["nodes"]} == {
            r.raft_address for r in cluster.replicas
        }
        assert {n["apiurl"] for n in found["nodes"]} == {r.url for r in cluster.replicas}

        for replica in cluster.replicas:  # the manifest's probes, as the kubelet calls them
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                path = server[probe]["httpGet"]["path"]
                async with http.get(replica.url + path) as response:
                    assert response.status == 200, (replica.name, probe, await response.text())

        prestop = server["lifecycle"]["preStop"]["exec"]["command"]
        result = await asyncio.to_thread(
            subprocess.run,
            [program(prestop[0]), *prestop[1:]],
            env=process_env(envs[leader.name]),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "handed leadership to" in result.stdout, result.stdout
        successor = await wait_for_new_leader(cluster, http, leader, within=15)

        # Then the kubelet sends SIGTERM: the pod, no longer leading, exits well within its
        # grace period, and the other two carry on with a leader.
        grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert leader.process is not None
        leader.process.terminate()
        started = time.monotonic()
        assert await asyncio.to_thread(leader.process.wait, grace) == 0
        assert time.monotonic() - started < grace / 3
        assert (await cluster.wait_for_agreed_leader(http, within=15)) is successor
    finally:
        # Not a graceful stop: that is the step above, and a replica that leads when SIGTERM
        # comes currently takes much longer to exit than this test may.
        for replica in cluster.replicas:
            if replica.alive:
                cluster.kill(replica)
