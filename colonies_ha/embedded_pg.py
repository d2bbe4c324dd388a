"""A real, local PostgreSQL server run as our child, for `colonies-ha dev` and the test session.

The postmaster is started directly (not through pg_ctl, which daemonizes) so that it stays
our child: it gets PR_SET_PDEATHSIG, so it dies with us even when we are SIGKILLed, and its
own process group, so a terminal Ctrl-C reaches us and we shut it down in order.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import logging
import os
import pwd
import queue
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar
from urllib.parse import quote

import psycopg
from psycopg import sql

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "StreamingPair",
    "create_database",
    "drop_database",
    "find_bindir",
]

log = logging.getLogger(__name__)

BINDIR_ENV = "COLONIES_PG_BINDIR"
PG_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.05
LOG_TAIL_LINES = 40
SYNC_TIMEOUT = 30.0  # a fresh standby catching up and reporting itself synchronous
# sun_path holds 108 bytes; the socket name ".s.PGSQL.65535.lock" needs ~20 of them.
MAX_SOCKET_DIR_LEN = 80
PR_SET_PDEATHSIG = 1

T = TypeVar("T")


class EmbeddedPostgresError(RuntimeError):
    """Raised when the local PostgreSQL server cannot be found, prepared or started."""


# --------------------------------------------------------------------------- binaries

_apt_attempted = False


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def _is_bindir(path: Path) -> bool:
    return (path / "postgres").is_file() and (path / "initdb").is_file()


def _scan_bindirs() -> Path | None:
    found = [p for p in PG_ROOT.glob("*/bin") if _is_bindir(p)]
    return max(found, key=_version_key) if found else None


def _apt_install_postgres() -> None:
    """Install Debian's postgresql once; `apt-get update` only if the plain install fails."""
    global _apt_attempted  # noqa: PLW0603 - one attempt per process, not per caller
    if _apt_attempted or shutil.which("apt-get") is None:
        return
    _apt_attempted = True
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "postgresql"]
    log.warning("PostgreSQL not found; installing it with apt-get (one time)")
    result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-LOG_TAIL_LINES:])
        log.error("apt-get install postgresql failed:\n%s", tail)


def find_bindir() -> Path:
    """Locate a PostgreSQL bin directory (postgres + initdb), installing it via apt as root."""
    override = os.environ.get(BINDIR_ENV)
    if override:
        path = Path(override)
        if not _is_bindir(path):
            raise EmbeddedPostgresError(f"${BINDIR_ENV}={override} has no postgres and initdb")
        return path
    found = _scan_bindirs()
    if found is None and os.geteuid() == 0:
        _apt_install_postgres()
        found = _scan_bindirs()
    if found is None:
        raise EmbeddedPostgresError(
            "No PostgreSQL server binaries found under /usr/lib/postgresql/*/bin. Install them "
            "(Debian/Ubuntu: `sudo apt-get install -y postgresql`) or point "
            f"${BINDIR_ENV} at a directory containing `postgres` and `initdb`."
        )
    return found


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True, slots=True)
class _Account:
    """The unprivileged user that initdb and postgres run as when we are root."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def _postgres_account() -> _Account | None:
    """None when we are not root: then the server simply runs as us."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        raise EmbeddedPostgresError(
            f"PostgreSQL refuses to run as root and there is no `{PG_USER}` user; "
            f"create one (`useradd --system --create-home {PG_USER}`) or run as non-root."
        ) from None
    groups = tuple(os.getgrouplist(PG_USER, entry.pw_gid))
    return _Account(PG_USER, entry.pw_uid, entry.pw_gid, groups)


def _can_traverse(st: os.stat_result, who: _Account) -> bool:
    # POSIX picks exactly one class: owner, else group, else other.
    if st.st_uid == who.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in who.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _is_private_temp_dir(path: Path) -> bool:
    """A dir of ours right inside a shared sticky temp dir (e.g. mkdtemp in /var/tmp)."""
    if path.name.startswith("pytest-of-"):
        return False  # pytest's basetemp: leave it private, the caller must choose elsewhere
    st, parent = path.stat(), path.parent.stat()
    shared = parent.st_mode & stat.S_ISVTX and parent.st_mode & stat.S_IWOTH
    return st.st_uid == os.geteuid() and bool(shared)


