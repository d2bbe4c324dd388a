"""`colonies-ha server stats` next to `colonies-ha server`, which keeps running a replica."""

from __future__ import annotations

import copy
from typing import Any

import click

from colonies_ha.cli.colony import print_stats
from colonies_ha.cli.common import Conn, call, connection_options, json_option


class ServerGroup(click.Group):
    """`server stats` goes to the subcommand; anything else runs the replica as before."""

    def __init__(self, runner: click.Command) -> None:
        super().__init__(name=runner.name, help=runner.help, short_help=runner.short_help)
        self.runner = copy.copy(runner)
        self.runner.epilog = "To query a running server instead: colonies-ha server stats"

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if args and args[0] in self.commands:
            return super().make_context(info_name, args, parent=parent, **extra)
        return self.runner.make_context(info_name, args, parent=parent, **extra)


@click.command()
@json_option
@connection_options
def stats(conn: Conn, as_json: bool) -> None:
    """Colonies, executors, processes and workflows of the whole server (server key)."""
    result = call(conn, ["server"], lambda c: c.server_stats())
    print_stats(result, as_json, "server statistics")


def server_group(runner: click.Command) -> ServerGroup:
    group = ServerGroup(runner)
    group.add_command(stats)
    return group
