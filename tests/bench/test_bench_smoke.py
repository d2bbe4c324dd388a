"""The benchmark runner end to end in its tiniest configuration (numbers are not checked).

Only the colonies_ha measurements run, so the test extra needs none of the `bench` extra's
packages (PgQueuer, procrastinate, matplotlib).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_writes_well_formed_results(tmp_path: Path) -> None:
    command = [
        "-m",
        "benchmarks.run",
        "--smoke",
        "--only",
        "single,scaling,depth",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(
        [sys.executable, *command],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["mode"] == "smoke"
    single = results["single"]
    assert [run["concurrency"] for run in single["runs"]] == [1, 2]
    for run in [*single["runs"], single["half_load"]]:
        assert run["errors"] == 0
        assert run["cycles"] > 0
        assert set(run["assign_ms"]) >= {"p50", "p95", "p99"}
    (round_,) = results["scaling"]["rounds"]  # one replica, then three, in the same minutes
    for topology in ("single", "cluster"):
        assert [run["concurrency"] for run in round_[topology]] == [2]
        assert all(run["errors"] == 0 and run["cycles"] > 0 for run in round_[topology])
    assert results["scaling"]["median_ratio"] == round_["ratio"] > 0
    assert round_["first"] == "single"  # both topologies up, taking turns; later rounds swap
    half = round_["single_half_load"]  # the round's replica, at half of its own peak
    assert half["errors"] == 0 and half["cycles"] > 0
    assert half["target_rate"] == max(r["cycles_per_s"] for r in round_["single"]) / 2
    assert results["scaling"]["half_load_p99_ms"]["median"] == half["assign_ms"]["p99"]
    for when in ("before", "after"):  # benchmarks.idle_cost, with nothing of ours running
        gaps = results["machine"][when]["gaps"]
        assert [gap["gap_ms"] for gap in gaps] == [0.0, 0.2, 1.0, 3.0]
        assert gaps[0]["ratio"] == 1.0 and all(gap["cpu_us_per_unit"] > 0 for gap in gaps)
    levels = results["depth"]["levels"]
    assert [level["depth"] for level in levels] == [100, 200]
    assert all(level["waiting_at_start"] >= level["depth"] for level in levels)
    assert {t["target"] for t in results["targets"]} >= {
        "one replica, full signed cycles/s",
        "assign p99 at half of peak, one replica, alternating rounds (median)",
    }
    markdown = (tmp_path / "results.md").read_text()
    assert "## Full signed cycles" in markdown
    assert "## Assign latency vs queue depth" in markdown
    assert "## One replica and three, alternating rounds" in markdown
    assert "## Targets" in markdown
    assert "## The machine: the same CPU work after going idle" in markdown
    assert "replica CPU per cycle, half of peak ÷ peak" in markdown