def _ensure_reachable(directory: Path, who: _Account) -> None:
    """Create `directory` and make sure `who` can traverse every component of it."""
    created: set[Path] = set()
    probe = directory
    while not probe.exists():
        created.add(probe)
        probe = probe.parent
    directory.mkdir(parents=True, exist_ok=True)
    for path in [*reversed(directory.parents), directory]:
        st = path.stat()
        if _can_traverse(st, who):
            continue
        if path in created or _is_private_temp_dir(path):
            # Search-only permission for others: no listing, just passage.
            path.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            continue
        raise EmbeddedPostgresError(
            f"The `{who.name}` user cannot reach {directory}: {path} is not searchable by it "
            f"(mode {stat.S_IMODE(st.st_mode):o}, owner uid {st.st_uid}). Put the data "
            "directory somewhere it can reach (e.g. /var/tmp or /var/lib/colonies-ha; not under "
            f"/root or pytest's tmp_path), or run `chmod o+x {path}`."
        )


def _chown_tree(root: Path, who: _Account) -> None:
    os.chown(root, who.uid, who.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.chown(os.path.join(dirpath, name), who.uid, who.gid, follow_symlinks=False)


# --------------------------------------------------------------------------- spawning


def pdeathsig_preexec(signum: int = signal.SIGQUIT) -> Callable[[], None] | None:
    """Build the child hook that ties it to our life (it gets `signum` when we die, even by
    SIGKILL); prctl is resolved here, before fork."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent_pid = os.getpid()

    def preexec() -> None:
        # Runs after Popen's setgroups/setgid/setuid, which would otherwise clear the signal.
        prctl(PR_SET_PDEATHSIG, signum, 0, 0)
        if os.getppid() != parent_pid:  # parent already died before prctl took effect
            os._exit(1)

    return preexec


_SpawnJobs = queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
_spawn_queue: _SpawnJobs | None = None
_spawn_lock = threading.Lock()


def _spawner_loop(jobs: _SpawnJobs) -> None:
    while True:
        fn, future = jobs.get()
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)


def _on_long_lived_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on a thread that lives as long as the process.

    PDEATHSIG fires when the *thread* that forked the child exits, so spawning from a
    worker thread (asyncio.to_thread, a pool) would kill the server when that thread ends.
    """
    global _spawn_queue  # noqa: PLW0603 - one process-wide spawner thread
    if threading.current_thread() is threading.main_thread():
        return fn()
    with _spawn_lock:
        if _spawn_queue is None:
            _spawn_queue = queue.SimpleQueue()
            threading.Thread(
                target=_spawner_loop, args=(_spawn_queue,), name="embedded-pg-spawner", daemon=True
            ).start()
        jobs = _spawn_queue
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    jobs.put((fn, future))
    return future.result()


def _popen(argv: list[str], who: _Account | None, output: IO[bytes]) -> subprocess.Popen[bytes]:
    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd="/",  # our cwd may be unreachable for the postgres user (e.g. /root/...)
            user=who.uid if who else None,
            group=who.gid if who else None,
            extra_groups=list(who.groups) if who else None,
            process_group=0,  # terminal Ctrl-C goes to us; we stop the server in order
            preexec_fn=pdeathsig_preexec(),  # noqa: PLW1509 - only prctl, resolved pre-fork
        )

    return _on_long_lived_thread(spawn)


