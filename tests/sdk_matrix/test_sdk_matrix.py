"""Every pycolonies release on PyPI, 1.0.2-1.0.10 (2023 generation) and 1.0.12-1.0.25 (the
newest), unmodified, each running its generation's lifecycle + wait() + workflow script
against a follower of a 3-replica cluster; and processes handed between generations."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.client import ColoniesClient
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.pycolonies_sdk import ALL_SDK_VERSIONS, install_sdks, sdk_dir

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


async def _colony(
    follower: ReplicaProcess, cluster: Cluster, executortype: str = "worker"
) -> dict[str, Any]:
    """A colony with one approved executor, made with colonies_ha's client."""
    colony_prvkey, prvkey = generate_private_key(), generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    name = f"mixed-{colonyid[:8]}"
    async with aiohttp.ClientSession() as http:
        await cluster.owner(follower, http).add_colony(colonyid, name)
        owner = ColoniesClient(follower.url, colony_prvkey, session=http)
        await owner.add_executor(id_of_private_key(prvkey), colonyid, executortype, "mixed")
        await owner.approve_executor(id_of_private_key(prvkey))
    return {
        "host": "127.0.0.1",
        "port": follower.api_port,
        "colonyid": colonyid,
        "colonyname": name,
        "colony_prvkey": colony_prvkey,
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


async def test_what_only_the_newest_release_calls(
    matrix_cluster: tuple[Cluster, ReplicaProcess],
) -> None:
    cluster, follower = matrix_cluster
    install_sdks(("1.0.25",))
    job = {"release": "1.0.25", "action": "extras", "host": "127.0.0.1"}
    checks = run_job({**job, "port": follower.api_port, "server_prvkey": cluster.server_prvkey})
    assert "error" not in checks, checks.get("error")
    assert checks["initiator"][1] == "alice" and len(checks["initiator"][0]) == 64
    assert "only executors run processes" in checks["user_assign"]
    assert "not an executor or user" in checks["owner_submit"]
    assert "not an executor or user" in checks["removed_user"]
    assert checks["executor_log"] == ["line 1"] and checks["output"] == ["partial"]
    assert checks["graphs"] and checks["graph_members"] == 1
    assert checks["graphs_after_remove"] == 0 and checks["graphs_after_remove_all"] == 0
    assert checks["crons"] == ["nightly"] and checks["generators"] == ["gen"]
    assert checks["waiting_before_remove_all"] == 1  # the run the cron started
    assert checks["processes_after_remove_all"] == 0
    assert "rejected" in checks["rejected_assign"]
    assert checks["colony_gone"]


def readme_example() -> str:
    """The README's copy-paste example for today's SDK, exactly as printed there."""
    text = (Path(__file__).parents[2] / "README.md").read_text()
    start = text.index("```python\nfrom pycolonies import colonies_client")
    return text[start + len("```python\n") : text.index("```", start + 3)]


async def test_the_readme_example_with_pycolonies_1_0_25(
    matrix_cluster: tuple[Cluster, ReplicaProcess],
) -> None:
    """Run with the environment `colonies-ha dev` prints (names, COLONIES_PRVKEY)."""
    cluster, follower = matrix_cluster
    install_sdks(("1.0.25",))
    colony = await _colony(follower, cluster, executortype="cli")
    env = {
        **os.environ,
        "COLONIES_SERVER_HOST": "127.0.0.1",
        "COLONIES_SERVER_PORT": str(follower.api_port),
        "COLONIES_SERVER_TLS": "false",
        "COLONIES_COLONY_NAME": colony["colonyname"],
        "COLONIES_COLONY_PRVKEY": colony["colony_prvkey"],
        "COLONIES_EXECUTOR_NAME": "mixed",
        "COLONIES_PRVKEY": colony["prvkey"],
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", readme_example()],
        cwd=sdk_dir("1.0.25"),  # where `pip install pycolonies` would have put its modules
        env=env,
        capture_output=True,
        text=True,
        timeout=JOB_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['world']"
