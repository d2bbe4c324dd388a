"""Failover: kill -9 the leader under steady load; how long until a client gets work again.

Three replicas (the chaos harness's Cluster) share the benchmark's PostgreSQL.  A submitter
keeps the queue stocked and executors assign and close through the replicas that were
followers when the leader died.  One run: SIGKILL the leader at t0, then wait for the first
assign reply whose process was *claimed* after t0 (its `starttime` is later than t0, so the
new leader claimed it, not the dead one); the failover time is that reply's arrival - t0.
The killed replica is restarted and the cluster settles (all replicas agree on a leader,
then a second of steady load) before the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from benchmarks.env import make_colony
from benchmarks.load import percentile
from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.domain.errors import ColoniesError

EXECUTORS = 4
SUBMIT_RATE = 100.0  # processes/s while the benchmark runs: a steady, modest load
RUN_TIMEOUT = 30.0
SETTLE_SECONDS = 1.0


class _Load:
    """Steady traffic through the current followers, and the assign replies it saw."""

    def __init__(self, cluster: Cluster, session: aiohttp.ClientSession) -> None:
        self.cluster = cluster
        self.session = session
        self.targets: list[ReplicaProcess] = []
        self.replies: list[tuple[float, float]] = []  # (arrival wall time, claim wall time)
        self.stop = asyncio.Event()

    def _pick(self) -> ReplicaProcess:
        live = [r for r in self.targets if r.alive]
        return random.choice(live or self.targets)

    async def submitter(self, key: str, colonyid: str) -> None:
        spec = function_spec(colonyid, "bench", "noop", maxexectime=5, maxretries=-1)
        while not self.stop.is_set():
            with contextlib.suppress(ColoniesError):
                await ColoniesClient(self._pick().url, key, session=self.session).submit(spec)
            await asyncio.sleep(1 / SUBMIT_RATE)

    async def executor(self, key: str, colonyid: str) -> None:
        while not self.stop.is_set():
            client = ColoniesClient(self._pick().url, key, session=self.session)
            try:
                process = await client.assign(colonyid, 2)
            except ColoniesError:
                await asyncio.sleep(0.01)
                continue
            claimed = datetime.fromisoformat(process["starttime"]).timestamp()
            self.replies.append((time.time(), claimed))
            with contextlib.suppress(ColoniesError):
                await client.close(process["processid"], [])


async def failover_runs(
    session: aiohttp.ClientSession,
    cluster: Cluster,
    runs: int,
    on_run: Callable[[int, float], None] = lambda _i, _s: None,
) -> dict[str, Any]:
    """`runs` kills of the leader of a started cluster (left running, all replicas up)."""
    load = _Load(cluster, session)
    tasks: list[asyncio.Task[None]] = []
    times: list[float] = []
    try:
        leader = await cluster.wait_for_agreed_leader(session)
        colony = await make_colony(session, leader.url, cluster.server_prvkey, EXECUTORS + 1)
        load.targets = [r for r in cluster.replicas if r is not leader]
        tasks.append(asyncio.create_task(load.submitter(colony.executor_keys[0], colony.colonyid)))
        tasks += [
            asyncio.create_task(load.executor(key, colony.colonyid))
            for key in colony.executor_keys[1:]
        ]
        for run in range(runs):
            await asyncio.sleep(SETTLE_SECONDS)
            load.replies.clear()  # only replies after the kill matter
            t0 = time.time()
            cluster.kill(leader)
            times.append(await _first_new_claim(load, t0))
            on_run(run, times[-1])
            cluster.start(leader)
            leader = await cluster.wait_for_agreed_leader(session)
            load.targets = [r for r in cluster.replicas if r is not leader]
    finally:
        load.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "runs": len(times),
        "seconds": times,
        "median_s": percentile(times, 50),
        "p90_s": percentile(times, 90),
        "p99_s": percentile(times, 99),
        "max_s": max(times) if times else float("nan"),
    }


async def _first_new_claim(load: _Load, t0: float) -> float:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        after = [arrival for arrival, claimed in load.replies if claimed > t0]
        if after:
            return min(after) - t0
        await asyncio.sleep(0.005)
    raise RuntimeError(f"no assign succeeded within {RUN_TIMEOUT:.0f} s of killing the leader")
