"""`colonies-ha chaos`: kill and freeze replicas under load, then check nothing went wrong."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.console import Console

from colonies_ha.chaos.report import render
from colonies_ha.chaos.runner import run_chaos
from colonies_ha.chaos.workload import (
    DATABASE_FAULTS,
    FAULT_KINDS,
    KNOWN_FAULTS,
    WORKER_FAULTS,
    ChaosConfig,
)


@click.command(context_settings={"show_default": True})
@click.option("--replicas", default=3, type=click.IntRange(3, 9), help="Replica processes.")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 8),
    help="Processes per replica (server --workers): faults then also hit a replica's workers.",
)
@click.option("--duration", default=60.0, type=click.FloatRange(5), help="Seconds of load.")
@click.option(
    "--fault-interval",
    default=8.0,
    type=click.FloatRange(4),
    help="Mean seconds between faults (one at a time, each healed before the next).",
)
@click.option(
    "--faults",
    default="all",
    help="Comma-separated fault kinds, in shuffled rounds: " + ", ".join(KNOWN_FAULTS) + ". "
    "'all' leaves out the database ones when --database-url is given, and worker-kill "
    "unless --workers > 1.",
)
@click.option("--seed", default=1, type=int, help="Fixes the fault schedule and the dice.")
@click.option("--executors", default=6, type=click.IntRange(1), help="Concurrent executors.")
@click.option("--submitters", default=2, type=click.IntRange(1), help="Concurrent submitters.")
@click.option("--submit-rate", default=8.0, type=click.FloatRange(0.1), help="Submits per second.")
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("chaos-history.jsonl"),
    help="Where every operation is written, one JSON object a line.",
)
@click.option(
    "--database-url",
    default=None,
    envvar="COLONIES_DATABASE_URL",
    show_envvar=True,
    help="An empty database to use; by default a throwaway PostgreSQL is started in /var/tmp.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the replica logs (and PostgreSQL) here; by default a /var/tmp dir, removed "
    "after a passing run.",
)
@click.option(
    "--settle-timeout",
    default=60.0,
    type=click.FloatRange(5),
    help="After the load: how long the executors may take to finish every process.",
)
@click.option(
    "--max-gap",
    default=30.0,
    type=click.FloatRange(1),
    help="A fault followed by no successful assign for this long is a violation.",
)
def chaos(
    replicas: int,
    workers: int,
    duration: float,
    fault_interval: float,
    seed: int,
    faults: str,
    executors: int,
    submitters: int,
    submit_rate: float,
    history_path: Path,
    database_url: str | None,
    workdir: Path | None,
    settle_timeout: float,
    max_gap: float,
) -> None:
    """Run replicas on loopback under load and faults; exit 1 on any invariant violation."""
    config = ChaosConfig(
        faults=_fault_kinds(faults, own_database=database_url is None, workers=workers),
        replicas=replicas,
        workers=workers,
        duration=duration,
        fault_interval=fault_interval,
        seed=seed,
        executors=executors,
        submitters=submitters,
        submit_rate=submit_rate,
        history_path=history_path,
        database_url=database_url,
        workdir=workdir.absolute() if workdir else None,
        settle_timeout=settle_timeout,
        max_gap=max_gap,
    )
    console = Console(stderr=False)
    result = asyncio.run(run_chaos(config, console))
    render(result, console)
    if not result.ok:
        raise SystemExit(1)


def _fault_kinds(text: str, *, own_database: bool, workers: int) -> tuple[str, ...]:
    if text.strip() == "all":
        kinds = FAULT_KINDS + (WORKER_FAULTS if workers > 1 else ())
        return kinds if own_database else tuple(k for k in kinds if k not in DATABASE_FAULTS)
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = sorted(set(kinds) - set(KNOWN_FAULTS))
    if unknown or not kinds:
        raise click.BadParameter(
            f"unknown {unknown}; choose from {', '.join(KNOWN_FAULTS)}", param_hint="--faults"
        )
    if workers == 1 and set(kinds) & set(WORKER_FAULTS):
        raise click.BadParameter("worker-kill needs --workers > 1", param_hint="--faults")
    if not own_database and set(kinds) & set(DATABASE_FAULTS):
        raise click.BadParameter(
            "database faults need the run's own database; leave out --database-url",
            param_hint="--faults",
        )
    return kinds
