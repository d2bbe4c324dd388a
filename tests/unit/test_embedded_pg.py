"""EmbeddedPostgres on the real binaries: start, query, clone, stop, die with its parent."""

from __future__ import annotations

import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from colonies_ha.embedded_pg import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    create_database,
    drop_database,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    """True unless the pid is gone or a zombie (PID 1 in a container may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.add(int(entry.name))
    return found


def _wait_gone(pids: set[int], timeout: float) -> set[int]:
    """Poll until all pids are gone; return the survivors at the deadline."""
    deadline = time.monotonic() + timeout
    while (left := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not under /root or tmp_path: the postgres user must be able to traverse it.
    path = Path(tempfile.mkdtemp(prefix="colonies-ha-test-", dir="/var/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_start_query_clone_stop(workdir: Path) -> None:
    server = EmbeddedPostgres(workdir / "pg", fsync=False)
    with server:
        assert server.port != 5432
        assert server.dsn == f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)

        pid = server.pid
        assert pid is not None
        if os.geteuid() == 0:
            uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
            assert pwd.getpwuid(uid).pw_name == "postgres"

        create_database(server.dsn, "tmpl")
        with psycopg.connect(server.url("tmpl"), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v text)")
            conn.execute("INSERT INTO t VALUES ('from template')")
        create_database(server.dsn, "copy", template="tmpl")
        with psycopg.connect(server.url("copy")) as conn:
            assert conn.execute("SELECT v FROM t").fetchall() == [("from template",)]
        drop_database(server.dsn, "copy")
        drop_database(server.dsn, "tmpl")
        drop_database(server.dsn, "tmpl")  # IF EXISTS: a second drop is fine

        processes = {pid} | _children(pid)
        assert len(processes) > 1  # checkpointer, walwriter, ... are there to check too
    assert server.pid is None
    assert _wait_gone(processes, timeout=5) == set()
    server.stop()  # idempotent

    # Data survives a restart; initdb is not run twice.
    again = EmbeddedPostgres(workdir / "pg", fsync=False)
    with again, psycopg.connect(again.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("holder", ["dead", "unrelated"])
def test_stale_pidfile_is_removed(workdir: Path, holder: str) -> None:
    server = EmbeddedPostgres(workdir / "pg", fsync=False)
    server.start()
    server.stop()
    # A killed run leaves its pid behind; that pid may be gone or reused by another program.
    # Run it as the server's user: postgres itself ignores a pid it may not signal (EPERM).
    user = "postgres" if os.geteuid() == 0 else None
    other = subprocess.Popen(["sleep", "60"], user=user)
    if holder == "dead":
        other.kill()
        other.wait()
    pidfile = workdir / "pg" / "postmaster.pid"
    pidfile.write_text(f"{other.pid}\n{workdir / 'pg'}\n")
    try:
        with server, psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        other.kill()
        other.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the datadir to `postgres`")
def test_unreachable_parent_is_a_clear_error(workdir: Path) -> None:
    private = workdir / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(EmbeddedPostgresError, match="cannot reach"):
        EmbeddedPostgres(private / "pg", fsync=False).start()


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from colonies_ha.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(Path(sys.argv[1]), fsync=False)
    pg.start()
    print(pg.pid, flush=True)
    time.sleep(3600)
    """
)


def test_postmaster_dies_with_its_parent(workdir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(workdir / "pg")],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )
    postmaster = None
    try:
        assert parent.stdout is not None
        ready, _, _ = select.select([parent.stdout], [], [], 60)
        assert ready, "child did not report a postmaster pid within 60 s"
        postmaster = int(parent.stdout.readline())
        assert _alive(postmaster)
        workers = _children(postmaster)

        parent.send_signal(signal.SIGKILL)
        parent.wait()

        assert _wait_gone({postmaster}, timeout=15) == set()
        assert _wait_gone(workers, timeout=15) == set()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if postmaster is not None and _alive(postmaster):
            os.kill(postmaster, signal.SIGKILL)


def test_started_from_a_worker_thread_outlives_it(workdir: Path) -> None:
    # PDEATHSIG follows the forking *thread*; the server must not die when that thread ends.
    server = EmbeddedPostgres(workdir / "pg", fsync=False)
    worker = threading.Thread(target=server.start)
    worker.start()
    worker.join()
    try:
        time.sleep(0.5)  # give a (wrongly) delivered SIGQUIT time to act
        assert server.running
        with psycopg.connect(server.dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
