"""`python -m benchmarks.run [--quick] [--only NAMES] [--out DIR]`: the benchmark runner.

Starts its own PostgreSQL (settings in benchmarks/env.py), measures, shows progress, prints
the tables and writes results.json, results.md and PNG plots.  Nothing here is asserted:
the targets (issue 13's, and issue 7's where 13 sets none) are reported as met or missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks import report
from benchmarks.depth import queue_depth
from benchmarks.env import (
    PG_SETTINGS,
    BenchPostgres,
    Colony,
    ServerProcess,
    export_tree,
    http_session,
    make_colony,
    new_cluster,
)
from benchmarks.failover import failover_runs
from benchmarks.idle_cost import probe as idle_probe
from benchmarks.idle_cost import summary as idle_summary
from benchmarks.load import drain_jobs, run_cycles
from colonies_ha.cli.runtime import run_on_uvloop

MEASUREMENTS = ("single", "cluster", "scaling", "peers", "failover", "depth")


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a mode runs."""

    mode: str
    concurrencies: tuple[int, ...]
    cluster_concurrencies: tuple[int, ...]
    duration: float
    warmup: float
    depths: tuple[int, ...]
    depth_assigns: int
    failover_runs: int
    peer_jobs: int
    peer_concurrencies: tuple[int, ...]
    scaling_rounds: int  # one replica, then three, this many times over
    scaling_concurrencies: tuple[int, ...]
    scaling_duration: float
    idle_probe_seconds: float  # per sleep length, for benchmarks.idle_cost


FULL = Plan(
    "full",
    concurrencies=(1, 8, 32, 128),
    cluster_concurrencies=(8, 32, 128),
    duration=10.0,
    warmup=2.0,
    depths=(1_000, 10_000, 100_000, 1_000_000),
    depth_assigns=300,
    failover_runs=20,
    peer_jobs=3000,
    peer_concurrencies=(8, 32),
    scaling_rounds=3,
    scaling_concurrencies=(32, 128),
    scaling_duration=5.0,
    idle_probe_seconds=1.5,
)
QUICK = Plan(
    "quick",
    concurrencies=(1, 8, 32),
    cluster_concurrencies=(8, 32),
    duration=1.2,
    warmup=0.3,
    depths=(1_000, 10_000),
    depth_assigns=50,
    failover_runs=2,
    peer_jobs=1000,
    peer_concurrencies=(8,),
    scaling_rounds=1,
    scaling_concurrencies=(32,),
    scaling_duration=1.2,
    idle_probe_seconds=0.6,
)
# The smallest end-to-end configuration, for the smoke test (not a measurement).
SMOKE = Plan(
    "smoke",
    concurrencies=(1, 2),
    cluster_concurrencies=(2,),
    duration=0.4,
    warmup=0.1,
    depths=(100, 200),
    depth_assigns=5,
    failover_runs=1,
    peer_jobs=20,
    peer_concurrencies=(2,),
    scaling_rounds=1,
    scaling_concurrencies=(2,),
    scaling_duration=0.4,
    idle_probe_seconds=0.05,
)
PLANS = {"full": FULL, "quick": QUICK, "smoke": SMOKE}


