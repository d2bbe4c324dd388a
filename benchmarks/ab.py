"""Before/after of a server change: `python -m benchmarks.ab OLD_TREE NEW_TREE`.

Each tree is a directory holding a `colonies_ha` package (export the old one with
`mkdir /tmp/old && git archive HEAD~1 colonies_ha | tar -x -C /tmp/old`, and the new one
the same way: a server started for a tree imports that tree, never the working directory).  The same
single-replica cycle load runs against a server started from each tree in turn, alternating
for `--rounds` rounds so that drifting background load hits both alike; it prints cycles/s,
the server's CPU per cycle (the steadier number on a shared machine) and assign p99 of each
round, then B/A ratios with their spread over the rounds.  `--server-workers 1,2` runs A's
server with one process and B's with two (`server --workers`; the same tree may be given
twice); CPU per cycle is then that of all of a server's processes together.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.env import BenchPostgres, Colony, ServerProcess, http_session, make_colony
from benchmarks.load import cpu_seconds, drain_jobs, postgres_cpu_seconds, run_cycles
from colonies_ha.cli.runtime import run_on_uvloop


async def _drain(
    pg: BenchPostgres,
    server: ServerProcess,
    session: aiohttp.ClientSession,
    colony: Colony,
    *,
    jobs: int,
    count: int,
) -> Point:
    """The peers workload (benchmarks.load.drain_jobs): jobs/s, CPU per job, no p99."""
    assert server.process is not None and pg.server is not None and pg.server.pid
    pids = server.pids
    cpu, pg_cpu = sum(map(cpu_seconds, pids)), postgres_cpu_seconds(pg.server.pid)
    seconds = await drain_jobs(session, server.url, colony, jobs, count)
    cpu = sum(map(cpu_seconds, pids)) - cpu
    pg_after = postgres_cpu_seconds(pg.server.pid)
    spent = sum(t - pg_cpu.get(pid, 0.0) for pid, t in pg_after.items())
    return round(jobs / seconds), round(cpu / jobs * 1e6), 0.0, round(spent / jobs * 1e6)


async def measure(
    pg: BenchPostgres,
    tree: Path,
    workers: list[int],
    seconds: float,
    drain: int = 0,
    *,
    processes: int = 1,
) -> dict[int, Point]:
    """One server from `tree` (with `processes` serving processes), each worker count for
    `seconds` after 1 s of warm-up (or, with `drain`, that many jobs through the peers
    workload)."""
    server = ServerProcess(
        pg.new_database("ab"), Path(tempfile.mkdtemp()), tree=tree, workers=processes
    )
    server.start()
    found = {}
    try:
        async with http_session() as session:
            await server.wait_ready(session)
            colony = await make_colony(session, server.url, server.server_prvkey, max(workers))
            assert server.process is not None
            for count in workers:
                if drain:
                    found[count] = await _drain(
                        pg, server, session, colony, jobs=drain, count=count
                    )
                    continue
                run = await run_cycles(
                    session,
                    [server.url],
                    colony,
                    count,
                    duration=seconds,
                    warmup=1.0,
                    server_pids=server.pids,
                    postmaster_pid=pg.server.pid if pg.server else None,
                )
                found[count] = point_of(run)
    finally:
        server.stop()
    return found


Point = tuple[int, int, float, int]  # cycles/s, server µs/cycle, assign p99 ms, PostgreSQL µs
# Called with the run's PostgreSQL, the variant's index (0: A, 1: B), its tree, the counts.
Measure = Callable[[BenchPostgres, int, Path, list[int]], Awaitable[dict[int, Point]]]


def point_of(run: dict[str, Any]) -> Point:
    """What an A/B keeps of a benchmarks.load.run_cycles result."""
    return (
        round(run["cycles_per_s"]),
        round(run["server_cpu_us_per_cycle"] or 0),
        round(run["assign_ms"]["p99"], 1),
        round(run["postgres_cpu_us_per_cycle"] or 0),
    )


async def compare(
    trees: list[Path], workers: list[int], rounds: int, measure_tree: Measure, label: str = ""
) -> None:
    """A, B, A, B, ...: each round measures both trees, so drifting load hits both alike."""
    pg = BenchPostgres()
    pg.start()
    found: dict[tuple[int, int], list[Point]] = {}
    try:
        for round_ in range(rounds):
            for variant, tree in enumerate(trees):
                for count, point in (await measure_tree(pg, variant, tree, workers)).items():
                    found.setdefault((variant, count), []).append(point)
                    rate, cpu, p99, pg_cpu = point
                    print(
                        f"round {round_} {'AB'[variant]} {tree}: {count:3d} workers "
                        f"{rate:5d} cycles/s "
                        f"{cpu:5d} us/cycle{label} (PostgreSQL {pg_cpu:5d}) assign p99 {p99} ms",
                        flush=True,
                    )
    finally:
        pg.stop()
    print(summary(workers, found))


def summary(workers: list[int], found: dict[tuple[int, int], list[Point]]) -> str:
    """Per worker count: both means, and B/A of the means with the range of the per-round
    ratios (round i of B against round i of A)."""
    old, new = 0, 1
    lines = [
        "workers | A cycles/s | B cycles/s | B/A (per-round range) | A us/cycle | B us/cycle"
        " | replica + PostgreSQL us/cycle A, B (B/A)"
    ]
    for count in workers:
        a, b = found[(old, count)], found[(new, count)]
        rate = [y[0] / x[0] for x, y in zip(a, b, strict=True) if x[0]]
        cpu = [y[1] / x[1] for x, y in zip(a, b, strict=True) if x[1]]
        mean_a, mean_b = statistics.mean(x[0] for x in a), statistics.mean(y[0] for y in b)
        cpu_a, cpu_b = statistics.mean(x[1] for x in a), statistics.mean(y[1] for y in b)
        both_a = statistics.mean(x[1] + x[3] for x in a)
        both_b = statistics.mean(y[1] + y[3] for y in b)
        lines.append(
            f"{count:7d} | {mean_a:10.0f} | {mean_b:10.0f} | "
            f"{mean_b / mean_a:.2f}x ({min(rate):.2f}-{max(rate):.2f}) | "
            f"{cpu_a:10.0f} | {cpu_b:10.0f} (B/A {cpu_b / cpu_a:.2f}, "
            f"{min(cpu):.2f}-{max(cpu):.2f}) | {both_a:.0f}, {both_b:.0f} "
            f"({both_b / both_a:.2f})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    parser.add_argument("trees", nargs=2, type=Path, help="OLD_TREE NEW_TREE")
    parser.add_argument("--workers", default="8,32", help="comma-separated worker counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per point")
    parser.add_argument(
        "--drain",
        type=int,
        default=0,
        metavar="JOBS",
        help="measure the peers workload instead (JOBS jobs: submitters and executors at once;"
        " cycles/s then means jobs/s)",
    )
    parser.add_argument(
        "--server-workers",
        default="1,1",
        metavar="A,B",
        help="serving processes of A's and of B's server (server --workers)",
    )
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    trees = [t.resolve() for t in args.trees]
    processes = [int(n) for n in args.server_workers.split(",")]
    if len(processes) != 2 or min(processes) < 1:
        parser.error("--server-workers takes two counts of at least 1, e.g. 1,2")

    async def measure_tree(
        pg: BenchPostgres, variant: int, tree: Path, counts: list[int]
    ) -> dict[int, Point]:
        return await measure(
            pg, tree, counts, args.seconds, args.drain, processes=processes[variant]
        )

    run_on_uvloop(compare(trees, workers, args.rounds, measure_tree))


if __name__ == "__main__":
    main()
