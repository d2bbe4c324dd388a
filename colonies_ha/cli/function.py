"""`colonies-ha function`: what executors say they can run, with run-time statistics."""

from __future__ import annotations

import click

from colonies_ha.cli.common import (
    Conn,
    call,
    connection_options,
    json_option,
    listing,
    print_json,
)


@click.group()
def function() -> None:
    """Functions registered by executors (executor key)."""


@function.command()
@click.option("--name", "funcname", required=True, help="Function name, as specs call it.")
@click.option("--desc", default="", help="A description for people.")
@json_option
@connection_options
def add(conn: Conn, funcname: str, desc: str, as_json: bool) -> None:
    """Register a function for the signing executor."""
    added = call(conn, ["executor"], lambda c: c.add_function(conn.colony(), funcname, desc=desc))
    if as_json:
        print_json(added)
    else:
        click.echo(f"added function {funcname} ({added['functionid']})")


@function.command(name="ls")
@click.option("--executorid", default="", help="Only this executor's functions.")
@json_option
@connection_options
def list_functions(conn: Conn, executorid: str, as_json: bool) -> None:
    """Functions of the colony (or of one executor), with call counts and average times."""
    functions = call(
        conn,
        ["executor"],
        lambda c: (
            c.get_functions(executor=executorid)
            if executorid
            else c.get_functions(colony=conn.colony())
        ),
    )
    listing(
        functions,
        as_json,
        ["NAME", "CALLS", "AVG WAIT", "AVG EXEC", "EXECUTOR ID", "FUNCTION ID"],
        lambda f: [
            f["funcname"],
            f.get("counter", 0),
            f"{f.get('avgwaittime', 0):.3f} s",
            f"{f.get('avgexectime', 0):.3f} s",
            f["executorid"],
            f["functionid"],
        ],
        "no functions",
    )


@function.command()
@click.argument("functionid")
@connection_options
def remove(conn: Conn, functionid: str) -> None:
    """Unregister FUNCTIONID."""
    call(conn, ["executor"], lambda c: c.delete_function(functionid))
    click.echo(f"removed function {functionid}")