def _free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != 5432:  # never collide with a system cluster's default port
            return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes (PID 1 here may not reap orphans)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def children_of(pid: int) -> list[int]:
    """The live child processes of `pid`, from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# --------------------------------------------------------------------------- the server


class EmbeddedPostgres:
    """One PostgreSQL cluster in `datadir`, run as our child process on 127.0.0.1."""

    def __init__(
        self,
        datadir: Path,
        port: int | None = None,
        *,
        fsync: bool = True,
        extra_settings: dict[str, str] | None = None,
    ) -> None:
        self.datadir = Path(datadir).absolute()
        self.fsync = fsync
        self.extra_settings = dict(extra_settings or {})
        # Beside the datadir, not in it: initdb insists on an empty directory.
        self.log_path = self.datadir.parent / f"{self.datadir.name}-postgres.log"
        self._requested_port = port
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._private_sockdir: Path | None = None

    # -- public surface

    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedPostgresError("port is chosen at start(); call start() first")
        return self._port

    @property
    def dsn(self) -> str:
        return self.url("postgres")

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{quote(dbname, safe='')}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        """Init the cluster if needed, start the postmaster and wait until it accepts queries."""
        if self.running:
            return
        self._cleanup_sockdir()
        bindir = find_bindir()
        who = _postgres_account()
        self._prepare_datadir(who)
        with self.log_path.open("ab") as output:
            if not (self.datadir / "PG_VERSION").exists():
                self._initdb(bindir, who, output)
            self._clear_stale_pidfile()
            sockdir = self._socket_dir(who)
            # Started before: the same port again, so URLs naming it stay valid.
            requested = self._requested_port or self._port
            attempts = 3 if requested is None else 1
            for attempt in range(1, attempts + 1):
                self._port = requested or _free_port()
                offset = output.seek(0, os.SEEK_END)
                self._proc = _popen(self._server_argv(bindir, sockdir), who, output)
                try:
                    self._wait_ready(offset)
                    break
                except EmbeddedPostgresError as exc:
                    self._kill_quietly()
                    port_taken = "Address already in use" in str(exc)
                    if not (port_taken and attempt < attempts):
                        self._cleanup_sockdir()
                        raise
        atexit.register(self.stop)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), escalating to SIGQUIT then SIGKILL; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            for sig, timeout in (
                (signal.SIGINT, STOP_TIMEOUT),
                (signal.SIGQUIT, 5.0),
                (signal.SIGKILL, 5.0),
            ):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout)
        self._cleanup_sockdir()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults and replication (the chaos checker and the failover tests)

    def restart(self, down_for: float = 0.0) -> None:
        """Fast shutdown, `down_for` seconds down, then start again on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as a crashed host would lose them."""
        self._signal_all(signal.SIGKILL)
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.wait()
            atexit.unregister(self.stop)
        self._cleanup_sockdir()

    def pause(self) -> None:
        """SIGSTOP the server and its backends: connections stay open but nothing answers,
        which is what a replica sees when the network to its database is lost."""
        self._signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_all(signal.SIGCONT)

    def require_synchronous_standby(self, names: str = "*") -> None:
        """Make commits wait for a standby (ALTER SYSTEM: a base backup copies it along)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(names))
            conn.execute("SELECT pg_reload_conf()")

    def start_standby(self, datadir: Path, port: int | None = None) -> EmbeddedPostgres:
        """A streaming standby of this server: `pg_basebackup -R`, then started."""
        standby = EmbeddedPostgres(
            datadir, port, fsync=self.fsync, extra_settings=self.extra_settings
        )
        standby.base_backup_from(self)
        standby.start()
        return standby

    def base_backup_from(self, primary: EmbeddedPostgres) -> None:
        """Fill the (absent or empty) datadir with a copy of `primary`, set up to follow it."""
        bindir, who = find_bindir(), _postgres_account()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self._prepare_datadir(who)
        argv = [
            str(bindir / "pg_basebackup"),
            *("-D", str(self.datadir), "-h", "127.0.0.1", "-p", str(primary.port)),
            *("-U", "postgres", "-R", "-X", "stream", "-c", "fast"),
        ]
        if not self.fsync:
            argv.append("--no-sync")
        with self.log_path.open("ab") as output:
            offset = output.seek(0, os.SEEK_END)
            proc = _popen(argv, who, output)
            if proc.wait() != 0:
                raise EmbeddedPostgresError(
                    f"pg_basebackup failed (exit {proc.returncode}); {self.log_path}:\n"
                    f"{self._log_tail(offset)}"
                )

    def promote(self, *, clear_synchronous_standby_names: bool = True) -> None:
        """Make this standby the primary.

        A promoted standby keeps the `synchronous_standby_names` it copied from its primary,
        and with no standby of its own every commit would then wait forever; clearing it is
        what an operator (or Patroni) does.  Pass False to see that hang.
        """
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT pg_promote(true, 60)").fetchone()
            if not row or not row[0]:
                raise EmbeddedPostgresError(f"{self.datadir} was not promoted within 60 s")
            if clear_synchronous_standby_names:
                conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
                conn.execute("SELECT pg_reload_conf()")

    def wait_for_synchronous_standby(self, timeout: float = SYNC_TIMEOUT) -> None:
        """Until a standby streams from this primary and confirms its commits."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while True:
                query = "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
                row = conn.execute(query).fetchone()
                if row and row[0] > 0:
                    return
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"no synchronous standby of port {self.port} within {timeout:.0f}s"
                    )
                time.sleep(POLL_INTERVAL)

    def _signal_all(self, sig: signal.Signals) -> None:
        """Signal the postmaster, then its children (each backend is its own process group
        leader, so a group signal would miss them); SIGCONT goes the other way round."""
        pid = self.pid
        if pid is None:
            raise EmbeddedPostgresError(f"postgres on {self.datadir} is not running")
        children = children_of(pid)
        order = [*children, pid] if sig == signal.SIGCONT else [pid, *children]
        for target in order:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, sig)

    # -- internals

    def _prepare_datadir(self, who: _Account | None) -> None:
        if who is None:
            self.datadir.parent.mkdir(parents=True, exist_ok=True)
        else:
            _ensure_reachable(self.datadir.parent, who)
        self.datadir.mkdir(mode=0o700, exist_ok=True)
        if who is not None and self.datadir.stat().st_uid != who.uid:
            _chown_tree(self.datadir, who)
        self.datadir.chmod(0o700)  # postgres insists on 0700/0750

    def _initdb(self, bindir: Path, who: _Account | None, output: IO[bytes]) -> None:
        if any(self.datadir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.datadir} is not empty but has no PG_VERSION (an interrupted initdb?); "
                "remove it and try again"
            )
        argv = [
            str(bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",  # always available, unlike whatever LANG the caller has set
            "--no-instructions",
        ]
        if not self.fsync:
            argv.append("--no-sync")
        offset = output.seek(0, os.SEEK_END)
        proc = _popen(argv, who, output)
        if proc.wait() != 0:
            raise EmbeddedPostgresError(
                f"initdb failed (exit {proc.returncode}); {self.log_path}:\n"
                f"{self._log_tail(offset)}"
            )

    def _clear_stale_pidfile(self) -> None:
        pidfile = self.datadir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        if _pid_alive(pid) and "postgres" in _cmdline(pid):
            raise EmbeddedPostgresError(
                f"a postgres (pid {pid}) is already running on {self.datadir}; stop it first"
            )
        log.info("removing stale %s (pid %d is gone)", pidfile, pid)
        pidfile.unlink(missing_ok=True)

    def _socket_dir(self, who: _Account | None) -> Path:
        """The datadir itself when its path is short enough for a unix socket, else a temp dir."""
        if len(os.fsencode(self.datadir)) <= MAX_SOCKET_DIR_LEN:
            return self.datadir
        sockdir = Path(tempfile.mkdtemp(prefix="colonies-ha-pgsock-"))
        if who is not None:
            os.chown(sockdir, who.uid, who.gid)
        self._private_sockdir = sockdir
        return sockdir

    def _server_argv(self, bindir: Path, sockdir: Path) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(sockdir),
            "max_connections": "200",
        }
        if not self.fsync:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        settings |= self.extra_settings
        argv = [str(bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def _wait_ready(self, log_offset: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise EmbeddedPostgresError(
                    f"postgres exited with {self._proc.returncode} during startup; "
                    f"{self.log_path}:\n{self._log_tail(log_offset)}"
                )
            if self._accepts_queries():
                return
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"postgres did not accept connections on port {self.port} within "
                    f"{START_TIMEOUT:.0f}s; {self.log_path}:\n{self._log_tail(log_offset)}"
                )
            time.sleep(POLL_INTERVAL)

    def _accepts_queries(self) -> bool:
        try:  # a cheap TCP probe first, a real login only once the port is open
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            with psycopg.connect(self.dsn, connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
        except (OSError, psycopg.Error):
            return False
        return True

    def _kill_quietly(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _cleanup_sockdir(self) -> None:
        if self._private_sockdir is not None:
            shutil.rmtree(self._private_sockdir, ignore_errors=True)
            self._private_sockdir = None

    def _log_tail(self, offset: int = 0) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


# --------------------------------------------------------------------------- databases


def create_database(
    dsn: str, name: str, template: str | None = None, *, exist_ok: bool = False
) -> None:
    """CREATE DATABASE, optionally cloned from `template` (which must have no open sessions)."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(query)
        except psycopg.errors.DuplicateDatabase:
            if not exist_ok:
                raise


