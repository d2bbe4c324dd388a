"""Profile one replica under the full-cycle load: `python -m benchmarks.profile_server`.

Starts PostgreSQL and a `colonies-ha server`, drives `--workers` signed cycle workers at it
and records the server with py-spy (the `bench` extra) for `--seconds`; prints where the
server's CPU goes (inclusive share per function) and the CPU each party spent per cycle.
With `--cluster`, three replicas (workers round-robin over them, as `make bench` drives the
cluster) and the leader and one follower are recorded side by side.
py-spy needs ptrace rights (root, or CAP_SYS_PTRACE in a container).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.env import (
    BenchPostgres,
    ServerProcess,
    http_session,
    make_colony,
    new_cluster,
)
from benchmarks.load import cpu_seconds, postgres_cpu_seconds, run_cycles
from colonies_ha.cli.runtime import run_on_uvloop


def top_functions(raw: Path, count: int) -> list[tuple[float, str]]:
    """Inclusive share of samples per function from py-spy's `raw` (collapsed) output."""
    total, inclusive = 0, collections.Counter[str]()
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, samples = line.rsplit(" ", 1)
        total += int(samples)
        seen = set()
        for frame in stack.split(";"):
            name = frame.split(" (")[0]
            where = frame.rsplit("(", 1)[-1].split(":")[0]
            key = f"{name} ({where})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += int(samples)
    return [(n / max(total, 1), key) for key, n in inclusive.most_common(count)]


def _start_py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [py_spy, "record", "--pid", str(pid), "-d", str(int(seconds)), "-r", "200"]
    return subprocess.Popen(
        [*argv, "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def profile(workers: int, seconds: float, out: Path) -> tuple[float, float]:
    """(cycles/s, server CPU µs per cycle) while py-spy records the server into `out`."""
    pg = BenchPostgres()
    pg.start()
    server = ServerProcess(pg.new_database("profile"), Path(tempfile.mkdtemp()))
    server.start()
    try:
        async with http_session() as session:
            await server.wait_ready(session)
            colony = await make_colony(session, server.url, server.server_prvkey, workers)
            await run_cycles(session, [server.url], colony, workers, duration=1.0, warmup=0.5)
            assert server.process is not None
            pid = server.process.pid
            spy = _start_py_spy(pid, seconds, out)
            before = cpu_seconds(pid)
            result = await run_cycles(
                session, [server.url], colony, workers, duration=seconds, warmup=0.0
            )
            spent = cpu_seconds(pid) - before
            await asyncio.to_thread(spy.wait)
    finally:
        server.stop()
        pg.stop()
    return result["cycles_per_s"], spent / max(result["cycles"], 1) * 1e6


async def profile_cluster(workers: int, seconds: float, out: Path) -> list[str]:
    """Lines on what each replica and PostgreSQL spent per cycle, while py-spy records the
    leader into `out` and the first follower into `out` with a `.follower` suffix."""
    pg = BenchPostgres()
    pg.start()
    cluster = new_cluster(pg.new_database("profile"), Path(tempfile.mkdtemp()), size=3)
    cluster.start_all()
    try:
        async with http_session() as session:
            leader = await cluster.wait_for_agreed_leader(session)
            follower = next(r for r in cluster.replicas if r is not leader)
            colony = await make_colony(session, leader.url, cluster.server_prvkey, workers)
            urls = [r.url for r in cluster.replicas]
            await run_cycles(session, urls, colony, workers, duration=1.0, warmup=0.5)
            pids = {r.name: r.process.pid for r in cluster.replicas if r.process is not None}
            spies = [
                _start_py_spy(pids[leader.name], seconds, out),
                _start_py_spy(pids[follower.name], seconds, out.with_suffix(".follower")),
            ]
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            postmaster = (pg.server.pid if pg.server else None) or 0
            pg_before = postgres_cpu_seconds(postmaster)
            result = await run_cycles(session, urls, colony, workers, duration=seconds, warmup=0.0)
            pg_after = postgres_cpu_seconds(postmaster)
            spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            for spy in spies:
                await asyncio.to_thread(spy.wait)
    finally:
        cluster.stop_all()
        pg.stop()
    cycles = max(result["cycles"], 1)
    pg_spent = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
    lines = [f"{result['cycles_per_s']:.0f} cycles/s with {workers} workers over 3 replicas"]
    for name, cpu in spent.items():
        role = "leader" if name == leader.name else "follower"
        lines.append(f"  {name} ({role}): {cpu / cycles * 1e6:.0f} µs CPU per cycle")
    lines.append(f"  all replicas: {sum(spent.values()) / cycles * 1e6:.0f} µs per cycle")
    lines.append(f"  PostgreSQL: {pg_spent / cycles * 1e6:.0f} µs per cycle")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_server")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "colonies-ha.raw")
    parser.add_argument("--cluster", action="store_true", help="3 replicas: leader + follower")
    args = parser.parse_args()
    if args.cluster:
        lines = run_on_uvloop(profile_cluster(args.workers, args.seconds, args.out))
        print("\n".join(lines))
        profiles = [("leader", args.out), ("follower", args.out.with_suffix(".follower"))]
    else:
        rate, cpu_us = run_on_uvloop(profile(args.workers, args.seconds, args.out))
        print(f"{rate:.0f} cycles/s with {args.workers} workers; server CPU {cpu_us:.0f} µs/cycle")
        profiles = [("server", args.out)]
    for role, raw in profiles:
        if raw.exists():
            print(f"-- {role}")
            for share, key in top_functions(raw, args.top):
                print(f"{share:6.1%}  {key}")
            print(f"raw py-spy stacks: {raw}")


if __name__ == "__main__":
    main()
