"""A busy replica holds more than 1,024 sockets (clients, pool, WebSockets): the pool's
liveness check of a connection numbered past that must work (select() cannot take it)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from colonies_ha.store.db import Database

HIGH = 1100  # past select()'s FD_SETSIZE of 1024


@pytest.fixture
def low_descriptors_taken() -> Iterator[None]:
    """Occupy the descriptors below HIGH, so the next socket opened is numbered past it."""
    taken: list[int] = []
    try:
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            if fd >= HIGH:
                os.close(fd)
                break
            taken.append(fd)
        yield
    finally:
        for fd in taken:
            os.close(fd)


async def test_a_connection_numbered_past_1024_is_checked_and_used(
    database_url: str, low_descriptors_taken: None
) -> None:
    db = Database(database_url, min_size=1, max_size=1)
    await db.open(run_migrations=False)
    try:
        for _ in range(3):  # each checkout runs the liveness check
            async with db.connection() as conn:
                assert conn.pgconn.socket >= HIGH
                cur = await conn.execute("SELECT 1 AS one")
                assert (await cur.fetchone()) == {"one": 1}
    finally:
        await db.close()
