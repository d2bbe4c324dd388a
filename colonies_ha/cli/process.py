"""`colonies-ha process`: submit, list by state, inspect, and act as an executor to debug."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from colonies_ha.cli.common import (
    Conn,
    call,
    complete_spec,
    connection_options,
    details,
    json_option,
    listing,
    print_json,
    process_state,
    read_json_file,
    relative,
    short,
    table,
)

Json = dict[str, Any]
ATTRIBUTE_TYPES = {0: "in", 1: "out", 2: "err", 3: "env"}
quiet_option = click.option("-q", "--quiet", is_flag=True, help="Print only the process id.")
count_option = click.option(
    "--count", default=20, type=click.IntRange(1, 100), help="At most this many."
)


def print_process(process: Json, as_json: bool, quiet: bool = False) -> None:
    """One process: its id alone, its JSON, or a readable summary with attributes."""
    if quiet:
        click.echo(process["processid"])
        return
    if as_json:
        print_json(process)
        return
    spec = process["spec"]
    conditions = spec.get("conditions", {})
    rows: list[tuple[str, Any]] = [
        ("id", process["processid"]),
        ("function", spec.get("funcname", "")),
        ("node", spec.get("nodename", "")),
        ("args", short(spec.get("args", []), 80)),
        ("state", process_state(process["state"])),
        ("executor type", conditions.get("executortype", "")),
        ("assigned to", process.get("assignedexecutorid") or "-"),
        ("priority", spec.get("priority", 0)),
        ("submitted", relative(process.get("submissiontime"))),
        ("started", relative(process.get("starttime"))),
        ("ended", relative(process.get("endtime"))),
        ("retries", process.get("retries", 0)),
    ]
    if process.get("processgraphid"):
        rows.append(("workflow", process["processgraphid"]))
    for name in ("in", "out", "errors"):
        if process.get(name):
            rows.append((name, short(process[name], 80)))
    details(rows)
    attributes = process.get("attributes") or []
    if attributes:
        table(
            ["TYPE", "KEY", "VALUE"],
            [
                [ATTRIBUTE_TYPES.get(a["attributetype"], a["attributetype"]), a["key"], a["value"]]
                for a in attributes
            ],
            title="attributes",
        )


STATE_COLUMNS = {
    0: (["FUNCTION", "ARGS", "EXECUTOR TYPE", "SUBMITTED", "PROCESS ID"], "submissiontime"),
    1: (["FUNCTION", "ARGS", "EXECUTOR TYPE", "STARTED", "PROCESS ID"], "starttime"),
    2: (["FUNCTION", "ARGS", "EXECUTOR TYPE", "ENDED", "PROCESS ID"], "endtime"),
    3: (["FUNCTION", "ARGS", "EXECUTOR TYPE", "ENDED", "PROCESS ID"], "endtime"),
}


def list_processes(conn: Conn, state: int, count: int, as_json: bool) -> None:
    processes = call(
        conn, ["executor", "colony"], lambda c: c.get_processes(conn.colony(), state, count)
    )
    columns, when = STATE_COLUMNS[state]
    if state == 3:
        columns = [*columns[:-1], "ERRORS", columns[-1]]

    def row(p: Json) -> list[Any]:
        cells = [
            p["spec"].get("funcname", ""),
            short(p["spec"].get("args", [])),
            p["spec"].get("conditions", {}).get("executortype", ""),
            relative(p.get(when)),
        ]
        if state == 3:
            cells.append(short(p.get("errors") or []))
        return [*cells, p["processid"]]

    names = {0: "waiting", 1: "running", 2: "successful", 3: "failed"}
    listing(processes, as_json, columns, row, f"no {names[state]} processes")


@click.group()
def process() -> None:
    """Processes: submit, list (ps/psw/pss/psf), get, assign/close/fail, remove."""


@process.command()
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A FunctionSpec as JSON; conditions.colonyid and .executortype default to the env.",
)
@json_option
@quiet_option
@connection_options
def submit(conn: Conn, spec_path: Path, as_json: bool, quiet: bool) -> None:
    """Submit one function spec as a new waiting process."""
    spec = complete_spec(read_json_file(spec_path), conn.colony())
    submitted = call(conn, ["executor"], lambda c: c.submit(spec))
    if as_json or quiet:
        print_process(submitted, as_json, quiet)
    else:
        click.echo(f"submitted process {submitted['processid']}")


def _listing_command(name: str, state: int, doc: str) -> None:
    @process.command(name=name, help=doc)
    @count_option
    @json_option
    @connection_options
    def command(conn: Conn, count: int, as_json: bool) -> None:
        list_processes(conn, state, count, as_json)


_listing_command("ps", 1, "Running processes (like upstream's `process ps`).")
_listing_command("psw", 0, "Waiting processes.")
_listing_command("pss", 2, "Successful processes.")
_listing_command("psf", 3, "Failed processes.")


@process.command()
@click.argument("processid")
@json_option
@connection_options
def get(conn: Conn, processid: str, as_json: bool) -> None:
    """One process with its state, times, input, output and attributes."""
    print_process(call(conn, ["executor"], lambda c: c.get_process(processid)), as_json)


@process.command()
@click.option("--timeout", default=10, type=click.IntRange(1), help="Seconds to wait for work.")
@json_option
@quiet_option
@connection_options
def assign(conn: Conn, timeout: int, as_json: bool, quiet: bool) -> None:
    """Take the next waiting process as the signing executor (long poll; for debugging)."""
    assigned = call(conn, ["executor"], lambda c: c.assign(conn.colony(), timeout))
    print_process(assigned, as_json, quiet)


def parse_value(text: str) -> Any:
    """`--out 3` is the number 3, `--out '{"a":1}'` an object, anything else a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@process.command()
@click.argument("processid")
@click.option("--out", "outputs", multiple=True, help="An output value (JSON or text); repeat.")
@connection_options
def close(conn: Conn, processid: str, outputs: tuple[str, ...]) -> None:
    """Close PROCESSID as successful; only its assigned executor may."""
    out = [parse_value(text) for text in outputs]
    call(conn, ["executor"], lambda c: c.close(processid, out))
    click.echo(f"closed process {processid} as successful")


@process.command(name="fail")
@click.argument("processid")
@click.option("--error", "errors", multiple=True, help="An error message; repeat.")
@connection_options
def fail_process(conn: Conn, processid: str, errors: tuple[str, ...]) -> None:
    """Close PROCESSID as failed; only its assigned executor may."""
    call(conn, ["executor"], lambda c: c.fail(processid, list(errors)))
    click.echo(f"closed process {processid} as failed")


@process.command()
@click.argument("processid", required=False)
@click.option("--all", "remove_all", is_flag=True, help="Every process of the colony (colony key).")
@connection_options
def remove(conn: Conn, processid: str | None, remove_all: bool) -> None:
    """Delete PROCESSID (executor key), or with --all every process of the colony."""
    if remove_all == bool(processid):
        raise click.UsageError("give either a PROCESSID or --all")
    if remove_all:
        call(conn, ["colony"], lambda c: c.delete_all_processes(conn.colony()))
        click.echo("removed all processes of the colony")
    else:
        call(conn, ["executor"], lambda c: c.delete_process(processid or ""))
        click.echo(f"removed process {processid}")
