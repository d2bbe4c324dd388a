"""`colonies-ha colony`: colonies are the server owner's business; stats are the members'."""

from __future__ import annotations

import click

from colonies_ha.cli.common import (
    Conn,
    call,
    connection_options,
    details,
    json_option,
    listing,
    print_json,
)
from colonies_ha.protocol.objects import STATISTICS_FIELDS


def print_stats(stats: dict[str, int], as_json: bool, title: str) -> None:
    if as_json:
        print_json(stats)
    else:
        details([(name, stats.get(name, 0)) for name in STATISTICS_FIELDS if name in stats], title)


@click.group()
def colony() -> None:
    """Colonies: add, remove and list them (server key), see their statistics."""


@colony.command()
@click.option("--name", required=True, help="A name for people; the id is what counts.")
@json_option
@connection_options
def add(conn: Conn, name: str, as_json: bool) -> None:
    """Register the colony whose id is --colonyid (COLONIES_COLONY_ID); signed by the server key."""
    added = call(conn, ["server"], lambda c: c.add_colony(conn.colony(), name))
    if as_json:
        print_json(added)
    else:
        click.echo(f"added colony {added['name']} ({added['colonyid']})")


@colony.command()
@click.argument("target", metavar="COLONY")
@connection_options
def remove(conn: Conn, target: str) -> None:
    """Delete COLONY (id or name) with everything in it; signed by the server key."""
    call(conn, ["server"], lambda c: c.delete_colony(target))
    click.echo(f"removed colony {target}")


@colony.command(name="ls")
@json_option
@connection_options
def list_colonies(conn: Conn, as_json: bool) -> None:
    """Every colony on the server; signed by the server key."""
    colonies = call(conn, ["server"], lambda c: c.get_colonies())
    listing(
        colonies,
        as_json,
        ["NAME", "COLONY ID"],
        lambda item: [item["name"], item["colonyid"]],
        "no colonies",
    )


@colony.command()
@json_option
@connection_options
def stats(conn: Conn, as_json: bool) -> None:
    """Executors, processes and workflows of the colony by state (executor or colony key)."""
    result = call(conn, ["executor", "colony"], lambda c: c.colony_stats(conn.colony()))
    print_stats(result, as_json, "colony statistics")