class Runner:
    """Runs the selected measurements in order against one PostgreSQL."""

    def __init__(
        self,
        plan: Plan,
        only: tuple[str, ...],
        progress: Progress,
        baseline: Path | None = None,
        server_workers: int = 1,
    ) -> None:
        self.plan = plan
        self.only = only
        self.progress = progress
        self.baseline = baseline
        self.server_workers = server_workers  # processes of the `single` replica
        self.task = progress.add_task("starting PostgreSQL", total=self._steps())
        self.pg = BenchPostgres()
        self.workdir = Path(tempfile.mkdtemp(prefix="colonies-ha-bench-logs-"))
        self.results: dict[str, Any] = {}
        self.notes: list[str] = []
        self.postgres_version = "?"
        self.timings: dict[str, float] = {}

    def _steps(self) -> int:
        p = self.plan
        counts = {
            "single": len(p.concurrencies) * (2 if self.baseline else 1) + 1,
            "cluster": len(p.cluster_concurrencies) + 1,
            "scaling": p.scaling_rounds * (2 * len(p.scaling_concurrencies) + 1),
            "peers": 3 * len(p.peer_concurrencies),
            "failover": p.failover_runs,
            "depth": len(p.depths),
        }
        return 1 + sum(counts[name] for name in self.only)

    def _postmaster(self) -> int | None:
        return self.pg.server.pid if self.pg.server is not None else None

    def step(self, description: str, advance: int = 0) -> None:
        self.progress.update(self.task, description=description, advance=advance)

    async def run(self) -> dict[str, Any]:
        # Before and after, while nothing of ours runs: what this machine charges for going
        # idle (most of why half of the peak costs more CPU per cycle than the peak; it grows
        # when other work crowds the host, so the two readings show a host that changed).
        before = idle_probe(self.plan.idle_probe_seconds)
        self.notes.append(idle_summary(before))
        self.pg.start()
        assert self.pg.server is not None
        self.postgres_version = _postgres_version(self.pg.server.dsn)
        self.step("PostgreSQL up", 1)
        try:
            async with http_session() as session:
                steps: list[tuple[set[str], Callable[[Any], Any]]] = [
                    ({"single"}, self.single),
                    ({"peers"}, self.peers),
                    ({"cluster", "failover"}, self.cluster),
                    ({"scaling"}, self.scaling),
                    ({"depth"}, self.depth),
                ]
                for names, measure in steps:
                    if names & set(self.only):
                        began = time.monotonic()
                        await measure(session)
                        self.timings[measure.__name__] = round(time.monotonic() - began, 1)
        finally:
            self.pg.stop()
        self.results["machine"] = {
            "before": before,
            "after": idle_probe(self.plan.idle_probe_seconds),
        }
        return self.results

    # -- measurements

    async def _sweep(
        self,
        session: Any,
        urls: list[str],
        colony: Any,
        concurrencies: tuple[int, ...],
        label: str,
        *,
        pids: tuple[int, ...] = (),
        metrics_url: str | None = None,
    ) -> dict[str, Any]:
        """Closed loops at `concurrencies`, then the peak's worker count paced at half its
        cycles/s (each for the plan's duration)."""
        runs = await self._closed_loops(
            session,
            urls,
            colony,
            concurrencies,
            label=label,
            pids=pids,
            duration=self.plan.duration,
        )
        peak = max(runs, key=lambda r: r["cycles_per_s"])
        half = await self._half_of_peak(
            session,
            urls,
            colony,
            peak,
            label,
            pids=pids,
            metrics_url=metrics_url,
            duration=self.plan.duration,
        )
        return {
            "runs": runs,
            "peak_cycles_per_s": peak["cycles_per_s"],
            "peak_concurrency": peak["concurrency"],
            "half_load": half,
        }

    async def _half_of_peak(
        self,
        session: Any,
        urls: list[str],
        colony: Any,
        peak: dict[str, Any],
        label: str,
        *,
        pids: tuple[int, ...],
        metrics_url: str | None,
        duration: float,
    ) -> dict[str, Any]:
        """The worker count of the `peak` run, paced at half its cycles/s."""
        self.step(f"{label}: half of peak load")
        half = await run_cycles(
            session,
            urls,
            colony,
            peak["concurrency"],
            duration=duration,
            warmup=self.plan.warmup,
            rate=peak["cycles_per_s"] / 2,
            server_pids=pids,
            postmaster_pid=self._postmaster(),
            metrics_url=metrics_url,
        )
        self.step(f"{label}: half of peak load", 1)
        return half

    async def _baseline(self, session: Any, tree: Path) -> None:
        """The single-replica points against `tree` and this tree, interleaved point by
        point (baseline, ours, next point ...), two servers up side by side."""
        servers = [
            await self._with_server("baseline", session, tree=tree),
            await self._with_server("ours", session),
        ]
        try:
            colonies = [
                await make_colony(session, s.url, s.server_prvkey, max(self.plan.concurrencies))
                for s in servers
            ]
            found: dict[str, list[dict[str, Any]]] = {"baseline": [], "ours": []}
            for c in self.plan.concurrencies:
                for name, server, colony in zip(found, servers, colonies, strict=True):
                    assert server.process is not None
                    self.step(f"A/B {name}: {c} workers")
                    found[name].append(
                        await run_cycles(
                            session,
                            [server.url],
                            colony,
                            c,
                            duration=self.plan.duration,
                            warmup=self.plan.warmup,
                            server_pids=(server.process.pid,),
                            postmaster_pid=self._postmaster(),
                        )
                    )
                    self.step(f"A/B {name}: {c} workers", 1)
        finally:
            for server in servers:
                server.stop()
        self.results["baseline"] = {"tree": str(tree), **found}

    async def _with_server(
        self, label: str, session: Any, *, tree: Path | None = None, workers: int = 1
    ) -> ServerProcess:
        server = ServerProcess(
            self.pg.new_database(label), self.workdir, tree=tree, workers=workers
        )
        server.start()
        try:
            await server.wait_ready(session)
        except BaseException:
            server.stop()
            raise
        return server

    async def single(self, session: Any) -> None:
        if self.baseline is not None:
            await self._baseline(session, self.baseline)
        server = await self._with_server("single", session, workers=self.server_workers)
        try:
            colony = await make_colony(
                session, server.url, server.server_prvkey, max(self.plan.concurrencies)
            )
            self.results["single"] = await self._sweep(
                session,
                [server.url],
                colony,
                self.plan.concurrencies,
                "1 replica"
                + (f" of {self.server_workers} processes" if self.server_workers > 1 else ""),
                pids=server.pids,
                # One process: its /metrics is the replica's (with workers, each answers
                # for itself, and the port picks one).
                metrics_url=server.url if self.server_workers == 1 else None,
            )
        finally:
            server.stop()

    async def cluster(self, session: Any) -> None:
        """Cycles through 3 replicas, then the failover runs, on one started cluster."""
        self.step("3 replicas: starting")
        cluster = new_cluster(self.pg.new_database("cluster"), self.workdir, size=3)
        cluster.start_all()
        try:
            leader = await cluster.wait_for_agreed_leader(session)
            if "cluster" in self.only:
                await self._cluster_cycles(session, cluster, leader)
            if "failover" in self.only:
                await self._failover(session, cluster)
        finally:
            cluster.stop_all()

    async def _cluster_cycles(self, session: Any, cluster: Any, leader: Any) -> None:
        colony = await make_colony(
            session, leader.url, cluster.server_prvkey, max(self.plan.cluster_concurrencies)
        )
        # Workers round-robin over all replicas: two thirds of the assigns are forwarded.
        urls = [r.url for r in cluster.replicas]
        # CPU per cycle is that of the three replicas together.
        pids = tuple(r.process.pid for r in cluster.replicas if r.process is not None)
        part = await self._sweep(
            session, urls, colony, self.plan.cluster_concurrencies, "3 replicas", pids=pids
        )
        part["leader"] = leader.name
        part["forwarded_share"] = 2 / 3
        self.results["cluster"] = part

    async def scaling(self, session: Any) -> None:
        """One replica against three, interleaved run by run: the ratio of their peaks round
        by round.

        The `single` and `cluster` sweeps run minutes apart (the peers come in between), and
        this machine's speed drifts by more than the ratio asked for, within a minute too.
        So both topologies stay up, each on a database of its own, and take turns at each
        worker count (5 s each; which goes first alternates by round), and the idle one
        costs the other next to nothing (an idle replica uses about 1 % of a core).  After
        each round the single replica runs at half of that round's peak.
        """
        plan, rounds = self.plan, []
        async with (
            self._topology(session, "single") as single,
            self._topology(session, "cluster") as cluster,
        ):
            up = {"single": single, "cluster": cluster}
            for index in range(plan.scaling_rounds):
                order = ("single", "cluster") if index % 2 == 0 else ("cluster", "single")
                found: dict[str, Any] = {"single": [], "cluster": []}
                label = f"scaling round {index + 1}/{plan.scaling_rounds}"
                for c in plan.scaling_concurrencies:
                    for topology in order:
                        urls, pids, colony = up[topology]
                        found[topology] += await self._closed_loops(
                            session,
                            urls,
                            colony,
                            (c,),
                            label=f"{label}, {topology}",
                            pids=pids,
                            duration=plan.scaling_duration,
                        )
                urls, pids, colony = single
                peak = max(found["single"], key=lambda r: r["cycles_per_s"])
                found["single_half_load"] = await self._half_of_peak(
                    session,
                    urls,
                    colony,
                    peak,
                    f"{label}, single",
                    pids=pids,
                    metrics_url=f"{urls[0]}/metrics",
                    duration=plan.scaling_duration,
                )
                peak_three = max(r["cycles_per_s"] for r in found["cluster"])
                ratio = peak_three / peak["cycles_per_s"] if peak["cycles_per_s"] else None
                rounds.append({**found, "first": order[0], "ratio": ratio})
        ratios = [r["ratio"] for r in rounds if r["ratio"] is not None]
        tails = [r["single_half_load"]["assign_ms"]["p99"] for r in rounds]
        self.results["scaling"] = {
            "concurrencies": list(plan.scaling_concurrencies),
            "seconds": plan.scaling_duration,
            "rounds": rounds,
            "median_ratio": statistics.median(ratios) if ratios else None,
            "min_ratio": min(ratios, default=None),
            "max_ratio": max(ratios, default=None),
            "half_load_p99_ms": {
                "median": statistics.median(tails),
                "min": min(tails),
                "max": max(tails),
            },
        }

    async def _closed_loops(
        self,
        session: Any,
        urls: list[str],
        colony: Any,
        concurrencies: tuple[int, ...],
        *,
        label: str,
        pids: tuple[int, ...],
        duration: float,
    ) -> list[dict[str, Any]]:
        """One closed-loop run of `duration` seconds per worker count."""
        runs = []
        for c in concurrencies:
            self.step(f"{label}: {c} workers")
            runs.append(
                await run_cycles(
                    session,
                    urls,
                    colony,
                    c,
                    duration=duration,
                    warmup=self.plan.warmup,
                    server_pids=pids,
                    postmaster_pid=self._postmaster(),
                )
            )
            self.step(f"{label}: {c} workers", 1)
        return runs

    @contextlib.asynccontextmanager
    async def _topology(
        self, session: Any, topology: str
    ) -> AsyncIterator[tuple[list[str], tuple[int, ...], Colony]]:
        """(URLs, server pids, a colony) of a fresh replica ("single") or 3-replica cluster."""
        executors = max(self.plan.scaling_concurrencies)
        if topology == "single":
            server = await self._with_server("scaling1", session, workers=self.server_workers)
            try:
                colony = await make_colony(session, server.url, server.server_prvkey, executors)
                yield [server.url], server.pids, colony
            finally:
                server.stop()
            return
        cluster = new_cluster(self.pg.new_database("scaling3"), self.workdir, size=3)
        cluster.start_all()
        try:
            leader = await cluster.wait_for_agreed_leader(session)
            colony = await make_colony(session, leader.url, cluster.server_prvkey, executors)
            pids = tuple(pid for r in cluster.replicas for pid in cluster.pids(r))
            yield [r.url for r in cluster.replicas], pids, colony
        finally:
            cluster.stop_all()

    async def peers(self, session: Any) -> None:
        from benchmarks.peers import SYSTEMS, peer_jobs  # noqa: PLC0415 - optional deps

        server = await self._with_server("peers", session)
        runs = []
        try:
            for c in self.plan.peer_concurrencies:
                jobs = self.plan.peer_jobs
                colony = await make_colony(session, server.url, server.server_prvkey, c)
                self.step(f"colonies_ha: {jobs} jobs, concurrency {c}")
                seconds = await drain_jobs(session, server.url, colony, jobs, c)
                entry: dict[str, Any] = {
                    "concurrency": c,
                    "jobs": jobs,
                    "colonies_ha": {"seconds": seconds, "jobs_per_s": jobs / seconds},
                }
                self.step(f"colonies_ha: {jobs} jobs, concurrency {c}", 1)
                for system in SYSTEMS:
                    self.step(f"{system}: {jobs} jobs, concurrency {c}")
                    try:
                        secs = await peer_jobs(system, self.pg.new_database(system), jobs, c)
                        entry[system] = {"seconds": secs, "jobs_per_s": jobs / secs}
                    except Exception as exc:  # a peer failing must not lose our results
                        entry[system] = {"error": f"{type(exc).__name__}: {exc}"}
                        self.notes.append(f"{system} failed at concurrency {c}: {exc}")
                    self.step(f"{system}: {jobs} jobs, concurrency {c}", 1)
                runs.append(entry)
        finally:
            server.stop()
        self.results["peers"] = {"runs": runs}

    async def _failover(self, session: Any, cluster: Any) -> None:
        runs = self.plan.failover_runs

        def on_run(index: int, seconds: float) -> None:
            self.step(f"failover: run {index + 1}/{runs} took {seconds:.2f} s", 1)

        self.step("failover: steady load")
        self.results["failover"] = await failover_runs(session, cluster, runs, on_run)

    async def depth(self, session: Any) -> None:
        server = await self._with_server("depth", session)
        try:
            colony = await make_colony(session, server.url, server.server_prvkey, 1)

            def on_level(text: str) -> None:
                self.step(text, 1 if text.endswith("assigning") else 0)

            levels = await queue_depth(
                session,
                server.url,
                server.database_url,
                colony,
                depths=list(self.plan.depths),
                assigns=self.plan.depth_assigns,
                on_level=on_level,
            )
        finally:
            server.stop()
        self.results["depth"] = {"levels": levels, "loader": "SQL copies of a submitted row"}


