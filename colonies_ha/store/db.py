"""Connection pool, schema migrations, fenced (leader-only) transactions, and the bounds on
every wait for the database.

Bounds.  A request must never hang on the database, whatever state it is in: down (connects
are refused: fast), failing over (libpq's multi-host URL with `target_session_attrs=read-write`
finds the new primary; connections to the old one fail), paused or unreachable (nothing
answers, so no server-side timeout can fire: only a client-side deadline ends the wait), or
accepting connections but committing nothing (a primary still naming a synchronous standby
that is gone).  So every wait has two bounds: server-side timeouts on each session (they
free the server's locks and backends) and a client-side deadline around each whole request
or background task (`bounded`), which answers 503 `DatabaseUnavailable` when it passes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import select
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, LiteralString, TypeVar, cast

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from colonies_ha.domain.errors import DatabaseUnavailable, NotLeader
from colonies_ha.store.queries import Q

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[dict[str, Any]]
T = TypeVar("T")
_MIGRATION_LOCK = 7411000
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    folder = resources.files("colonies_ha.store").joinpath("sql/migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found)


async def migrate(conn: Conn) -> list[int]:
    """Apply the missing migrations in one transaction; safe when replicas start together.

    The transaction-level advisory lock makes concurrent starters queue: the first applies,
    the others then find nothing left to do.
    """
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute(cast(LiteralString, f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {row["version"] for row in await cur.fetchall()}
        for version, name, sql in migration_files():
            if version in done:
                continue
            log.info("applying schema migration %04d_%s", version, name)
            await conn.execute(cast(LiteralString, sql))
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            applied_now.append(version)
    return applied_now


# -- bounds -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DbBounds:
    """Every wait on the database, in seconds; chosen per kind of work.

    `statement` (server side) does not cover a COMMIT's wait for a synchronous standby
    (PostgreSQL stops the statement timer before committing): only the client-side deadline
    ends that wait.  Cancelled, PostgreSQL commits locally and only warns, so
    `_note_cancelled_sync_wait` turns that warning into a 503 wherever it is seen (the write
    is not known to be on the standby, so it must not be acknowledged).
    `idle_in_transaction`: our transactions never wait on a client, so one left idle means the
    replica froze inside it (SIGSTOP, a VM pause); its session is cut off so that the shared
    fencing lock it holds does not hold up a successor's epoch bump for the whole freeze.
    PostgreSQL 15 has no transaction_timeout: the client-side deadlines (`request`,
    `long_poll_extra`, `background`) bound a whole transaction, and a transaction abandoned
    by its deadline is cancelled and its connection dropped.
    """

    connect: int = 3  # libpq connect_timeout, per host of a multi-host URL (libpq's minimum is 2)
    pool_wait: float = 5.0  # waiting for a pooled connection (all busy, or none can be made)
    statement: float = 5.0
    lock: float = 3.0  # a row or advisory lock held by a stuck transaction
    idle_in_transaction: float = 3.0
    epoch_lock: float = 20.0  # the epoch bump waits for every transaction of the old epoch
    request: float = 10.0  # one RPC, from the first query to the reply
    long_poll_extra: float = 20.0  # an assign: its long poll plus this (relays included)
    background: float = 15.0  # one scan, one leadership step
    probe: float = 2.0  # /ready's write probe


BOUNDS = DbBounds()
RETRY_AFTER_SECONDS = 2  # told to clients with a 503: about one failover or restart
# The errors that mean "the database cannot serve this now", never "this request is wrong":
# connection lost or refused, cancelled by a timeout, no pooled connection, a read-only
# standby (a URL without target_session_attrs=read-write, or a promotion in progress).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # includes QueryCanceled, LockNotAvailable, pool timeouts
    psycopg.errors.ReadOnlySqlTransaction,
    psycopg.errors.AdminShutdown,
)
SYNC_WAIT_CANCELLED = "canceling wait for synchronous replication"
DRAIN_PERIOD = 1.0  # seconds: one failover empties the pool once, not once per request


def connection_kwargs(url: str) -> dict[str, Any]:
    """libpq settings every connection of ours uses (the pool's and the NOTIFY listener's).

    Keepalives notice a database host that vanished (power loss, partition) in about 10 s
    on an idle connection, and tcp_user_timeout bounds unacknowledged sends the same way.
    A setting the URL names itself is left to the URL (psycopg would let ours win).
    """
    defaults: dict[str, Any] = {
        "connect_timeout": BOUNDS.connect,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": 10_000,
    }
    given = conninfo_to_dict(url)
    return {key: value for key, value in defaults.items() if key not in given}


def unavailable(exc: BaseException) -> DatabaseUnavailable:
    """The 503 a client gets for a database failure; the first line of psycopg's message."""
    reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
    return DatabaseUnavailable(
        f"the database is unavailable ({reason}); nothing was acknowledged, try again",
        RETRY_AFTER_SECONDS,
    )


