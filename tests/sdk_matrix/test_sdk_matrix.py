"""Every pycolonies release on PyPI, 1.0.2-1.0.10 (2023 generation) and 1.0.12-1.0.25 (the
newest), unmodified, each running its generation's lifecycle + wait() + workflow script
against a follower of a 3-replica cluster; and processes handed between generations."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest

from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.client import ColoniesClient
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.pycolonies_sdk import ALL_SDK_VERSIONS, install_sdks

PARALLEL = 4  # SDK processes at a time: the suite shares two cores
JOB_SECONDS = 180


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one SDK job in its own interpreter; its last stdout line is the JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.sdk_matrix.run_sdk", json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=JOB_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}\n{done.stderr[-4000:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def matrix_results(
    matrix_cluster: tuple[Cluster, ReplicaProcess],
) -> dict[str, dict[str, Any]]:
    """Every release's lifecycle, run a few at a time against the follower."""
    cluster, follower = matrix_cluster
    install_sdks(ALL_SDK_VERSIONS)
    jobs = [
        {
            "release": release,
            "action": "lifecycle",
            "host": "127.0.0.1",
            "port": follower.api_port,
            "server_prvkey": cluster.server_prvkey,
        }
        for release in ALL_SDK_VERSIONS
    ]
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(run_job, jobs))
    return dict(zip(ALL_SDK_VERSIONS, results, strict=True))


@pytest.mark.parametrize("release", ALL_SDK_VERSIONS)
def test_release_lifecycle_against_a_follower(
    matrix_results: dict[str, dict[str, Any]], release: str
) -> None:
    result = matrix_results[release]
    assert "error" not in result, result.get("error")
    assert result["closed_state"] == 2 and result["closed_out"] == ["done"]
    assert result["waited"]
    assert result["child_input"] == ["from-parent"]
    assert result["graph_state"] == 2


async def _colony(follower: ReplicaProcess, cluster: Cluster) -> dict[str, Any]:
    """A colony with one approved executor of type `worker`, made with colonies_ha's client."""
    colony_prvkey, prvkey = generate_private_key(), generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    name = f"mixed-{colonyid[:8]}"
    async with aiohttp.ClientSession() as http:
        await cluster.owner(follower, http).add_colony(colonyid, name)
        owner = ColoniesClient(follower.url, colony_prvkey, session=http)
        await owner.add_executor(id_of_private_key(prvkey), colonyid, "worker", "mixed")
        await owner.approve_executor(id_of_private_key(prvkey))
    return {
        "host": "127.0.0.1",
        "port": follower.api_port,
        "colonyid": colonyid,
        "colonyname": name,
        "prvkey": prvkey,
    }


@pytest.mark.parametrize(("submitter", "runner"), [("1.0.2", "1.0.25"), ("1.0.25", "1.0.2")])
async def test_a_process_crosses_generations(
    matrix_cluster: tuple[Cluster, ReplicaProcess], submitter: str, runner: str
) -> None:
    """Submitted by one generation, assigned and closed by the other, read by both."""
    cluster, follower = matrix_cluster
    install_sdks((submitter, runner))
    colony = await _colony(follower, cluster)
    submitted = run_job({**colony, "release": submitter, "action": "submit"})
    assert "error" not in submitted, submitted.get("error")
    closed = run_job({**colony, "release": runner, "action": "assign_close"})
    assert "error" not in closed, closed.get("error")
    assert closed["processid"] == submitted["processid"]
    for reader in (submitter, runner):
        seen = run_job(
            {**colony, "release": reader, "action": "get", "processid": closed["processid"]}
        )
        assert seen == {"state": 2, "out": [f"closed-by-{runner}"]}, seen
