"""`server --workers 2`: two processes share the API port; only the primary holds the epoch."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess, free_port
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.embedded_pg import children_of
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.cluster.test_failover import (
    alive,
    kill_the_leader_under_load,
)

WITHIN = 30.0
Standalone = tuple[subprocess.Popen[bytes], str, str]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def pids_answering(url: str, requests: int = 24) -> Counter[int]:
    """Which processes answer /health, each request on a fresh connection."""
    seen: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as fresh:
        for _ in range(requests):
            async with fresh.get(f"{url}/health") as response:
                seen[(await response.json())["pid"]] += 1
    return seen


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Await a state of other processes (there is no event to wait on), up to WITHIN s."""
    deadline = time.monotonic() + WITHIN
    while not await check():
        assert time.monotonic() < deadline, f"not within {WITHIN} s: {what}"
        await asyncio.sleep(0.05)


async def is_ready(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(f"{url}/ready") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def both_serving(http: aiohttp.ClientSession, primary: int, url: str) -> None:
    """Until the replica is ready and both its processes answer on the API port."""

    async def both_serve() -> bool:
        return len(children_of(primary)) == 1 and len(await pids_answering(url)) == 2

    await eventually(lambda: is_ready(http, url), "the replica is ready")
    await eventually(both_serve, "the primary and one worker answer on the API port")


@pytest.fixture
def standalone(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """One replica (no Raft) with --workers 2 (a worker silent for 1 s is replaced): its
    primary process, API URL and owner key."""
    owner_key = generate_private_key()
    port = free_port()
    log_path = tmp_path / "server.log"
    argv = [sys.executable, "-m", "colonies_ha", "server", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--relay-port", "0", "--workers", "2"]
    argv += ["--worker-silence-limit", "1"]
    argv += ["--server-id", id_of_private_key(owner_key), "--database-url", database_url]
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process, f"http://127.0.0.1:{port}", owner_key
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)
        print(log_path.read_text()[-4000:])  # shown by pytest when the test failed


def samples(exposition: str, name: str) -> dict[str, dict[frozenset[tuple[str, str]], float]]:
    """The samples called `name`, by their `process` label, then by their other labels."""
    found: dict[str, dict[frozenset[tuple[str, str]], float]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name:
                labels = dict(sample.labels)
                process = labels.pop("process", "")
                found.setdefault(process, {})[frozenset(labels.items())] = sample.value
    return found


ASSIGNS_SERVED = frozenset({("msgtype", "assignprocessmsg"), ("status", "200")})


async def test_workers_share_the_port_claim_under_one_epoch_and_die_with_the_primary(
    standalone: Standalone, http: aiohttp.ClientSession
) -> None:
    primary, url, owner_key = standalone

    await both_serving(http, primary.pid, url)
    (worker,) = children_of(primary.pid)
    assert set(await pids_answering(url)) == {primary.pid, worker}

    colony_key = generate_private_key()
    colonyid = id_of_private_key(colony_key)
    await ColoniesClient(url, owner_key, session=http).add_colony(colonyid, "w")
    key = generate_private_key()
    colony_owner = ColoniesClient(url, colony_key, session=http)
    await colony_owner.add_executor(id_of_private_key(key), colonyid, "worker", "w0")
    await colony_owner.approve_executor(id_of_private_key(key))
    # Every call on a fresh connection: the kernel spreads them over both processes.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
        client = ColoniesClient(url, key, session=fresh)
        submitted = {
            (await client.submit(function_spec(colonyid, "worker")))["processid"] for _ in range(30)
        }
        assigned = [(await client.assign(colonyid, 5))["processid"] for _ in range(30)]
        assert sorted(assigned) == sorted(submitted), "each process handed out exactly once"
        with pytest.raises(ColoniesError):
            await client.assign(colonyid, 1)  # nothing left: no second hand-out
        for processid in assigned:
            await client.close(processid, ["ok"])

    # /metrics answers for the whole replica on whichever process a scrape lands (a worker
    # asks its primary, which merges the metrics its workers hand it every second): both
    # claimed under the primary's epoch, the worker without relaying a single assign, and
    # both froze their startup heap once serving.
    async def every_scrape_shows_both() -> bool:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
            for _ in range(8):  # fresh connections: the kernel spreads them over both
                async with s.get(f"{url}/metrics") as response:
                    requests = samples(await response.text(), "colonies_requests_total")
                assigned_by = {p: v.get(ASSIGNS_SERVED, 0) for p, v in requests.items()}
                if set(assigned_by) != {"primary", "worker-1"} or sum(assigned_by.values()) != 30:
                    return False
        return True

    await eventually(every_scrape_shows_both, "every scrape shows both processes' assigns")
    async with http.get(f"{url}/metrics") as response:
        exposition = await response.text()
    assigned = samples(exposition, "colonies_requests_total")
    assert min(assigned[p][ASSIGNS_SERVED] for p in ("primary", "worker-1")) > 0, assigned
    assert not any(samples(exposition, "colonies_forwarded_requests_total").values())
    leader = samples(exposition, "colonies_leader")
    assert {p: v[frozenset()] for p, v in leader.items()} == {"primary": 1, "worker-1": 1}
    frozen = samples(exposition, "colonies_gc_frozen_objects")
    assert min(v[frozenset()] for v in frozen.values()) > 10_000, frozen
    # Read from the database once, for the replica: from the primary alone.
    assert set(samples(exposition, "colonies_fencing_epoch")) == {"primary"}

    os.kill(worker, signal.SIGKILL)

    async def restarted() -> bool:
        now = children_of(primary.pid)
        return len(now) == 1 and worker not in now and len(await pids_answering(url)) == 2

    await eventually(restarted, "the primary restarts the killed worker")
    (replacement,) = children_of(primary.pid)
    client = ColoniesClient(url, key, session=http)
    submitted_id = (await client.submit(function_spec(colonyid, "worker")))["processid"]
    assert (await client.assign(colonyid, 5))["processid"] == submitted_id

    # Frozen, the worker cannot notice its pipe closing: only PR_SET_PDEATHSIG ends it.
    os.kill(replacement, signal.SIGSTOP)
    primary.kill()
    primary.wait()

    async def worker_gone() -> bool:
        return not running(replacement)

    await eventually(worker_gone, "the worker dies with its primary (PR_SET_PDEATHSIG)")


async def test_a_worker_whose_event_loop_stops_is_replaced(
    standalone: Standalone, http: aiohttp.ClientSession
) -> None:
    """A frozen worker still holds its share of the port's new connections, which would
    hang: the primary's ping goes unanswered, and it kills and restarts the worker."""
    primary, url, _ = standalone

    await both_serving(http, primary.pid, url)
    (frozen,) = children_of(primary.pid)
    os.kill(frozen, signal.SIGSTOP)

    async def replaced() -> bool:
        now = children_of(primary.pid)
        return frozen not in now and len(now) == 1 and len(await pids_answering(url)) == 2

    await eventually(replaced, "the primary replaces the silent worker")
    assert not running(frozen)


async def test_a_cluster_with_workers_survives_a_leader_kill(
    database_url: str, workdir: Path, http: aiohttp.ClientSession
) -> None:
    cluster = Cluster(database_url, workdir, workers=2)
    cluster.start_all()
    try:
        leader_workers: list[int] = []

        def note_workers(leader: ReplicaProcess) -> None:
            assert leader.process is not None
            leader_workers.extend(children_of(leader.process.pid))

        await kill_the_leader_under_load(cluster, http, total=120, before_kill=note_workers)
        assert len(alive(cluster)) == 2
        assert leader_workers, "the leader had a serving worker"
        assert not any(running(pid) for pid in leader_workers), "workers die with the primary"
    finally:
        cluster.stop_all()