_abandoned: set[asyncio.Task[Any]] = set()


async def bounded(work: Awaitable[T], seconds: float, what: str) -> T:
    """`work`, or DatabaseUnavailable once `seconds` pass without it finishing.

    On the deadline the caller is answered at once; the work is cancelled in the background
    (psycopg then asks the server to cancel the query and drops the connection if even that
    goes unanswered, which may take seconds more on a paused server).  Database errors
    become DatabaseUnavailable too.
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_forget)
        raise DatabaseUnavailable(
            f"the database did not answer within {seconds:g} s ({what}); nothing was "
            "acknowledged, try again",
            RETRY_AFTER_SECONDS,
        )
    try:
        return task.result()
    except UNAVAILABLE_ERRORS as exc:
        raise unavailable(exc) from exc


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned task's failure is expected, not news


def _note_cancelled_sync_wait(conn: Conn) -> None:
    """Remember when PostgreSQL gave up waiting for the standby and committed only locally."""

    ref = weakref.ref(conn)

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        owner = ref()
        if owner is not None and SYNC_WAIT_CANCELLED in (diag.message_primary or ""):
            _unconfirmed.add(owner)

    conn.add_notice_handler(on_notice)


_unconfirmed: weakref.WeakSet[Conn] = weakref.WeakSet()


def _quiet(conn: Conn) -> bool:
    """Whether nothing arrived on an idle pooled connection since its last reply.

    A session that is terminated, or whose server restarts, fails over or dies, gets an
    error message or the end of its stream, and its socket turns readable; one that stays
    quiet is alive as far as a round trip could tell (a server that vanished without a
    word stalls the round trip too, until keepalives end it).  So only a readable socket
    costs the empty round trip; the others are checked with one non-blocking poll.
    """
    # poll(), not select(): a busy replica's sockets may be numbered past select's 1024.
    poller = select.poll()
    try:
        poller.register(conn.pgconn.socket, select.POLLIN)
        events = poller.poll(0)  # POLLIN, or POLLHUP/POLLERR for a broken socket
    except (psycopg.OperationalError, OSError):  # closed, or its socket is gone
        return False
    return not events


def _raise_if_unconfirmed(conn: Conn) -> None:
    if conn in _unconfirmed:
        _unconfirmed.discard(conn)
        raise DatabaseUnavailable(
            "the write committed on the database primary but the wait for its synchronous "
            "standby was cancelled (no standby connected?); it is not acknowledged, try again",
            RETRY_AFTER_SECONDS,
        )


async def _configure_session(conn: Conn) -> None:
    _note_cancelled_sync_wait(conn)
    await conn.execute(
        Q["session_setup"],
        {
            "statement_timeout": f"{int(BOUNDS.statement * 1000)}ms",
            "lock_timeout": f"{int(BOUNDS.lock * 1000)}ms",
            "idle_timeout": f"{int(BOUNDS.idle_in_transaction * 1000)}ms",
        },
    )


class _MostRecentFirst(deque[Any]):
    """A pool's idle connections, lent out most recently returned first (LIFO, as pgbouncer
    reuses server connections by default).  psycopg_pool lends in FIFO order, so under a
    moderate load every statement woke another, cache-cold backend that then queued for a
    core; reusing the few warm ones measured 0.81x replica + PostgreSQL CPU per cycle at 8
    workers and 0.91x at 128 (benchmarks/README.md).  psycopg_pool takes from the left of
    its deque (`popleft`) and returns to the right: taking from the right makes it LIFO.
    (Its idle shrink, every max_idle, then closes a recently used connection rather than
    the coldest; either way the pool loses one it did not need.)  Checked by
    tests/integration/test_database.py against the installed psycopg_pool."""

    def popleft(self) -> Any:
        return self.pop()


class Database:
    """The pool every request and scan borrows from."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20) -> None:
        self.url = url
        self._drained_at = float("-inf")
        self.pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True, **connection_kwargs(url)},
            open=False,
            name="colonies-ha",
            configure=_configure_session,
            # No `check=`: psycopg_pool tests idle connections one at a time and pauses 1, 2,
            # 4 s between failed tests, so after a failover a request would meet the dead
            # connections one by one for seconds.  `_checked` does the test instead.
            timeout=BOUNDS.pool_wait,
            # Retire connections so that none outlives a failover by long, even unused ones.
            max_lifetime=600.0,
            max_idle=120.0,
            # psycopg_pool retries a failed connect after 1, 2, 4, 8 ... s, doubling without a
            # cap until reconnect_timeout: after a long outage the next try could be minutes
            # away.  Giving up after 5 s instead restarts the backoff: the next request that
            # finds no connection grows the pool again from a 1 s delay, so the pool is back
            # within about 2 s of the database, however long it was down.
            reconnect_timeout=5.0,
        )
        self.pool._pool = _MostRecentFirst()  # still empty: the pool opens in open()

    async def open(self, *, run_migrations: bool = True) -> None:
        await self.pool.open(wait=True, timeout=30)
        if run_migrations:
            async with self.pool.connection() as conn:
                await migrate(conn)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def _checked(self) -> AsyncIterator[Conn]:
        """A pooled connection proven alive: quiet, or else by one empty round trip.

        A dead one means the database restarted or failed over, so every idle connection
        is as dead: the pool is drained at once (it reconnects, and with the multi-host URL's
        target_session_attrs=read-write the new connections reach the current primary) and
        one fresh connection is waited for, up to BOUNDS.pool_wait.
        """
        for attempt in range(2):
            async with self.pool.connection() as conn:
                try:
                    if not _quiet(conn):
                        await conn.execute("")
                except UNAVAILABLE_ERRORS:
                    if attempt:
                        raise
                else:
                    _unconfirmed.discard(conn)
                    yield conn
                    return
            await self._drain()

    async def _drain(self) -> None:
        """Drop the idle connections, at most once per DRAIN_PERIOD however many notice."""
        now = asyncio.get_running_loop().time()
        if now - self._drained_at < DRAIN_PERIOD:
            return
        self._drained_at = now
        log.warning("a pooled database connection was dead; reconnecting the whole pool")
        await self.pool.drain()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._checked() as conn:
            yield conn
            _raise_if_unconfirmed(conn)  # an autocommit write the standby did not confirm

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self._checked() as conn:
            async with conn.transaction():
                yield conn
            _raise_if_unconfirmed(conn)

    @asynccontextmanager
    async def fenced_transaction(self, epoch: int | None) -> AsyncIterator[Conn]:
        """A leader-only transaction: commits only while `epoch` is still the current one.

        (The claim does its fencing inside claim_for_waiters, migration 0009, together with
        the per-receipt serialisation of relayed attempts.)
        """
        if epoch is None:
            raise NotLeader("this replica is not the leader")
        async with self.transaction() as conn:
            await conn.execute(Q["fence_lock_shared"])
            cur = await conn.execute(Q["fence_epoch"])
            row = await cur.fetchone()
            if row is None or row["epoch"] != epoch:
                raise NotLeader("this replica's leadership was superseded (fencing epoch moved)")
            yield conn

    async def bump_epoch(self, nodeid: str, term: int, api_url: str = "") -> int:
        """Claim leadership in the database; waits for the old leader's transactions."""
        async with self.transaction() as conn:
            await conn.execute(
                Q["epoch_bump_lock_timeout"], {"lock_timeout": f"{int(BOUNDS.epoch_lock * 1000)}ms"}
            )
            await conn.execute(Q["fence_lock_exclusive"])
            cur = await conn.execute(
                Q["bump_epoch"], {"nodeid": nodeid, "term": term, "api_url": api_url}
            )
            row = await cur.fetchone()
            assert row is not None
            return int(row["epoch"])

    async def leader_row(self) -> dict[str, Any]:
        async with self.connection() as conn:
            cur = await conn.execute(Q["get_leader"])
            row = await cur.fetchone()
            assert row is not None
            return row

    async def probe_write(self, node_name: str) -> None:
        """Commit a tiny write within BOUNDS.probe, or raise DatabaseUnavailable (for /ready)."""

        async def probe() -> None:
            async with self.transaction() as conn:
                timeout = f"{int(BOUNDS.probe * 1000)}ms"
                await conn.execute(Q["probe_statement_timeout"], {"statement_timeout": timeout})
                await conn.execute(Q["ready_probe"], {"node_name": node_name})

        await bounded(probe(), BOUNDS.probe, "a write probe")

    async def replication_settings(self) -> dict[str, Any]:
        async with self.connection() as conn:
            cur = await conn.execute(Q["replication_settings"])
            row = await cur.fetchone()
            assert row is not None
            return row
