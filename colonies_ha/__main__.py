"""`python -m colonies_ha` is the `colonies-ha` command."""

from colonies_ha.cli.main import cli

cli()