def drop_database(dsn: str, name: str) -> None:
    """DROP DATABASE IF EXISTS, forcing out leftover sessions so a test teardown never hangs."""
    query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query)


# --------------------------------------------------------------------------- a primary + standby


class StreamingPair:
    """A primary and its synchronous streaming standby on 127.0.0.1, and their failover.

    `url()` names both in libpq's multi-host form with `target_session_attrs=read-write`,
    so clients always land on whichever is the primary.  After `fail_over()` the roles
    swap; `rebuild_standby()` puts a fresh standby where the old primary was (same port),
    so the URL stays valid for every later failover.
    """

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = Path(root)
        # fsync may be off (a killed process leaves its writes in the page cache), but a
        # commit must wait for the standby: without fsync, synchronous_commit defaults off.
        # A standby whose primary died retries its WAL source every wal_retrieve_retry_interval
        # (5 s by default), and a promotion that arrives meanwhile waited for it (measured).
        settings = {"synchronous_commit": "on", "wal_retrieve_retry_interval": "500ms"}
        self.primary = EmbeddedPostgres(self.root / "pg-a", fsync=fsync, extra_settings=settings)
        self.standby: EmbeddedPostgres | None = None
        self._lost: EmbeddedPostgres | None = None  # a killed primary, until rebuilt
        self.ports: tuple[int, int] = (0, 0)

    def start(self) -> None:
        self.primary.start()
        self.primary.require_synchronous_standby()
        self.standby = self.primary.start_standby(self.root / "pg-b")
        self.primary.wait_for_synchronous_standby()
        self.ports = (self.primary.port, self.standby.port)

    @property
    def dsn(self) -> str:
        """The current primary's maintenance database."""
        return self.primary.dsn

    def url(self, dbname: str) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        name = quote(dbname, safe="")
        return f"postgresql://postgres@{hosts}/{name}?target_session_attrs=read-write"

    def fail_over(self, *, clear_synchronous_standby_names: bool = True) -> None:
        """SIGKILL the primary (and its backends), promote the standby: the roles swap."""
        if self.standby is None:
            raise EmbeddedPostgresError("no standby to promote; rebuild_standby() first")
        self.primary.kill()
        self.standby.promote(clear_synchronous_standby_names=clear_synchronous_standby_names)
        self._lost, self.primary, self.standby = self.primary, self.standby, None

    def rebuild_standby(self) -> None:
        """A new synchronous standby in the lost primary's place, commits waiting for it."""
        lost = self._lost
        if lost is None or self.standby is not None:
            return
        standby = EmbeddedPostgres(
            lost.datadir, lost.port, fsync=lost.fsync, extra_settings=lost.extra_settings
        )
        standby.base_backup_from(self.primary)
        standby.start()
        self.standby, self._lost = standby, None
        self.primary.require_synchronous_standby()
        self.primary.wait_for_synchronous_standby()

    def stop(self) -> None:
        for server in (self.standby, self.primary):
            if server is not None:
                server.stop()

    def __enter__(self) -> StreamingPair:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
