"""Chaos checker, runnable from a checkout: `python benchmarks/chaos.py --duration 300`.

The same code as `colonies-ha chaos`; see colonies_ha/chaos/ for how a run is judged.
"""

from __future__ import annotations

from colonies_ha.cli.chaos import chaos

if __name__ == "__main__":
    chaos(prog_name="benchmarks/chaos.py")
