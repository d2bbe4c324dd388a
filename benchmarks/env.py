"""What every benchmark stands on: a tuned PostgreSQL, replicas as real processes, a colony.

The servers under test run as `colonies-ha server` subprocesses, exactly as deployed, so
the load generator (this process) and the server never share an event loop or a GIL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from colonies_ha.chaos.local_cluster import Cluster, free_port
from colonies_ha.client import ColoniesClient
from colonies_ha.embedded_pg import EmbeddedPostgres, children_of, create_database
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key

# Same settings for every system measured (colonies_ha, PgQueuer, procrastinate).  Durable
# storage stays on (fsync, full_page_writes), and so does synchronous_commit: colonies_ha's
# own sessions raise it to `on` (an acknowledged write must survive a crash or a database
# failover, issue 15), so the queues it is compared with wait for their WAL flush too.
# wal_init_zero off: this cluster is new, so every 16 MB WAL segment is created during the
# run, and zero-filling one held up every commit for 60-80 ms (every 7 s at half of peak).
# A database in service reuses old segments at its checkpoints and writes no zeros.
PG_SETTINGS: dict[str, str] = {
    "synchronous_commit": "on",
    "shared_buffers": "512MB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "wal_buffers": "16MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "max_connections": "400",
    "autovacuum_naptime": "5s",
    "jit": "off",
    "wal_init_zero": "off",
}

_db_counter = itertools.count()


@dataclass
class BenchPostgres:
    """One PostgreSQL for the whole run; each measurement gets a database of its own."""

    root: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="colonies-ha-bench-", dir="/var/tmp"))
    )
    server: EmbeddedPostgres | None = None

    def start(self) -> None:
        # Under /var/tmp: the postgres user must be able to reach the data directory.
        self.server = EmbeddedPostgres(self.root / "pg", fsync=True, extra_settings=PG_SETTINGS)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self, label: str) -> str:
        assert self.server is not None
        name = f"bench_{label}_{os.getpid()}_{next(_db_counter)}"
        create_database(self.server.dsn, name)
        return self.server.url(name)


@dataclass
class ServerProcess:
    """One standalone replica (no Raft peers): `colonies-ha server` as a child process."""

    database_url: str
    workdir: Path
    server_prvkey: str = field(default_factory=generate_private_key)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tree: Path | None = None  # run the colonies_ha package found here (an A/B baseline)
    workers: int = 1  # `server --workers`: processes sharing the API port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> tuple[int, ...]:
        """The server's processes: the primary and its serving workers (its children)."""
        assert self.process is not None
        return (self.process.pid, *children_of(self.process.pid))

    def start(self) -> None:
        log = (self.workdir / f"server-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "colonies_ha",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--server-id",
                id_of_private_key(self.server_prvkey),
                "--database-url",
                self.database_url,
                "--node-name",
                "bench",
                *(["--workers", str(self.workers)] if self.workers > 1 else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=tree_environment(self.tree),
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def wait_ready(self, session: aiohttp.ClientSession, within: float = 30.0) -> None:
        # With workers, the primary listens on the API port only once they all serve.
        await wait_ready(session, self.url, within)


async def wait_ready(session: aiohttp.ClientSession, url: str, within: float = 30.0) -> None:
    """Until GET /ready answers 200 (database reachable and a leader known)."""
    deadline = time.monotonic() + within
    while True:
        try:
            async with asyncio.timeout(2.0), session.get(f"{url}/ready") as response:
                if response.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become ready within {within:.0f} s")
        await asyncio.sleep(0.1)


def tree_environment(tree: Path | None) -> dict[str, str] | None:
    """The environment of a server that must import colonies_ha from `tree` (None: ours).

    PYTHONPATH alone is not enough: `python -m` puts the working directory first on
    sys.path, so a runner started from a checkout would run that checkout instead.
    PYTHONSAFEPATH (Python 3.11) leaves the working directory out.  Checked once per tree.
    """
    if tree is None:
        return None
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONSAFEPATH": "1"}
    if tree not in _checked_trees:
        found = subprocess.run(
            [sys.executable, "-c", "import colonies_ha; print(colonies_ha.__file__)"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        if not Path(found).resolve().is_relative_to(tree.resolve()):
            raise RuntimeError(f"a server would import colonies_ha from {found}, not {tree}")
        _checked_trees.add(tree)
    return env


_checked_trees: set[Path] = set()


def export_tree(revision: str) -> Path:
    """`revision`'s colonies_ha package in a fresh directory (git archive), for an A/B."""
    where = Path(tempfile.mkdtemp(prefix="colonies-ha-baseline-"))
    archive = subprocess.run(
        ["git", "archive", revision, "colonies_ha"],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def new_cluster(database_url: str, workdir: Path, size: int = 3, workers: int = 1) -> Cluster:
    return Cluster(database_url, workdir, size=size, workers=workers)


@dataclass
class Colony:
    """A colony and approved executors (one key each); the executor type is `bench`."""

    colonyid: str
    colony_prvkey: str
    executor_keys: list[str]
    executortype: str = "bench"


async def make_colony(
    session: aiohttp.ClientSession, url: str, server_prvkey: str, executors: int
) -> Colony:
    colony_prvkey = generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    await ColoniesClient(url, server_prvkey, session=session).add_colony(
        colonyid, f"bench-{colonyid[:8]}"
    )
    owner = ColoniesClient(url, colony_prvkey, session=session)
    keys = [generate_private_key() for _ in range(executors)]

    async def admit(index: int, key: str) -> None:
        executorid = id_of_private_key(key)
        await owner.add_executor(executorid, colonyid, "bench", f"bench-{index}")
        await owner.approve_executor(executorid)

    await asyncio.gather(*(admit(i, k) for i, k in enumerate(keys)))
    return Colony(colonyid, colony_prvkey, keys)


def http_session(limit: int = 0) -> aiohttp.ClientSession:
    """A client session with keep-alive connections and no per-host cap."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, force_close=False)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)
    )
