"""Connection pool, schema migrations and fenced (leader-only) transactions."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, LiteralString, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from colonies_ha.domain.errors import NotLeader
from colonies_ha.store.queries import Q

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[dict[str, Any]]
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


# Our transactions never wait on a client, so one left idle means the replica froze inside
# it (SIGSTOP, a VM pause).  Its session is cut off so that the shared fencing lock it holds
# does not hold up a successor's epoch bump for the whole freeze.
IDLE_IN_TRANSACTION_TIMEOUT = "3s"


async def _configure_session(conn: Conn) -> None:
    await conn.execute(
        cast(
            LiteralString,
            f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'",
        )
    )
    # The fencing check reads the epoch after taking the shared lock and must see the last
    # committed bump: a snapshot taken earlier (REPEATABLE READ, should the database default
    # to it) could show an epoch that has already moved.
    await conn.execute("SET default_transaction_isolation = 'read committed'")


class Database:
    """The pool every request and scan borrows from."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 20) -> None:
        self.url = url
        self.pool = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            open=False,
            name="colonies-ha",
            configure=_configure_session,
        )

    async def open(self, *, run_migrations: bool = True) -> None:
        await self.pool.open(wait=True, timeout=30)
        if run_migrations:
            async with self.pool.connection() as conn:
                await migrate(conn)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self.pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def fenced_transaction(
        self, epoch: int | None, *, serialize_on: str | None = None
    ) -> AsyncIterator[Conn]:
        """A leader-only transaction: commits only while `epoch` is still the current one.

        With `serialize_on`, transactions naming the same key run one after the other (the
        key's lock is taken in the same round trip as the fencing lock).
        """
        if epoch is None:
            raise NotLeader("this replica is not the leader")
        async with self.transaction() as conn:
            if serialize_on is None:
                await conn.execute(Q["fence_lock_shared"])
            else:
                await conn.execute(Q["fence_lock_shared_and_key"], {"key": serialize_on})
            cur = await conn.execute(Q["fence_epoch"])
            row = await cur.fetchone()
            if row is None or row["epoch"] != epoch:
                raise NotLeader("this replica's leadership was superseded (fencing epoch moved)")
            yield conn

    async def bump_epoch(self, nodeid: str, term: int, api_url: str = "") -> int:
        """Claim leadership in the database; waits for the old leader's transactions."""
        async with self.transaction() as conn:
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
