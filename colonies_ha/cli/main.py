"""The `colonies-ha` command: parses, sets up logging, delegates."""

from __future__ import annotations

import logging

import click

from colonies_ha import __version__
from colonies_ha.cli.chaos import chaos
from colonies_ha.cli.cluster import cluster
from colonies_ha.cli.colony import colony
from colonies_ha.cli.cron import cron
from colonies_ha.cli.dev import dev
from colonies_ha.cli.executor import executor
from colonies_ha.cli.function import function
from colonies_ha.cli.generator import generator
from colonies_ha.cli.handover import handover
from colonies_ha.cli.join import join
from colonies_ha.cli.keys import keys
from colonies_ha.cli.process import process
from colonies_ha.cli.server import serve_worker_command, server
from colonies_ha.cli.server_stats import server_group
from colonies_ha.cli.workflow import workflow


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="colonies-ha")
@click.option(
    "--log-level",
    default="INFO",
    envvar="COLONIES_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def cli(log_level: str) -> None:
    """colonies-ha: a high-availability Colonies server on PostgreSQL."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


cli.add_command(server)
cli.add_command(serve_worker_command)
cli.add_command(dev)
cli.add_command(join)
cli.add_command(handover)
cli.add_command(chaos)
cli.add_command(server_group(server))  # `server` still runs a replica; adds `server stats`
cli.add_command(keys)
cli.add_command(colony)
cli.add_command(executor)
cli.add_command(function)
cli.add_command(process)
cli.add_command(workflow)
cli.add_command(generator)
cli.add_command(cron)
cli.add_command(cluster)
