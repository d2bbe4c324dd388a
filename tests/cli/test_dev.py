"""`colonies-ha dev` end to end, as the README's first command runs it: its own PostgreSQL,
exports that a client can use as printed, and Ctrl-C stopping everything it started."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from colonies_ha.chaos.local_cluster import free_port
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.config import RELAY_PORT_OFFSET
from colonies_ha.embedded_pg import children_of
from tests.cluster.test_workers import eventually, pids_answering, running

EXPORTS = 14  # the COLONIES_* lines `dev` prints
START_WITHIN = 60.0


def api_port_with_free_relay_port() -> int:
    """A free port whose relay port (port + RELAY_PORT_OFFSET) is free too."""
    while True:
        port = free_port()
        if port + RELAY_PORT_OFFSET < 65536:
            try:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + RELAY_PORT_OFFSET))
            except OSError:
                continue
            return port


@pytest.fixture
async def dev_data_dir() -> AsyncIterator[Path]:
    # Where the `postgres` user can reach it (not under pytest's tmp_path in /root).
    path = Path(tempfile.mkdtemp(prefix="colonies-ha-devtest-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_dev_serves_on_its_own_database_with_workers_and_stops_on_ctrl_c(
    dev_data_dir: Path,
) -> None:
    port = api_port_with_free_relay_port()
    argv = ["-m", "colonies_ha", "dev", "--port", str(port), "--pg-port", str(free_port())]
    argv += ["--data-dir", str(dev_data_dir), "--workers", "2"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        exports: dict[str, str] = {}
        async with asyncio.timeout(START_WITHIN):
            while len(exports) < EXPORTS:
                line = (await process.stdout.readline()).decode()
                assert line, "dev exited before printing its exports"
                name, _, value = line.strip().removeprefix("export ").partition("=")
                exports[name] = value
        url = f"http://{exports['COLONIES_SERVER_HOST']}:{exports['COLONIES_SERVER_PORT']}"

        # The printed executor key, colony and type are enough to run a process.
        async with aiohttp.ClientSession() as http:
            executor = ColoniesClient(url, exports["COLONIES_EXECUTOR_PRVKEY"], session=http)
            colonyid = exports["COLONIES_COLONY_ID"]
            spec = function_spec(colonyid, exports["COLONIES_EXECUTOR_TYPE"], "hello")
            submitted = await executor.submit(spec)
            assigned = await executor.assign(colonyid, 5)
            assert assigned["processid"] == submitted["processid"]
            await executor.close(assigned["processid"], ["world"])

        async def two_processes_serve() -> bool:
            return len(await pids_answering(url)) == 2

        await eventually(two_processes_serve, "dev's primary and worker answer on its port")
        started = children_of(process.pid)
        assert len(started) >= 2, started  # PostgreSQL's postmaster and the worker

        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(START_WITHIN):
            code = await process.wait()
            stderr = (await process.stderr.read()).decode()
        assert code == 0, stderr[-2000:]
        assert stderr.rstrip().endswith("stopped"), stderr[-2000:]

        async def all_stopped() -> bool:
            return not any(running(pid) for pid in started)

        await eventually(all_stopped, "PostgreSQL and the worker stop with dev")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
