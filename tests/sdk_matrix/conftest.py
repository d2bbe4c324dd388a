"""One 3-replica cluster for the whole SDK matrix, and the follower every SDK talks to."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.embedded_pg import EmbeddedPostgres, create_database, drop_database
from tests.conftest import TEMPLATE


async def _follower(cluster: Cluster) -> ReplicaProcess:
    async with aiohttp.ClientSession() as http:
        leader = await cluster.wait_for_agreed_leader(http, within=60)
    return next(r for r in cluster.replicas if r is not leader)


@pytest.fixture(scope="session")
def matrix_cluster(postgres: EmbeddedPostgres) -> Iterator[tuple[Cluster, ReplicaProcess]]:
    """Started once: 22 releases share it (each in a colony of its own)."""
    name = f"sdkmatrix{os.getpid()}"
    create_database(postgres.dsn, name, template=TEMPLATE)
    with tempfile.TemporaryDirectory(prefix="colonies-ha-sdk-matrix-") as workdir:
        cluster = Cluster(postgres.url(name), Path(workdir))
        cluster.start_all()
        try:
            yield cluster, asyncio.run(_follower(cluster))
        finally:
            cluster.stop_all()
    drop_database(postgres.dsn, name)
