"""Test session: one real PostgreSQL, a migrated template database, a fresh copy per test."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from colonies_ha.embedded_pg import EmbeddedPostgres, create_database, drop_database
from colonies_ha.store.db import migrate
from tests.helpers import ColonyEnv, ServerEnv, start_server

TEMPLATE = "colonies_ha_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    # Not under /root or pytest's tmp_path: the postgres user must reach it.
    datadir = Path(tempfile.mkdtemp(prefix="colonies-ha-test-", dir="/var/tmp")) / "pg"
    server = EmbeddedPostgres(datadir, fsync=False)
    server.start()
    try:
        create_database(server.dsn, TEMPLATE)

        async def _migrate() -> None:
            conn = await psycopg.AsyncConnection.connect(
                server.url(TEMPLATE), autocommit=True, row_factory=psycopg.rows.dict_row
            )
            async with conn:
                await migrate(conn)

        asyncio.run(_migrate())
        yield server
    finally:
        server.stop()
        shutil.rmtree(datadir.parent, ignore_errors=True)


@pytest.fixture
def database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A database of this test alone, cloned from the migrated template (milliseconds)."""
    name = f"t{os.getpid()}_{next(_counter)}"
    create_database(postgres.dsn, name, template=TEMPLATE)
    yield postgres.url(name)
    drop_database(postgres.dsn, name)


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[ServerEnv]:
    env = await start_server(database_url)
    try:
        yield env
    finally:
        await env.stop()


@pytest.fixture
async def colony(server: ServerEnv) -> AsyncIterator[ColonyEnv]:
    env = await server.new_colony()
    try:
        yield env
    finally:
        await env.close()
