"""Before/after of a change on 3 replicas: `python -m benchmarks.ab_cluster OLD_TREE NEW_TREE`.

The cluster counterpart of `benchmarks.ab`: for each tree in turn (A, B, A, B … for
`--rounds` rounds) a fresh 3-replica cluster (Raft, as `make bench` starts it) on its own
database, workers round-robin over the replicas (two thirds of the assigns relayed), each
worker count for `--seconds` after 1 s of warm-up; then B/A ratios with their spread.  CPU
per cycle is that of the three replicas together (all their processes, with
`--server-workers`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmarks.ab import Point, compare, point_of
from benchmarks.env import BenchPostgres, http_session, make_colony, new_cluster, tree_environment
from benchmarks.load import run_cycles
from colonies_ha.cli.runtime import run_on_uvloop


async def measure(
    pg: BenchPostgres, tree: Path, workers: list[int], seconds: float, processes: int = 1
) -> dict[int, Point]:
    env = tree_environment(tree)
    assert env is not None
    saved = {key: os.environ.get(key) for key in ("PYTHONPATH", "PYTHONSAFEPATH")}
    os.environ.update(PYTHONPATH=env["PYTHONPATH"], PYTHONSAFEPATH="1")  # the replicas' env
    cluster = new_cluster(
        pg.new_database("abc"), Path(tempfile.mkdtemp()), size=3, workers=processes
    )
    found = {}
    try:
        cluster.start_all()
        async with http_session() as session:
            leader = await cluster.wait_for_agreed_leader(session)
            colony = await make_colony(session, leader.url, cluster.server_prvkey, max(workers))
            urls = [r.url for r in cluster.replicas]
            pids = tuple(pid for r in cluster.replicas for pid in cluster.pids(r))
            for count in workers:
                run = await run_cycles(
                    session,
                    urls,
                    colony,
                    count,
                    duration=seconds,
                    warmup=1.0,
                    server_pids=pids,
                    postmaster_pid=pg.server.pid if pg.server else None,
                )
                found[count] = point_of(run)
    finally:
        cluster.stop_all()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab_cluster", description=__doc__)
    parser.add_argument("trees", nargs=2, type=Path, help="OLD_TREE NEW_TREE")
    parser.add_argument("--workers", default="32,128", help="comma-separated worker counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per point")
    parser.add_argument(
        "--server-workers",
        default="1,1",
        metavar="A,B",
        help="serving processes per replica of A's and of B's cluster (server --workers)",
    )
    args = parser.parse_args()
    processes = [int(n) for n in args.server_workers.split(",")]
    if len(processes) != 2 or min(processes) < 1:
        parser.error("--server-workers takes two counts of at least 1, e.g. 1,2")
    workers = [int(w) for w in args.workers.split(",")]
    trees = [t.resolve() for t in args.trees]

    async def measure_tree(
        pg: BenchPostgres, variant: int, tree: Path, counts: list[int]
    ) -> dict[int, Point]:
        return await measure(pg, tree, counts, args.seconds, processes[variant])

    run_on_uvloop(compare(trees, workers, args.rounds, measure_tree, " of 3 replicas"))


if __name__ == "__main__":
    main()
