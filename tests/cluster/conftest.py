"""A cluster of real replica processes over the test session's PostgreSQL."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from colonies_ha.chaos.local_cluster import Cluster


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="colonies-ha-cluster-") as path:
        yield Path(path)


@pytest.fixture
def cluster(database_url: str, workdir: Path) -> Iterator[Cluster]:
    cluster = Cluster(database_url, workdir)
    cluster.start_all()
    try:
        yield cluster
    finally:
        cluster.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
