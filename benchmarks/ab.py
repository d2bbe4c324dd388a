"""Before/after of a server change: `python -m benchmarks.ab OLD_TREE NEW_TREE`.

Each tree is a directory holding a `colonies_ha` package (export the old one with
`mkdir /tmp/old && git archive HEAD~1 colonies_ha | tar -x -C /tmp/old`).  The same
single-replica cycle load runs against a server started from each tree in turn, alternating
for `--rounds` rounds so that drifting background load hits both alike; it prints cycles/s,
the server's CPU per cycle (the steadier number on a shared machine) and assign p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from benchmarks.env import BenchPostgres, ServerProcess, http_session, make_colony
from benchmarks.load import run_cycles


async def measure(
    pg: BenchPostgres, tree: Path, workers: list[int]
) -> dict[int, tuple[int, int, float]]:
    """One server from `tree` (first on PYTHONPATH), each worker count for 5 s."""
    os.environ["PYTHONPATH"] = str(tree)
    server = ServerProcess(pg.new_database("ab"), Path(tempfile.mkdtemp()))
    server.start()
    found = {}
    try:
        async with http_session() as session:
            await server.wait_ready(session)
            colony = await make_colony(session, server.url, server.server_prvkey, max(workers))
            assert server.process is not None
            for count in workers:
                run = await run_cycles(
                    session,
                    [server.url],
                    colony,
                    count,
                    duration=5.0,
                    warmup=1.0,
                    server_pids=(server.process.pid,),
                )
                found[count] = (
                    round(run["cycles_per_s"]),
                    round(run["server_cpu_us_per_cycle"] or 0),
                    round(run["assign_ms"]["p99"], 1),
                )
    finally:
        server.stop()
    return found


async def compare(trees: list[Path], workers: list[int], rounds: int) -> None:
    pg = BenchPostgres()
    pg.start()
    try:
        for round_ in range(rounds):
            for tree in trees:
                for count, (rate, cpu, p99) in (await measure(pg, tree, workers)).items():
                    print(
                        f"round {round_} {tree}: {count:3d} workers {rate:5d} cycles/s "
                        f"{cpu:5d} us/cycle assign p99 {p99} ms",
                        flush=True,
                    )
    finally:
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    parser.add_argument("trees", nargs=2, type=Path, help="OLD_TREE NEW_TREE")
    parser.add_argument("--workers", default="8,32", help="comma-separated worker counts")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    asyncio.run(compare([t.resolve() for t in args.trees], workers, args.rounds))


if __name__ == "__main__":
    main()
