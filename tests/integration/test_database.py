"""The database layer against a real PostgreSQL: the pool (psycopg_pool) and the schema."""

from __future__ import annotations

from colonies_ha.store.db import Database
from tests.helpers import ColonyEnv


async def test_the_connection_returned_last_is_lent_first(database_url: str) -> None:
    """LIFO: under a moderate load the same few warm backends serve every statement
    (colonies_ha.store.db._MostRecentFirst); psycopg_pool on its own lends the oldest."""
    db = Database(database_url, min_size=3, max_size=3)
    await db.open(run_migrations=False)
    try:
        async with db.connection() as first, db.connection() as second:
            warm = first.info.backend_pid
            assert second.info.backend_pid != warm
        # `second` went back first, then `first`: the one returned last comes out again,
        # not the third connection that has idled since the pool opened.
        for _ in range(3):
            async with db.connection() as again:
                assert again.info.backend_pid == warm
    finally:
        await db.close()


async def test_analyze_keeps_no_statistics_of_process_payloads(colony: ColonyEnv) -> None:
    """Migration 0011: autoanalyze of the busiest table skips the payloads nobody searches
    (spec, input, output, errors) and still describes the columns queries filter on."""
    for _ in range(3):
        await colony.executor.submit(colony.spec(args=["x" * 200]))
        assigned = await colony.executor.assign(colony.colonyid, 5)
        await colony.executor.close(assigned["processid"], ["result"])
    async with colony.server.replica.db.connection() as conn:
        await conn.execute("ANALYZE processes")
        cur = await conn.execute(
            "SELECT attname FROM pg_stats WHERE schemaname = 'public' AND tablename = 'processes'"
        )
        described = {row["attname"] for row in await cur.fetchall()}
    assert {"colonyid", "state", "executortype"} <= described
    assert not described & {"spec", "input", "output", "errors"}
