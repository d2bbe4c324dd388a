"""The connection pool, against the installed psycopg_pool and a real PostgreSQL."""

from __future__ import annotations

from colonies_ha.store.db import Database


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
