"""Profile one replica under the full-cycle load: `python -m benchmarks.profile_server`.

Starts PostgreSQL and a `colonies-ha server`, drives `--workers` signed cycle workers at it
and records the server with py-spy (the `bench` extra) for `--seconds`; prints where the
server's CPU goes (inclusive share per function) and the CPU each party spent per cycle.
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

from benchmarks.env import BenchPostgres, ServerProcess, http_session, make_colony
from benchmarks.load import cpu_seconds, run_cycles


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_server")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "colonies-ha.raw")
    args = parser.parse_args()
    rate, cpu_us = asyncio.run(profile(args.workers, args.seconds, args.out))
    print(f"{rate:.0f} cycles/s with {args.workers} workers; server CPU {cpu_us:.0f} µs per cycle")
    if args.out.exists():
        for share, key in top_functions(args.out, args.top):
            print(f"{share:6.1%}  {key}")
        print(f"raw py-spy stacks: {args.out}")


if __name__ == "__main__":
    main()