# --------------------------------------------------------------------------- meta


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _postgres_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    mode.add_argument(
        "--smoke", action="store_true", help="the tiniest configuration (for the smoke test)"
    )
    parser.add_argument(
        "--only",
        default=",".join(MEASUREMENTS),
        help=f"comma-separated subset of {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--baseline",
        metavar="REV_OR_DIR",
        help="also measure one replica of this git revision (or a directory holding a"
        " colonies_ha package), interleaved point by point with this tree's, for ratios",
    )
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        metavar="N",
        help="run the `single` replica with N serving processes (server --workers N); its CPU"
        " per cycle is then that of all N",
    )
    args = parser.parse_args(argv)
    only = tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = set(only) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    args.only = only
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = SMOKE if args.smoke else QUICK if args.quick else FULL
    console = Console(width=max(Console().width, 110))
    started, t0, load_before = datetime.now(UTC), time.monotonic(), _loadavg()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        baseline = None
        if args.baseline and "single" in args.only:
            given = Path(args.baseline)
            baseline = given.resolve() if given.is_dir() else export_tree(args.baseline)
        runner = Runner(plan, args.only, progress, baseline, args.server_workers)
        try:
            results = run_on_uvloop(runner.run())
        finally:
            if baseline is not None and not Path(args.baseline).is_dir():
                shutil.rmtree(baseline, ignore_errors=True)  # the exported revision
    notes = list(runner.notes)
    if "depth" in args.only and plan.depths[-1] >= 1_000_000:
        notes.append(
            "the 1M-deep queue is bulk-loaded by the documented SQL loader (benchmarks/depth.py),"
            " not by a million signed submits"
        )
    notes.append(
        "2 shared cores: the load generator, the replicas and PostgreSQL compete for them, "
        "and other work on the machine adds noise; compare numbers within one run"
    )
    results["meta"] = {
        "mode": plan.mode,
        "only": list(args.only),
        "started": started.isoformat(timespec="seconds"),
        "seconds": time.monotonic() - t0,
        "commit": _git_commit(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_before": load_before,
        "loadavg_after": _loadavg(),
        "postgres_version": runner.postgres_version,
        "postgres_settings": {
            "fsync": "on",
            "full_page_writes": "on",
            **PG_SETTINGS,
        },
        "plan": plan.__dict__,
        "measurement_seconds": runner.timings,
        "notes": notes,
    }
    results["targets"] = report.targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    results["meta"]["plots"] = report.plot(results, args.out)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "results.md").write_text(report.markdown(results))
    report.print_tables(results, console)
    console.print(f"results written to {args.out}/results.json, results.md and plots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
