"""`colonies-ha cron`: start a workflow every N seconds or on a cron expression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from colonies_ha.cli.common import (
    CliError,
    Conn,
    call,
    connection_options,
    details,
    json_option,
    listing,
    print_json,
    relative,
    workflow_spec_text,
)
from colonies_ha.cli.generator import spec_option

Json = dict[str, Any]


def schedule(cron: Json) -> str:
    interval = cron.get("interval", -1)
    return f"every {interval} s" if interval and interval > 0 else cron.get("cronexpression", "")


def print_cron(cron: Json, as_json: bool) -> None:
    if as_json:
        print_json(cron)
        return
    details(
        [
            ("name", cron["name"]),
            ("id", cron["cronid"]),
            ("schedule", schedule(cron)),
            ("random", cron.get("random", False)),
            ("wait for previous", cron.get("waitforprevprocessgraph", False)),
            ("next run", relative(cron.get("nextrun"))),
            ("last run", relative(cron.get("lastrun"))),
            ("last workflow", cron.get("prevprocessgraphid") or "-"),
            ("workflow", cron.get("workflowspec", "")),
        ]
    )


@click.group()
def cron() -> None:
    """Crons: a workflow on a schedule (executor key)."""


@cron.command()
@click.option("--name", required=True)
@spec_option
@click.option("--interval", type=click.IntRange(1), default=None, help="Every this many seconds.")
@click.option(
    "--cron", "expression", default=None, help='Or a 6-field cron expression: "0/10 * * * * *".'
)
@click.option("--random", is_flag=True, help="Fire at a random moment within each interval.")
@click.option(
    "--wait-for-prev", is_flag=True, help="Skip a run while the previous workflow is unfinished."
)
@json_option
@connection_options
def add(
    conn: Conn,
    name: str,
    spec_path: Path,
    interval: int | None,
    expression: str | None,
    random: bool,
    wait_for_prev: bool,
    as_json: bool,
) -> None:
    """Add a cron running the workflow in --spec by --interval or --cron."""
    if (interval is None) == (expression is None):
        raise CliError("give exactly one of --interval and --cron")
    text = workflow_spec_text(spec_path, conn.colony())
    added = call(
        conn,
        ["executor"],
        lambda c: c.add_cron(
            conn.colony(),
            name,
            text,
            interval=interval if interval is not None else -1,
            cronexpression=expression or "",
            waitforprevprocessgraph=wait_for_prev,
            random=random,
        ),
    )
    if as_json:
        print_json(added)
    else:
        click.echo(f"added cron {name} ({added['cronid']}), {schedule(added)}")


@cron.command()
@click.argument("cronid")
@json_option
@connection_options
def get(conn: Conn, cronid: str, as_json: bool) -> None:
    """One cron with its next and last run."""
    print_cron(call(conn, ["executor"], lambda c: c.get_cron(cronid)), as_json)


@cron.command(name="ls")
@click.option("--count", default=100, type=click.IntRange(1, 100), help="At most this many.")
@json_option
@connection_options
def list_crons(conn: Conn, count: int, as_json: bool) -> None:
    """Crons of the colony."""
    crons = call(conn, ["executor"], lambda c: c.get_crons(conn.colony(), count))
    listing(
        crons,
        as_json,
        ["NAME", "SCHEDULE", "NEXT RUN", "LAST RUN", "CRON ID"],
        lambda c: [
            c["name"],
            schedule(c),
            relative(c.get("nextrun")),
            relative(c.get("lastrun")),
            c["cronid"],
        ],
        "no crons",
    )


@cron.command()
@click.argument("cronid")
@json_option
@connection_options
def run(conn: Conn, cronid: str, as_json: bool) -> None:
    """Start CRONID's workflow now, whatever its schedule."""
    started = call(conn, ["executor"], lambda c: c.run_cron(cronid))
    if as_json:
        print_json(started)
    else:
        click.echo(f"started cron {started.get('name', cronid)} ({cronid})")


@cron.command()
@click.argument("cronid")
@connection_options
def remove(conn: Conn, cronid: str) -> None:
    """Delete CRONID."""
    call(conn, ["executor"], lambda c: c.delete_cron(cronid))
    click.echo(f"removed cron {cronid}")
