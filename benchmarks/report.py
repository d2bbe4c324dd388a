"""Turning results into the targets verdict, a console table, results.md and PNG plots."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

Results = dict[str, Any]

# The targets of issue 13 (and of issue 7 where 13 sets none).
TARGET_CYCLES = 1000.0
TARGET_VS_BASELINE = 1.6  # one replica, against the commit before issue 13, same run
TARGET_CLUSTER_SHARE = 0.8
TARGET_ASSIGN_P99_MS = 25.0
TARGET_FAILOVER_MEDIAN_S = 1.0
TARGET_FAILOVER_P99_S = 2.0
FLAT_FACTOR = 2.0  # "flat": p50 at the deepest queue within 2x of the shallowest
TARGET_VS_PGQUEUER = 1.25  # single-item mode, concurrency 8
TARGET_VS_PROCRASTINATE = 1.0  # concurrency 8
PEER_TARGET_CONCURRENCY = 8


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _scaling_targets(scaling: dict[str, Any], add: Callable[..., None]) -> None:
    """The targets the alternating rounds read: the 3-replica share and the tail."""
    if scaling["median_ratio"] is not None:
        share = scaling["median_ratio"]
        add(
            "3-replica cluster / one replica, alternating rounds (median)",
            f"≥ {TARGET_CLUSTER_SHARE:.0%}",
            share,
            share >= TARGET_CLUSTER_SHARE,
            f"{share:.1%} ({scaling['min_ratio']:.0%}-{scaling['max_ratio']:.0%})",
        )
    tails = scaling.get("half_load_p99_ms")
    if tails:
        add(
            "assign p99 at half of peak, one replica, alternating rounds (median)",
            "< 25 ms",
            tails["median"],
            tails["median"] < TARGET_ASSIGN_P99_MS,
            f"{_fmt(tails['median'], 2)} ms ({_fmt(tails['min'], 1)}-{_fmt(tails['max'], 1)})",
        )


def targets(results: Results) -> list[dict[str, Any]]:
    """Each target (issue 13, and issue 7's where 13 sets none) with the measured value."""
    rows: list[dict[str, Any]] = []

    def add(name: str, goal: str, value: float | None, met: bool | None, shown: str) -> None:
        rows.append({"target": name, "goal": goal, "value": value, "met": met, "shown": shown})

    single, cluster = results.get("single"), results.get("cluster")
    if single:
        peak = single["peak_cycles_per_s"]
        add(
            "one replica, full signed cycles/s",
            "≥ 1,000",
            peak,
            peak >= TARGET_CYCLES,
            _fmt(peak, 0),
        )
    baseline = results.get("baseline")
    if baseline and baseline["baseline"]:
        peak_b = max(r["cycles_per_s"] for r in baseline["baseline"])
        peak_o = max(r["cycles_per_s"] for r in baseline["ours"])
        ratio = peak_o / peak_b if peak_b else None
        if ratio is not None:
            add(
                "one replica / baseline, peak against peak (same run)",
                f"≥ {TARGET_VS_BASELINE:g}x",
                ratio,
                ratio >= TARGET_VS_BASELINE,
                f"{ratio:.2f}x",
            )
    scaling = results.get("scaling")
    if scaling:
        _scaling_targets(scaling, add)
    if cluster and single:
        share = cluster["peak_cycles_per_s"] / single["peak_cycles_per_s"]
        add(
            "3-replica cluster / one replica, sweeps minutes apart",
            f"≥ {TARGET_CLUSTER_SHARE:.0%}",
            share,
            share >= TARGET_CLUSTER_SHARE,
            f"{share:.1%}",
        )
    for label, part in (("one replica", single), ("cluster", cluster)):
        if part and part.get("half_load"):
            p99 = part["half_load"]["assign_ms"]["p99"]
            add(
                f"assign p99 at half of peak, {label}",
                "< 25 ms",
                p99,
                p99 < TARGET_ASSIGN_P99_MS,
                f"{_fmt(p99, 2)} ms",
            )
            bound = part["half_load"].get("server_assign_p99_bound_ms")
            if bound is not None:  # the same assigns, timed inside the replica
                add(
                    f"assign p99 at half of peak, {label}, inside the replica (histogram)",
                    "≤ 25 ms",
                    bound,
                    bound <= TARGET_ASSIGN_P99_MS,
                    f"≤ {_fmt(bound, 0)} ms",
                )
    failover = results.get("failover")
    if failover and failover["runs"]:
        med, p99 = failover["median_s"], failover["p99_s"]
        add("failover median", "< 1 s", med, med < TARGET_FAILOVER_MEDIAN_S, f"{med:.2f} s")
        add("failover p99", "< 2 s", p99, p99 < TARGET_FAILOVER_P99_S, f"{p99:.2f} s")
    depth = results.get("depth")
    if depth and len(depth["levels"]) > 1:
        first, last = depth["levels"][0], depth["levels"][-1]
        ratio = last["assign_ms"]["p50"] / first["assign_ms"]["p50"]
        add(
            f"assign p50 flat from {first['depth']:,} to {last['waiting_at_start']:,} waiting",
            f"≤ {FLAT_FACTOR:g}x growth",
            ratio,
            ratio <= FLAT_FACTOR,
            f"{ratio:.2f}x",
        )
    _peer_targets(results, add)
    return rows


def _peer_targets(results: Results, add: Callable[[str, str, float, bool, str], None]) -> None:
    for entry in (results.get("peers") or {}).get("runs", []):
        ours = entry["colonies_ha"]["jobs_per_s"]
        if entry["concurrency"] != PEER_TARGET_CONCURRENCY:
            continue
        for system, goal in (
            ("pgqueuer", TARGET_VS_PGQUEUER),
            ("procrastinate", TARGET_VS_PROCRASTINATE),
        ):
            if system in entry and entry[system].get("jobs_per_s"):
                ratio = ours / entry[system]["jobs_per_s"]
                add(
                    f"colonies_ha / {system} jobs/s, concurrency {entry['concurrency']}",
                    f"≥ {goal:g}x",
                    ratio,
                    ratio >= goal,
                    f"{ratio:.2f}x",
                )


def _baseline_ratios(baseline: Results) -> list[float]:
    """Ours ÷ baseline cycles/s per concurrency (interleaved points of one run)."""
    return [
        o["cycles_per_s"] / b["cycles_per_s"]
        for b, o in zip(baseline["baseline"], baseline["ours"], strict=True)
        if b["cycles_per_s"]
    ]


# --------------------------------------------------------------------------- tables


def _baseline_rows(results: Results) -> list[list[str]]:
    baseline = results.get("baseline")
    if not baseline:
        return []
    rows = []
    for b, o in zip(baseline["baseline"], baseline["ours"], strict=True):
        cpu_b, cpu_o = b.get("server_cpu_us_per_cycle"), o.get("server_cpu_us_per_cycle")
        rows.append(
            [
                str(b["concurrency"]),
                _fmt(b["cycles_per_s"], 0),
                _fmt(o["cycles_per_s"], 0),
                f"{o['cycles_per_s'] / b['cycles_per_s']:.2f}x" if b["cycles_per_s"] else "-",
                _fmt(cpu_b, 0),
                _fmt(cpu_o, 0),
                f"{cpu_o / cpu_b:.2f}x" if cpu_b and cpu_o else "-",
                f"{_fmt(b['assign_ms']['p99'], 1)} / {_fmt(o['assign_ms']['p99'], 1)}",
            ]
        )
    return rows


BASELINE_HEAD = [
    "workers",
    "baseline cycles/s",
    "this tree",
    "ratio",
    "baseline µs/cycle",
    "this tree",
    "ratio",
    "assign p99 ms (baseline / this)",
]


def _scaling_rows(results: Results) -> list[list[str]]:
    scaling = results.get("scaling")
    if not scaling:
        return []
    rows = []
    for index, entry in enumerate(scaling["rounds"], start=1):
        for topology, name in (("single", "1 replica"), ("cluster", "3 replicas")):
            runs = entry[topology]
            half = entry.get(f"{topology}_half_load")
            rows.append(
                [
                    str(index),
                    name,
                    *(_fmt(r["cycles_per_s"], 0) for r in runs),
                    *(_fmt(r["server_cpu_us_per_cycle"], 0) for r in runs),
                    f"{entry['ratio']:.2f}x" if topology == "cluster" and entry["ratio"] else "",
                    f"{_fmt(half['assign_ms']['p99'], 1)} ms at {_fmt(half['cycles_per_s'], 0)}"
                    if half
                    else "",
                ]
            )
    return rows


def _scaling_head(results: Results) -> list[str]:
    counts = (results.get("scaling") or {}).get("concurrencies", [])
    return [
        "round",
        "topology",
        *(f"cycles/s, {c} workers" for c in counts),
        *(f"replica CPU µs/cycle, {c} workers" for c in counts),
        "3 ÷ 1, peaks",
        "assign p99 at half of the peak, cycles/s",
    ]


def _half_peak_cpu_ratio(single: Results | None) -> float | None:
    """How much more CPU a cycle costs the replica at half of its peak than at the peak
    (half the requests, but a sleep before most of them: see benchmarks/idle_cost.py)."""
    if not single or not single.get("half_load"):
        return None
    peak = next((r for r in single["runs"] if r["concurrency"] == single["peak_concurrency"]), None)
    at_peak = peak and peak.get("server_cpu_us_per_cycle")
    at_half = single["half_load"].get("server_cpu_us_per_cycle")
    return at_half / at_peak if at_peak and at_half else None


def _ratio_rows(results: Results) -> list[list[str]]:
    """The ratios issue 13 asks for, from this run alone."""
    rows = []
    scaling = results.get("scaling")
    if scaling and scaling["median_ratio"] is not None:
        rows.append(
            [
                "3 replicas ÷ 1 replica, peaks, alternating rounds (median, range)",
                f"{scaling['median_ratio']:.2f}x ({scaling['min_ratio']:.2f}-"
                f"{scaling['max_ratio']:.2f})",
            ]
        )
    single, cluster = results.get("single"), results.get("cluster")
    if single and cluster:
        by_c = {r["concurrency"]: r["cycles_per_s"] for r in single["runs"]}
        for run in cluster["runs"]:
            one = by_c.get(run["concurrency"])
            if one:
                rows.append(
                    [
                        f"3 replicas ÷ 1 replica, {run['concurrency']} workers",
                        f"{run['cycles_per_s'] / one:.2f}x",
                    ]
                )
        rows.append(
            [
                "3 replicas ÷ 1 replica, peaks",
                f"{cluster['peak_cycles_per_s'] / single['peak_cycles_per_s']:.2f}x",
            ]
        )
    for entry in (results.get("peers") or {}).get("runs", []):
        ours = entry["colonies_ha"]["jobs_per_s"]
        for system in ("pgqueuer", "pgqueuer_batched", "procrastinate"):
            got = entry.get(system) or {}
            if got.get("jobs_per_s"):
                rows.append(
                    [
                        f"colonies_ha ÷ {system}, concurrency {entry['concurrency']}",
                        f"{ours / got['jobs_per_s']:.2f}x",
                    ]
                )
    half = _half_peak_cpu_ratio(single)
    if half is not None:
        rows.append(["1 replica: replica CPU per cycle, half of peak ÷ peak", f"{half:.2f}x"])
    baseline = results.get("baseline")
    if baseline:
        for b, ratio in zip(baseline["baseline"], _baseline_ratios(baseline), strict=False):
            rows.append([f"1 replica ÷ baseline, {b['concurrency']} workers", f"{ratio:.2f}x"])
    return rows


RATIO_HEAD = ["ratio (same run)", "value"]


def _machine_rows(results: Results) -> list[list[str]]:
    """benchmarks.idle_cost before and after the run: the same CPU work after sleeps."""
    machine = results.get("machine") or {}
    if not machine:
        return []
    rows = []
    for before, after in zip(machine["before"]["gaps"], machine["after"]["gaps"], strict=True):
        rows.append(
            [
                "back to back" if not before["gap_ms"] else f"{before['gap_ms']:g} ms",
                _fmt(before["cpu_us_per_unit"], 1),
                f"{before['ratio']:.2f}x",
                _fmt(after["cpu_us_per_unit"], 1),
                f"{after['ratio']:.2f}x",
            ]
        )
    return rows


MACHINE_HEAD = [
    "sleep between units",
    "CPU µs per unit, before the run",
    "÷ back to back",
    "after the run",
    "÷ back to back",
]


def _cycle_rows(results: Results) -> list[list[str]]:
    rows = []
    for topology in ("single", "cluster"):
        part = results.get(topology)
        if not part:
            continue
        runs = list(part["runs"])
        if part.get("half_load"):
            runs.append(part["half_load"])
        for run in runs:
            a = run["assign_ms"]
            load = "half peak" if run.get("target_rate") else "closed loop"
            rows.append(
                [
                    "1 replica" if topology == "single" else "3 replicas",
                    str(run["concurrency"]),
                    load,
                    _fmt(run["cycles_per_s"], 0),
                    _fmt(a["p50"], 2),
                    _fmt(a["p95"], 2),
                    _fmt(a["p99"], 2),
                    _fmt(run.get("server_cpu_us_per_cycle"), 0),
                    _fmt(run.get("postgres_cpu_us_per_cycle"), 0),
                    str(run["errors"]),
                ]
            )
    return rows


CYCLE_HEAD = [
    "topology",
    "workers",
    "load",
    "cycles/s",
    "assign p50 ms",
    "p95",
    "p99",
    "replica CPU µs/cycle",
    "PostgreSQL CPU µs/cycle",
    "errors",
]
DEPTH_HEAD = ["waiting processes", "assigns", "assign p50 ms", "p95", "p99", "load s"]
PEER_HEAD = ["concurrency", "jobs", "system", "jobs/s", "colonies_ha ÷ system"]
TARGET_HEAD = ["target", "goal", "measured", "met"]


def _depth_rows(results: Results) -> list[list[str]]:
    depth = results.get("depth") or {}
    return [
        [
            f"{lvl['waiting_at_start']:,}",
            str(lvl["assigns"]),
            _fmt(lvl["assign_ms"]["p50"], 2),
            _fmt(lvl["assign_ms"]["p95"], 2),
            _fmt(lvl["assign_ms"]["p99"], 2),
            _fmt(lvl["load_seconds"], 1),
        ]
        for lvl in depth.get("levels", [])
    ]


def _peer_rows(results: Results) -> list[list[str]]:
    rows = []
    for entry in (results.get("peers") or {}).get("runs", []):
        ours = entry["colonies_ha"]["jobs_per_s"]
        for system in ("colonies_ha", "pgqueuer", "pgqueuer_batched", "procrastinate"):
            if system not in entry:
                continue
            got = entry[system]
            if "error" in got:
                rows.append([str(entry["concurrency"]), str(entry["jobs"]), system, "failed", ""])
                continue
            ratio = "" if system == "colonies_ha" else f"{ours / got['jobs_per_s']:.2f}x"
            rows.append(
                [
                    str(entry["concurrency"]),
                    str(entry["jobs"]),
                    system,
                    _fmt(got["jobs_per_s"], 0),
                    ratio,
                ]
            )
    return rows


def _failover_rows(results: Results) -> list[list[str]]:
    f = results.get("failover")
    if not f or not f["runs"]:
        return []
    return [
        [
            str(f["runs"]),
            f"{f['median_s']:.3f}",
            f"{f['p90_s']:.3f}",
            f"{f['p99_s']:.3f}",
            f"{f['max_s']:.3f}",
        ]
    ]


FAILOVER_HEAD = ["runs", "median s", "p90 s", "p99 s", "max s"]


def _target_rows(results: Results) -> list[list[str]]:
    return [
        [t["target"], t["goal"], t["shown"], "yes" if t["met"] else "no"]
        for t in results.get("targets", [])
    ]


SECTIONS: tuple[tuple[str, Head, Callable[[Results], list[list[str]]]], ...] = (
    ("Full signed cycles (submit → assign → close)", CYCLE_HEAD, _cycle_rows),
    ("Assign latency vs queue depth", DEPTH_HEAD, _depth_rows),
    ("Failover (kill -9 the leader under load)", FAILOVER_HEAD, _failover_rows),
    ("Same jobs, same PostgreSQL: PgQueuer and procrastinate", PEER_HEAD, _peer_rows),
    ("One replica against the baseline, interleaved", BASELINE_HEAD, _baseline_rows),
    ("One replica and three, alternating rounds", _scaling_head, _scaling_rows),
    ("Ratios", RATIO_HEAD, _ratio_rows),
    ("The machine: the same CPU work after going idle", MACHINE_HEAD, _machine_rows),
    ("Targets", TARGET_HEAD, _target_rows),
)


Head = list[str] | Callable[[Results], list[str]]


def _head(head: Head, results: Results) -> list[str]:
    """A section's columns: fixed, or depending on the run (the scaling concurrencies)."""
    return head(results) if callable(head) else head


def print_tables(results: Results, console: Console) -> None:
    for title, fixed_or_made, make in SECTIONS:
        rows = make(results)
        if not rows:
            continue
        head = _head(fixed_or_made, results)
        table = Table(title=title, title_justify="left")
        for column in head:
            table.add_column(column, justify="left" if column in head[:1] else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for note in results["meta"].get("notes", []):
        console.print(f"[yellow]note:[/] {note}")


def markdown(results: Results) -> str:
    meta = results["meta"]
    lines = [
        "# colonies_ha benchmark results",
        "",
        f"Mode: **{meta['mode']}**, started {meta['started']}, took {meta['seconds']:.0f} s, "
        f"commit `{meta['commit']}`, {meta['cpus']} CPUs, load average before the run "
        f"{meta['loadavg_before']}, after {meta['loadavg_after']}.",
        "",
        f"PostgreSQL {meta['postgres_version']} settings: "
        + ", ".join(f"`{k}={v}`" for k, v in meta["postgres_settings"].items())
        + ".",
        "",
    ]
    for note in meta.get("notes", []):
        lines += [f"> {note}", ""]
    for title, fixed_or_made, make in SECTIONS:
        rows = make(results)
        if not rows:
            continue
        head = _head(fixed_or_made, results)
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "|".join("---" for _ in head) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    plots = meta.get("plots", [])
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _plot_cycles(plt: Any, results: Results) -> Any:
    parts = [(t, results[t]) for t in ("single", "cluster") if results.get(t)]
    if not parts:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for topology, part in parts:
        label = "1 replica" if topology == "single" else "3 replicas (forwarded)"
        xs = [r["concurrency"] for r in part["runs"]]
        ax1.plot(xs, [r["cycles_per_s"] for r in part["runs"]], marker="o", label=label)
        for q, style in (("p50", "-"), ("p99", "--")):
            ys = [r["assign_ms"][q] for r in part["runs"]]
            ax2.plot(xs, ys, style, marker="o", label=f"{label} {q}")
    ax1.axhline(TARGET_CYCLES, color="grey", linestyle=":", label="target 1,000")
    ax1.set(xlabel="concurrent workers", ylabel="cycles/s", title="Full signed cycles")
    ax2.set(xlabel="concurrent workers", ylabel="ms", title="Assign latency")
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def _plot_depth(plt: Any, results: Results) -> Any:
    depth = results.get("depth")
    if not depth or not depth["levels"]:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [lvl["waiting_at_start"] for lvl in depth["levels"]]
    for q in ("p50", "p95", "p99"):
        ax.plot(xs, [lvl["assign_ms"][q] for lvl in depth["levels"]], marker="o", label=q)
    ax.set(xscale="log", xlabel="waiting processes", ylabel="assign ms", title="Queue depth")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def _plot_failover(plt: Any, results: Results) -> Any:
    failover = results.get("failover")
    if not failover or not failover["runs"]:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, failover["runs"] + 1), failover["seconds"], "o", label="run")
    ax.axhline(failover["median_s"], color="C1", label=f"median {failover['median_s']:.2f} s")
    ax.axhline(TARGET_FAILOVER_MEDIAN_S, color="grey", linestyle=":", label="target median")
    ax.set(xlabel="run", ylabel="s to first new assign", title="Failover (kill -9 leader)")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def _plot_peers(plt: Any, results: Results) -> Any:
    peers = (results.get("peers") or {}).get("runs", [])
    if not peers:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    systems = ("colonies_ha", "pgqueuer", "pgqueuer_batched", "procrastinate")
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        values = [e.get(system, {}).get("jobs_per_s", 0.0) for e in peers]
        ax.bar([j + i * width for j in range(len(peers))], values, width, label=system)
    ax.set_xticks([j + width for j in range(len(peers))])
    ax.set_xticklabels([f"concurrency {e['concurrency']}" for e in peers])
    ax.set(ylabel="jobs/s", title="enqueue -> dequeue -> complete")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    return fig


PLOTS = (
    ("cycles.png", _plot_cycles),
    ("queue_depth.png", _plot_depth),
    ("failover.png", _plot_failover),
    ("peers.png", _plot_peers),
)


def plot(results: Results, out: Path) -> list[str]:
    """PNG plots next to results.json; returns their file names ([] without matplotlib)."""
    try:
        import matplotlib  # noqa: PLC0415 - optional (the `bench` extra)

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return []
    written = []
    for name, make in PLOTS:
        fig = make(plt, results)
        if fig is not None:
            fig.tight_layout()
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            written.append(name)
    return written
