"""The fencing epoch: once a new leader bumps it, no old leader's transaction commits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql

from colonies_ha.cluster.standalone import StandaloneLeadership
from colonies_ha.domain.errors import NotLeader
from colonies_ha.store.db import Database
from tests.helpers import ColonyEnv


@pytest.fixture
async def two_handles(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two pools on one database, as two replicas have."""
    old, new = Database(database_url), Database(database_url)
    await old.open()
    await new.open()
    yield old, new
    await old.close()
    await new.close()


async def test_superseded_epoch_is_refused(two_handles: tuple[Database, Database]) -> None:
    old, new = two_handles
    old_epoch = await old.bump_epoch("old", term=1)
    async with old.fenced_transaction(old_epoch) as conn:
        await conn.execute("SELECT 1")
    new_epoch = await new.bump_epoch("new", term=2)
    assert new_epoch == old_epoch + 1
    with pytest.raises(NotLeader, match="superseded"):
        async with old.fenced_transaction(old_epoch):
            pass
    async with new.fenced_transaction(new_epoch) as conn:
        await conn.execute("SELECT 1")


async def test_bump_waits_for_the_old_leaders_open_transaction(
    two_handles: tuple[Database, Database],
) -> None:
    old, new = two_handles
    old_epoch = await old.bump_epoch("old", term=1)
    in_transaction, may_commit = asyncio.Event(), asyncio.Event()

    async def old_leader_work() -> None:
        async with old.fenced_transaction(old_epoch) as conn:
            in_transaction.set()
            await may_commit.wait()
            await conn.execute("UPDATE leader SET nodeid = nodeid")  # a leader-only write

    work = asyncio.create_task(old_leader_work())
    await in_transaction.wait()
    bump = asyncio.create_task(new.bump_epoch("new", term=2))
    await wait_for_blocked_advisory_lock(new)
    assert not bump.done(), "the epoch moved while an old leader's transaction was open"
    may_commit.set()
    await work
    assert await bump == old_epoch + 1
    leader = await new.leader_row()
    assert leader["nodeid"] == "new"


async def wait_for_blocked_advisory_lock(db: Database) -> None:
    """Await the moment a session queues for the fencing lock (an ungranted advisory lock)."""
    async with asyncio.timeout(10):
        while True:
            async with db.connection() as conn:
                cur = await conn.execute(
                    "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
                row = await cur.fetchone()
            if row and row["n"]:
                return
            await asyncio.sleep(0.01)


async def test_none_epoch_is_not_a_leader(two_handles: tuple[Database, Database]) -> None:
    old, _ = two_handles
    with pytest.raises(NotLeader):
        async with old.fenced_transaction(None):
            pass


async def test_transactions_read_committed_whatever_the_database_default(
    database_url: str,
) -> None:
    """Under REPEATABLE READ the snapshot would predate the fencing lock's wait, and the
    epoch check could read an epoch that has already moved."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        dbname = urlparse(database_url).path.lstrip("/")
        await admin.execute(
            sql.SQL(
                "ALTER DATABASE {} SET default_transaction_isolation = 'repeatable read'"
            ).format(sql.Identifier(dbname))
        )
    db = Database(database_url)
    await db.open()
    try:
        async with db.fenced_transaction(await db.bump_epoch("me", term=1)) as conn:
            cur = await conn.execute("SHOW transaction_isolation")
            row = await cur.fetchone()
            assert row is not None and row["transaction_isolation"] == "read committed"
    finally:
        await db.close()


async def test_a_standalone_replica_fenced_by_another_server_leads_again(
    colony: ColonyEnv, database_url: str
) -> None:
    """A second standalone server on the same database (a misconfiguration) takes the epoch;
    once this replica's fenced work finds out, it stops leading, then claims the epoch back
    instead of never assigning again."""
    leadership = colony.server.replica.ctx.leadership
    assert isinstance(leadership, StandaloneLeadership)
    leadership.retake_after = 0.5
    intruder = Database(database_url)
    await intruder.open()
    try:
        intruder_epoch = await intruder.bump_epoch("intruder", term=0)
    finally:
        await intruder.close()
    async with asyncio.timeout(15):  # the deadline scan (every second) meets the fence
        while True:
            if (leadership.epoch or 0) > intruder_epoch:
                break
            await asyncio.sleep(0.05)
    submitted = await colony.executor.submit(colony.spec())
    assert (await colony.executor.assign(colony.colonyid, 5))["processid"] == (
        submitted["processid"]
    )
