"""Benchmarks of colonies_ha: `python -m benchmarks.run` (see benchmarks/README.md)."""
