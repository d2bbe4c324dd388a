"""The `colonies-ha` command: parses, sets up logging, delegates."""

from __future__ import annotations

import logging

import click

from colonies_ha import __version__
from colonies_ha.cli.dev import dev
from colonies_ha.cli.join import join
from colonies_ha.cli.server import server


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="colonies-ha")
@click.option(
    "--log-level",
    default="INFO",
    envvar="COLONIES_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def cli(log_level: str) -> None:
    """colonies-ha: a high-availability Colonies server on PostgreSQL."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


cli.add_command(server)
cli.add_command(dev)
cli.add_command(join)
