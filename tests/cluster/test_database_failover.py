"""The cluster across database faults: a primary killed and its standby promoted, a promoted
primary that still waits for a standby it no longer has, and a database that is gone.

Every test runs its own PostgreSQL (a primary with a synchronous streaming standby where
failover matters), because it kills or stops it; the session's server is never touched.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from click.testing import CliRunner

from colonies_ha.chaos.local_cluster import Cluster
from colonies_ha.chaos.runner import run_chaos
from colonies_ha.chaos.workload import DATABASE_FAULTS, ChaosConfig
from colonies_ha.cli.main import cli
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.embedded_pg import EmbeddedPostgres, StreamingPair, create_database
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.protocol.envelope import decode_reply, encode_request
from colonies_ha.replica import UnsafeDatabase
from colonies_ha.store.db import BOUNDS
from colonies_ha.store.replication import check_replication
from tests.helpers import start_server

DATABASE = "colonies"
EXECUTOR_TYPE = "worker"
# A request against a database that cannot serve it must be answered within its bound; the
# slack covers a loaded 2-core test machine, not a design margin.
ANSWER_SLACK = 5.0


@pytest.fixture
def pg_root() -> Iterator[Path]:
    # Not under pytest's tmp_path: the postgres user must reach it.
    with tempfile.TemporaryDirectory(prefix="colonies-ha-dbfail-", dir="/var/tmp") as path:
        yield Path(path)


@pytest.fixture
def pair(pg_root: Path) -> Iterator[StreamingPair]:
    pair = StreamingPair(pg_root / "pg")
    pair.start()
    create_database(pair.dsn, DATABASE)
    try:
        yield pair
    finally:
        pair.stop()


async def test_primary_killed_and_standby_promoted_under_load_keeps_every_invariant(
    pg_root: Path, tmp_path: Path
) -> None:
    """SIGKILL of the primary while executors assign and close, the standby promoted: the
    chaos checker finds nothing lost, nothing held twice, every process finished."""
    config = ChaosConfig(
        duration=24,
        fault_interval=6,
        seed=11,
        executors=4,
        settle_timeout=40,
        faults=("db-failover",),
        history_path=tmp_path / "history.jsonl",
        workdir=pg_root / "run",
    )
    result = await run_chaos(config)
    assert result.ok, "\n".join(result.violations)
    failovers = [g for g in result.gaps if g.kind == "db-failover"]
    assert len(failovers) >= 2, result.gaps
    assert result.counts.get("close:ok", 0) >= 40, result.counts
    assert result.settled_in is not None


async def test_each_database_fault_and_an_executor_kill_in_one_short_run(
    pg_root: Path, tmp_path: Path
) -> None:
    config = ChaosConfig(
        duration=30,
        fault_interval=5,
        seed=5,
        executors=4,
        settle_timeout=40,
        faults=(*DATABASE_FAULTS, "executor-kill"),
        history_path=tmp_path / "history.jsonl",
        workdir=pg_root / "run",
    )
    result = await run_chaos(config)
    assert result.ok, "\n".join(result.violations)
    assert set(result.by_kind()) == {*DATABASE_FAULTS, "executor-kill"}, result.gaps


# -- bounded answers while the database cannot commit ----------------------------------


async def call(
    http: aiohttp.ClientSession, url: str, msg: dict[str, Any], key: str
) -> tuple[int, dict[str, str], bytes, float]:
    """One signed RPC, raw: status, headers, body and how long the answer took."""
    started = time.monotonic()
    async with http.post(f"{url}/api", data=encode_request(msg, key)) as reply:
        body = await reply.read()
        return reply.status, dict(reply.headers), body, time.monotonic() - started


async def probe(http: aiohttp.ClientSession, url: str, path: str) -> int:
    async with http.get(f"{url}{path}") as reply:
        return reply.status


async def ready_everywhere(cluster: Cluster, http: aiohttp.ClientSession, want: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        statuses = [await probe(http, r.url, "/ready") for r in cluster.replicas]
        if all(s == want for s in statuses):
            return
        assert time.monotonic() < deadline, f"/ready: {statuses}\n{cluster.logs()}"
        await asyncio.sleep(0.2)


class Colony:
    """A colony with one approved executor, made through the cluster's first replica."""

    def __init__(self, cluster: Cluster, http: aiohttp.ClientSession) -> None:
        self.cluster, self.http = cluster, http
        self.colony_key = generate_private_key()
        self.colonyid = id_of_private_key(self.colony_key)
        self.executor_key = generate_private_key()

    async def create(self) -> None:
        url = self.cluster.replicas[0].url
        owner = ColoniesClient(url, self.cluster.server_prvkey, session=self.http)
        await owner.add_colony(self.colonyid, "dbfail")
        colony = ColoniesClient(url, self.colony_key, session=self.http)
        executorid = id_of_private_key(self.executor_key)
        await colony.add_executor(executorid, self.colonyid, EXECUTOR_TYPE, "worker-1")
        await colony.approve_executor(executorid)

    def submit_msg(self) -> dict[str, Any]:
        spec = function_spec(self.colonyid, EXECUTOR_TYPE, "echo", args=["x"], maxexectime=30)
        return {"msgtype": "submitfuncspecmsg", "spec": spec}

    async def round_trip(self, url: str) -> None:
        """Submit, assign and close through `url`: the whole path works."""
        executor = ColoniesClient(url, self.executor_key, session=self.http)
        await executor.submit(self.submit_msg()["spec"])
        process = await executor.assign(self.colonyid, timeout=10)
        await executor.close(process["processid"], ["done"])


