"""colonies_ha: a high-availability server for the Colonies compute-continuum protocol."""

__version__ = "0.1.0"
