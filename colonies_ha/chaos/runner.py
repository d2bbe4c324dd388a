"""One chaos run from start to verdict: PostgreSQL, replicas, load and faults, settle, check.

`run_chaos` is what the CLI, `benchmarks/chaos.py` and the test call.  It starts its own
PostgreSQL primary with a synchronous streaming standby (in /var/tmp: the `postgres` user
cannot reach /root), which the replicas reach through one multi-host URL, unless it is
handed a database URL (then only replica and executor faults are possible).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psycopg
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from colonies_ha.chaos.checker import (
    FaultGap,
    Invariant,
    Snapshot,
    availability,
    check,
    failover_gaps,
    longest_assign_gap,
    read_epoch,
    read_snapshot,
)
from colonies_ha.chaos.history import History
from colonies_ha.chaos.local_cluster import Cluster
from colonies_ha.chaos.workload import DATABASE_FAULTS, ChaosConfig, Workload
from colonies_ha.embedded_pg import StreamingPair, create_database

CHAOS_DATABASE = "chaos"
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=3)
TICK = 0.5


@dataclass
class ChaosResult:
    config: ChaosConfig
    invariants: list[Invariant]
    gaps: list[FaultGap]
    counts: dict[str, int]
    elapsed: float
    history_path: Path | None
    workdir: Path | None  # the replicas' logs; None once removed after a passing run
    settled_in: float | None = None
    load_started: float = 0.0
    leader_changes: int = 0  # fencing epochs taken during the load and the settling
    longest_gap: tuple[float, float] = (0.0, 0.0)  # (seconds, at) without a successful assign

    @property
    def violations(self) -> list[str]:
        return [f"{i.name}: {v}" for i in self.invariants for v in i.violations]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def faults(self) -> int:
        return len(self.gaps)

    @property
    def leader_faults(self) -> int:
        return sum(1 for gap in self.gaps if gap.leader)

    def gap_summary(self) -> str:
        measured = [g.gap for g in self.gaps if g.gap is not None]
        if not measured:
            return "no faults measured"
        return f"max {max(measured):.2f} s, median {statistics.median(measured):.2f} s"

    def by_kind(self) -> dict[str, KindSummary]:
        """Per fault kind: how often, and how long until the next successful assign."""
        kinds: dict[str, list[FaultGap]] = {}
        for gap in self.gaps:
            kinds.setdefault(gap.kind, []).append(gap)
        return {kind: KindSummary.of(gaps) for kind, gaps in sorted(kinds.items())}


@dataclass(frozen=True)
class KindSummary:
    count: int
    median: float | None
    longest: float | None  # None when some fault of the kind was never followed by an assign

    @classmethod
    def of(cls, gaps: list[FaultGap]) -> KindSummary:
        measured = [g.gap for g in gaps if g.gap is not None]
        complete = len(measured) == len(gaps) and measured
        return cls(
            count=len(gaps),
            median=statistics.median(measured) if measured else None,
            longest=max(measured) if complete else None,
        )


async def run_chaos(config: ChaosConfig, console: Console | None = None) -> ChaosResult:
    """Run the whole scenario; `console` gets the progress bar (None: run quietly)."""
    if config.database_url and set(config.faults) & set(DATABASE_FAULTS):
        raise ValueError(
            "database faults need the run's own primary and standby; give no database URL "
            "or leave out " + ", ".join(DATABASE_FAULTS)
        )
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="colonies-ha-chaos-", dir="/var/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    history = History(config.history_path)
    started = time.monotonic()
    try:
        with _database(config, workdir) as (database_url, pair):
            result = await _run_on(
                database_url, pair, config, workdir=workdir, history=history, console=console
            )
    finally:
        history.close()
    result.elapsed = time.monotonic() - started
    if config.workdir is None and result.ok:  # logs of a passing run are not worth keeping
        shutil.rmtree(workdir, ignore_errors=True)
        result.workdir = None
    return result


@contextlib.contextmanager
def _database(config: ChaosConfig, workdir: Path) -> Iterator[tuple[str, StreamingPair | None]]:
    """The given database, or a fresh one on our own throwaway primary and standby."""
    if config.database_url:
        yield config.database_url, None
        return
    pair = StreamingPair(workdir / "pg", fsync=False)
    try:
        pair.start()
        create_database(pair.dsn, CHAOS_DATABASE)
        yield pair.url(CHAOS_DATABASE), pair
    finally:
        pair.stop()
        shutil.rmtree(workdir / "pg", ignore_errors=True)


async def _run_on(
    database_url: str,
    pair: StreamingPair | None,
    config: ChaosConfig,
    *,
    workdir: Path,
    history: History,
    console: Console | None,
) -> ChaosResult:
    cluster = Cluster(database_url, workdir, size=config.replicas, workers=config.workers)
    cluster.start_all()
    try:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as http:
            workload = Workload(cluster, http, history, config, pair)
            await cluster.wait_for_agreed_leader(http, within=60)
            setup = await workload.create_colony()
            history.record("epoch", epoch=await read_epoch(database_url))
            async with _progress(console) as progress:
                settled_in = await _drive(workload, progress)
            snapshot = await read_snapshot(database_url, setup.colonyid, setup.generatorid)
    finally:
        cluster.stop_all()
    return _judge(config, history, snapshot, workdir, settled_in)


async def _drive(workload: Workload, progress: Progress | None) -> float | None:
    """Load and faults for the duration, then settle while the executors keep draining."""
    config = workload.config
    workload.start_executors()
    load = [asyncio.create_task(workload.run_submitter(i)) for i in range(config.submitters)]
    load += [asyncio.create_task(workload.run_packer()), asyncio.create_task(workload.run_faults())]
    workload.history.record("phase", name="load")
    try:
        await _run_phase(workload, progress, "load + faults", config.duration)
        workload.stop_load.set()
        await asyncio.gather(*load)
        workload.heal_all()
        workload.history.record("phase", name="settle")
        settle = asyncio.create_task(_settle(workload))
        await _run_phase(workload, progress, "settling", config.settle_timeout, until=settle)
        return await settle
    finally:
        workload.stop_load.set()
        await asyncio.gather(*load, return_exceptions=True)
        await workload.stop_all_executors()


async def _settle(workload: Workload) -> float | None:
    """Seconds until nothing is waiting or running (None: not within the settle timeout)."""
    started = time.monotonic()
    deadline = started + workload.config.settle_timeout
    try:
        await workload.cluster.wait_for_agreed_leader(workload.http, within=30)
    except AssertionError as exc:
        workload.history.record("phase", name="no-leader", error=str(exc)[:500])
        return None
    await workload.remove_cron()
    setup = workload.colony()
    while time.monotonic() < deadline:
        if await _drained(workload.cluster.database_url, setup.colonyid, setup.generatorid,
                          workload.config.generator_trigger):  # fmt: skip
            workload.history.record("phase", name="settled")
            return time.monotonic() - started
        await asyncio.sleep(TICK)
    workload.history.record("phase", name="settle-timeout")
    return None


async def _drained(database_url: str, colonyid: str, generatorid: str, trigger: int) -> bool:
    conn = await psycopg.AsyncConnection.connect(database_url)
    async with conn:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM processes WHERE colonyid = %s AND state IN (0, 1)),"
            " (SELECT count(*) FROM generator_args WHERE generatorid = %s)",
            (colonyid, generatorid),
        )
        row = await cursor.fetchone()
    assert row is not None
    return row[0] == 0 and row[1] < trigger


async def _run_phase(
    workload: Workload,
    progress: Progress | None,
    name: str,
    seconds: float,
    until: asyncio.Task[float | None] | None = None,
) -> None:
    """Wait out a phase (or until `until` finishes), ticking the progress bar."""
    task = progress.add_task(name, total=seconds, stats="") if progress else None
    started = time.monotonic()
    while time.monotonic() - started < seconds and not (until and until.done()):
        await asyncio.sleep(TICK)
        if progress and task is not None:
            _tick(progress, task, workload, time.monotonic() - started)
    if progress and task is not None:
        progress.update(task, completed=seconds)


def _tick(progress: Progress, task: TaskID, workload: Workload, elapsed: float) -> None:
    counts = workload.history.counts
    faulted = workload.faulted.name if workload.faulted else "-"
    stats = (
        f"assigned {counts['assign:ok']}  closed {counts['close:ok']}  "
        f"submitted {counts['submit:ok']}  faults {counts['fault']}  "
        f"errors {counts['assign:error'] + counts['close:error'] + counts['submit:error']}  "
        f"faulted {faulted}"
    )
    progress.update(task, completed=elapsed, stats=stats)


@contextlib.asynccontextmanager
async def _progress(console: Console | None) -> AsyncIterator[Progress | None]:
    if console is None:
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[stats]}"),
    )
    with Progress(*columns, console=console) as progress:
        yield progress


def _judge(
    config: ChaosConfig,
    history: History,
    snapshot: Snapshot,
    workdir: Path,
    settled_in: float | None,
) -> ChaosResult:
    invariants = check(
        history, snapshot, cron_interval=config.cron_interval, trigger=config.generator_trigger
    )
    gaps = failover_gaps(history)
    invariants.append(availability(gaps, config.max_gap))
    if settled_in is None:
        invariants[1].violations.insert(
            0, f"the cluster did not drain within the settle timeout ({config.settle_timeout:g} s)"
        )
    return ChaosResult(
        config=config,
        invariants=invariants,
        gaps=gaps,
        counts=dict(history.counts),
        elapsed=0.0,
        history_path=config.history_path,
        workdir=workdir,
        settled_in=settled_in,
        load_started=next((op["t"] for op in history.of("phase") if op["name"] == "load"), 0.0),
        leader_changes=snapshot.epoch
        - next(history.of("epoch"), {"epoch": snapshot.epoch})["epoch"],
        longest_gap=longest_assign_gap(history),
    )