def unavailable_message(status: int, headers: dict[str, str], body: bytes) -> str:
    """The message of a 503 in the protocol's error envelope, with its Retry-After."""
    assert status == 503, body
    assert int(headers["Retry-After"]) >= 1
    with pytest.raises(ColoniesError) as refusal:
        decode_reply(status, body)
    assert refusal.value.status == 503
    return refusal.value.message


@pytest.fixture
def cluster_on_pair(pair: StreamingPair, pg_root: Path) -> Iterator[Cluster]:
    cluster = Cluster(pair.url(DATABASE), pg_root)
    cluster.start_all()
    try:
        yield cluster
    finally:
        cluster.stop_all()


async def test_a_promoted_primary_still_waiting_for_a_standby_gets_bounded_503s(
    pair: StreamingPair, cluster_on_pair: Cluster
) -> None:
    """The issue's finding: promoted with synchronous_standby_names still set, every commit
    waits forever.  Requests get a 503 within their bound, /ready says 503, /health answers;
    once the setting is cleared everything works again, no replica restarted."""
    cluster = cluster_on_pair
    async with aiohttp.ClientSession() as http:
        await cluster.wait_for_agreed_leader(http, within=60)
        colony = Colony(cluster, http)
        await colony.create()
        await colony.round_trip(cluster.replicas[1].url)

        await asyncio.to_thread(pair.fail_over, clear_synchronous_standby_names=False)
        await ready_everywhere(cluster, http, 503)
        for replica in cluster.replicas:
            assert await probe(http, replica.url, "/health") == 200
        replies = await asyncio.gather(
            *(call(http, r.url, colony.submit_msg(), colony.executor_key) for r in cluster.replicas)
        )
        for status, headers, body, took in replies:
            assert "database" in unavailable_message(status, headers, body)
            assert took < BOUNDS.request + ANSWER_SLACK, took
        # A read commits nothing, so it is still served.
        msg = {"msgtype": "getcolonymsg", "colonyid": colony.colonyid}
        status, _, body, _ = await call(http, cluster.replicas[2].url, msg, colony.executor_key)
        assert status == 200, body

        with psycopg.connect(pair.dsn, autocommit=True) as conn:  # what an operator does
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
            conn.execute("SELECT pg_reload_conf()")
        await ready_everywhere(cluster, http, 200)
        for replica in cluster.replicas:
            await colony.round_trip(replica.url)


async def test_with_the_database_down_every_replica_says_so_and_recovers_without_restart(
    pg_root: Path,
) -> None:
    postgres = EmbeddedPostgres(pg_root / "pg", fsync=False)
    postgres.start()
    create_database(postgres.dsn, DATABASE)
    cluster = Cluster(postgres.url(DATABASE), pg_root)
    cluster.start_all()
    try:
        async with aiohttp.ClientSession() as http:
            await cluster.wait_for_agreed_leader(http, within=60)
            colony = Colony(cluster, http)
            await colony.create()

            await asyncio.to_thread(postgres.stop)
            await ready_everywhere(cluster, http, 503)
            assign = {"msgtype": "assignprocessmsg", "colonyid": colony.colonyid, "timeout": 2}
            for replica in cluster.replicas:
                assert await probe(http, replica.url, "/health") == 200
                for msg in (colony.submit_msg(), assign):
                    status, headers, body, took = await call(
                        http, replica.url, msg, colony.executor_key
                    )
                    assert "database" in unavailable_message(status, headers, body)
                    assert took < 2 + BOUNDS.long_poll_extra + ANSWER_SLACK, took

            await asyncio.to_thread(postgres.start)  # the same port: the URL is unchanged
            await ready_everywhere(cluster, http, 200)
            assert all(r.alive for r in cluster.replicas)
            for replica in cluster.replicas:
                await colony.round_trip(replica.url)
    finally:
        cluster.stop_all()
        postgres.stop()


# -- the start-up check ---------------------------------------------------------------


async def test_require_sync_replication_starts_on_a_synchronous_pair_only(
    pair: StreamingPair, database_url: str
) -> None:
    env = await start_server(pair.url(DATABASE), require_sync_replication=True)
    try:
        assert await check_replication(env.replica.db) == []
    finally:
        await env.stop()
    with pytest.raises(UnsafeDatabase, match="synchronous_standby_names is empty"):
        await start_server(database_url, require_sync_replication=True)


def test_the_cli_refuses_with_one_clear_line(database_url: str) -> None:
    env = {
        "COLONIES_SERVER_ID": id_of_private_key(generate_private_key()),
        "COLONIES_DATABASE_URL": database_url,
    }
    result = CliRunner().invoke(
        cli, ["server", "--port", "0", "--require-sync-replication"], env=env
    )
    assert result.exit_code == 1, result.output
    assert "refusing to start (--require-sync-replication)" in result.output
