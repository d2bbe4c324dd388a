"""The load generator: signed submit → assign → close cycles, closed loop or paced.

Each worker is one approved executor that submits a process, assigns (gets the oldest
waiting process of the colony, not necessarily its own) and closes it.  Because every
worker submits before it assigns, an assign always finds work and its latency is the
server's service time, never a long-poll wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.env import Colony
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.domain.errors import ColoniesError

ASSIGN_TIMEOUT = 10


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no samples."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    return {
        "p50": percentile(values, 50) * 1e3,
        "p95": percentile(values, 95) * 1e3,
        "p99": percentile(values, 99) * 1e3,
        "max": (max(values) if values else math.nan) * 1e3,
        "n": len(values),
    }


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the load generator's own heap (imports, earlier results, sessions) out of its
    full collections while it measures.  A full collection walking it stopped the event loop
    for 30-50 ms every 10-20 s at half of peak, and every reply arriving meanwhile was
    timed as slow (benchmarks/README.md, *Issue 13, fourth stop*).  Like timeit's `gc.disable`
    but gentler: what the measurement allocates is still collected."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class Samples:
    submit: list[float] = field(default_factory=list)
    assign: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    cycles: int = 0
    all_cycles: int = 0  # warm-up and late ones included, for CPU per cycle
    errors: int = 0
    last_error: str = ""


@dataclass
class Window:
    """The measured interval: samples from cycles that start after warm-up and end in time."""

    start: float
    end: float


async def _worker(
    client: ColoniesClient,
    *,
    colony: Colony,
    spec: dict[str, Any],
    window: Window,
    samples: Samples,
    interval: float | None,
    offset: float,
) -> None:
    clock = time.perf_counter
    next_start = clock() + offset
    while True:
        if interval is not None:
            pause = next_start - clock()
            if pause > 0:
                await asyncio.sleep(pause)
            next_start += interval
        t0 = clock()
        if t0 >= window.end:
            return
        try:
            await client.submit(spec)
            t1 = clock()
            process = await client.assign(colony.colonyid, ASSIGN_TIMEOUT)
            t2 = clock()
            await client.close(process["processid"], [])
            t3 = clock()
        except ColoniesError as exc:
            samples.errors += 1
            samples.last_error = str(exc)[:200]
            continue
        samples.all_cycles += 1
        if t0 >= window.start and t3 <= window.end:
            samples.submit.append(t1 - t0)
            samples.assign.append(t2 - t1)
            samples.close.append(t3 - t2)
            samples.cycles += 1


async def run_cycles(
    session: aiohttp.ClientSession,
    urls: list[str],
    colony: Colony,
    concurrency: int,
    *,
    duration: float,
    warmup: float,
    rate: float | None = None,
    server_pids: tuple[int, ...] = (),
    postmaster_pid: int | None = None,
    metrics_url: str | None = None,
) -> dict[str, Any]:
    """`concurrency` workers spread round-robin over `urls`; `rate` paces them (cycles/s).

    Cycles/s counts the cycles that started after the warm-up and ended within the window.
    CPU per cycle (of `server_pids`) is steadier than cycles/s on a busy shared machine;
    with `postmaster_pid`, PostgreSQL's (its backends') is measured too, since a change can
    move work from the replica into the database.
    """
    if concurrency > len(colony.executor_keys):
        raise ValueError("the colony has fewer executors than workers")
    spec = function_spec(colony.colonyid, colony.executortype, "noop")
    samples = Samples()
    now = time.perf_counter()
    window = Window(now + warmup, now + warmup + duration)
    interval = concurrency / rate if rate else None
    workers = [
        _worker(
            ColoniesClient(urls[i % len(urls)], colony.executor_keys[i], session=session),
            colony=colony,
            spec=spec,
            window=window,
            samples=samples,
            interval=interval,
            offset=(interval or 0.0) * i / concurrency,
        )
        for i in range(concurrency)
    ]
    histogram_before = await assign_histogram(session, metrics_url) if metrics_url else {}
    cpu_before = sum(cpu_seconds(pid) for pid in server_pids)
    pg_before = postgres_cpu_seconds(postmaster_pid) if postmaster_pid else {}
    with frozen_heap():
        await asyncio.gather(*workers)
    cpu = sum(cpu_seconds(pid) for pid in server_pids) - cpu_before
    pg_cpu = None
    if postmaster_pid:
        pg_after = postgres_cpu_seconds(postmaster_pid)
        pg_cpu = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
    server_p99 = None
    if metrics_url:
        histogram_after = await assign_histogram(session, metrics_url)
        server_p99 = p99_bound_ms(histogram_before, histogram_after)
    return {
        "concurrency": concurrency,
        "target_rate": rate,
        "seconds": duration,
        "cycles": samples.cycles,
        "cycles_per_s": samples.cycles / duration,
        "assign_ms": summary_ms(samples.assign),
        "submit_ms": summary_ms(samples.submit),
        "close_ms": summary_ms(samples.close),
        "server_cpu_us_per_cycle": cpu / samples.all_cycles * 1e6
        if server_pids and samples.all_cycles
        else None,
        "postgres_cpu_us_per_cycle": pg_cpu / samples.all_cycles * 1e6
        if pg_cpu is not None and samples.all_cycles
        else None,
        "server_assign_p99_bound_ms": server_p99,
        "errors": samples.errors,
        "last_error": samples.last_error,
    }


async def assign_histogram(session: aiohttp.ClientSession, url: str) -> dict[float, float]:
    """The replica's own assign latency histogram (/metrics): cumulative count by bucket
    bound in seconds.  Its clock starts when the request is read and stops at the reply,
    so, unlike the client's, it leaves out the load generator's own scheduling."""
    async with session.get(f"{url}/metrics") as reply:
        text = await reply.text()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("colonies_request_duration_seconds_bucket{") and (
            'msgtype="assignprocessmsg"' in line
        ):
            labels, value = line.rsplit(" ", 1)
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[math.inf if bound == "+Inf" else float(bound)] = float(value)
    return buckets


def p99_bound_ms(before: dict[float, float], after: dict[float, float]) -> float | None:
    """The smallest bucket bound (ms) under which 99 % of the assigns between two readings
    of the histogram fell: an upper bound of their p99 (None without assigns)."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts.get(math.inf, 0.0)
    if total <= 0:
        return None
    for bound, count in counts.items():
        if count >= 0.99 * total:
            return bound * 1e3
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(postmaster_pid: int) -> dict[int, float]:
    """CPU seconds so far of a PostgreSQL server: the postmaster and its children, by pid
    (a backend that ended meanwhile is missed; the replicas' pooled sessions live on)."""
    found = {postmaster_pid: cpu_seconds(postmaster_pid)}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster_pid:
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


async def drain_jobs(
    session: aiohttp.ClientSession, url: str, colony: Colony, jobs: int, concurrency: int
) -> float:
    """The queue-comparison workload: `concurrency` submitters enqueue `jobs` processes
    one by one while `concurrency` executors assign and close them; returns the seconds
    from the first submit to the last close."""
    spec = function_spec(colony.colonyid, colony.executortype, "noop")
    owner = ColoniesClient(url, colony.executor_keys[0], session=session)
    executors = [
        ColoniesClient(url, colony.executor_keys[i], session=session) for i in range(concurrency)
    ]
    per_submitter = [jobs // concurrency + (i < jobs % concurrency) for i in range(concurrency)]
    remaining = [jobs]

    async def submitter(count: int) -> None:
        for _ in range(count):
            await owner.submit(spec)

    async def executor(client: ColoniesClient) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            process = await client.assign(colony.colonyid, ASSIGN_TIMEOUT)
            await client.close(process["processid"], [])

    start = time.perf_counter()
    await asyncio.gather(*(submitter(n) for n in per_submitter), *(executor(c) for c in executors))
    return time.perf_counter() - start
