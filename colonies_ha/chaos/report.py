"""The human side of a chaos run: tables of invariants, operations and failover gaps."""

from __future__ import annotations

import statistics

from rich.console import Console
from rich.table import Table

from colonies_ha.chaos.runner import ChaosResult

OPS = ("submit", "assign", "close", "pack")
MAX_VIOLATIONS_SHOWN = 40


def render(result: ChaosResult, console: Console) -> None:
    config = result.config
    verdict = "[bold green]PASSED" if result.ok else "[bold red]FAILED"
    console.print(
        f"\n[bold]colonies-ha chaos[/]: {config.replicas} replicas"
        f"{f' of {config.workers} processes' if config.workers > 1 else ''}, "
        f"{config.duration:g} s of "
        f"load, a fault every ~{config.fault_interval:g} s, seed {config.seed}, "
        f"{result.elapsed:.0f} s in all: {verdict}"
    )
    console.print(_invariants(result))
    console.print(_operations(result))
    console.print(_faults(result))
    console.print(_kinds(result))
    console.print(_gap_line(result))
    gap, at = result.longest_gap
    console.print(f"longest stretch without a successful assign: {gap:.2f} s (at {at:.1f} s)")
    console.print(
        f"leader changes (fencing epochs taken): {result.leader_changes}, "
        f"for {result.leader_faults} faults of the leader"
    )
    settled = "never" if result.settled_in is None else f"{result.settled_in:.1f} s"
    console.print(f"every process terminal {settled} after the last fault healed")
    if result.history_path:
        console.print(f"history: {result.history_path}")
    if result.workdir is not None:
        console.print(f"replica logs: {result.workdir}")
    for line in result.violations[:MAX_VIOLATIONS_SHOWN]:
        console.print(f"[red]VIOLATION[/] {line}", highlight=False)


def _invariants(result: ChaosResult) -> Table:
    table = Table(title="Invariants", title_justify="left")
    for column in ("invariant", "checked", "result", "note"):
        table.add_column(column, justify="right" if column == "checked" else "left")
    for inv in result.invariants:
        mark = "[green]ok" if inv.ok else f"[red]{len(inv.violations)} violation(s)"
        table.add_row(inv.name, str(inv.checked), mark, inv.note)
    return table


def _operations(result: ChaosResult) -> Table:
    table = Table(title="Operations", title_justify="left")
    for column in ("op", "ok", "errors", "empty (404 after the long poll)"):
        table.add_column(column, justify="left" if column == "op" else "right")
    counts = result.counts
    for op in OPS:
        table.add_row(
            op,
            str(counts.get(f"{op}:ok", 0)),
            str(counts.get(f"{op}:error", 0)),
            str(counts.get(f"{op}:empty", "")),
        )
    return table


def _faults(result: ChaosResult) -> Table:
    table = Table(title="Faults and the gap to the next successful assign", title_justify="left")
    for column in ("#", "at", "fault", "replica", "leader", "gap"):
        table.add_column(column, justify="right" if column in ("#", "at", "gap") else "left")
    for gap in result.gaps:
        took = "never" if gap.gap is None else f"{gap.gap:.2f} s"
        table.add_row(
            str(gap.index),
            f"{gap.at - result.load_started:.1f} s",
            gap.kind,
            gap.replica,
            "yes" if gap.leader else "",
            took,
        )
    return table


def _kinds(result: ChaosResult) -> Table:
    table = Table(title="Per fault kind: time to the next successful assign", title_justify="left")
    for column in ("fault kind", "count", "median", "longest"):
        table.add_column(column, justify="left" if column == "fault kind" else "right")
    for kind, summary in result.by_kind().items():
        table.add_row(
            kind,
            str(summary.count),
            "-" if summary.median is None else f"{summary.median:.2f} s",
            "never" if summary.longest is None else f"{summary.longest:.2f} s",
        )
    return table


def _gap_line(result: ChaosResult) -> str:
    leader = [g.gap for g in result.gaps if g.leader and g.gap is not None]
    line = f"failover gap over {result.faults} faults: {result.gap_summary()}"
    if leader:
        line += (
            f"; leader faults ({len(leader)}): max {max(leader):.2f} s, "
            f"median {statistics.median(leader):.2f} s"
        )
    return line
