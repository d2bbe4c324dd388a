"""`colonies-ha generator`: start a workflow each time enough packed arguments have queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from colonies_ha.cli.common import (
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
from colonies_ha.client import ColoniesClient
from colonies_ha.domain.ids import is_hex64

Json = dict[str, Any]
spec_option = click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The workflow: a JSON list of function specs, or {colonyid, functionspecs}.",
)


async def resolve(client: ColoniesClient, ref: str) -> Json:
    """A generator by id, or by name when REF is not an id."""
    if is_hex64(ref):
        return await client.get_generator(ref)
    return await client.resolve_generator(ref)


async def pack_into(client: ColoniesClient, ref: str, arg: str) -> str:
    generatorid = (await resolve(client, ref))["generatorid"] if not is_hex64(ref) else ref
    await client.pack_generator(generatorid, arg)
    return generatorid


async def remove_generator(client: ColoniesClient, ref: str) -> str:
    generatorid = (await resolve(client, ref))["generatorid"] if not is_hex64(ref) else ref
    await client.delete_generator(generatorid)
    return generatorid


def print_generator(generator: Json, as_json: bool) -> None:
    if as_json:
        print_json(generator)
        return
    details(
        [
            ("name", generator["name"]),
            ("id", generator["generatorid"]),
            ("trigger", generator.get("trigger")),
            ("queued", generator.get("queuesize", 0)),
            ("last run", relative(generator.get("lastrun"))),
            ("workflow", generator.get("workflowspec", "")),
        ]
    )


@click.group()
def generator() -> None:
    """Generators: a workflow per TRIGGER packed args (executor key)."""


@generator.command()
@click.option("--name", required=True, help="Unique name; `generator get` accepts it too.")
@spec_option
@click.option("--trigger", required=True, type=click.IntRange(1), help="Args per workflow.")
@json_option
@connection_options
def add(conn: Conn, name: str, spec_path: Path, trigger: int, as_json: bool) -> None:
    """Add a generator running the workflow in --spec every --trigger packed args."""
    text = workflow_spec_text(spec_path, conn.colony())
    added = call(conn, ["executor"], lambda c: c.add_generator(conn.colony(), name, text, trigger))
    if as_json:
        print_json(added)
    else:
        click.echo(f"added generator {name} ({added['generatorid']})")


@generator.command()
@click.argument("generator_ref", metavar="ID_OR_NAME")
@json_option
@connection_options
def get(conn: Conn, generator_ref: str, as_json: bool) -> None:
    """One generator, by id or by name."""
    print_generator(call(conn, ["executor"], lambda c: resolve(c, generator_ref)), as_json)


@generator.command(name="ls")
@click.option("--count", default=100, type=click.IntRange(1, 100), help="At most this many.")
@json_option
@connection_options
def list_generators(conn: Conn, count: int, as_json: bool) -> None:
    """Generators of the colony."""
    generators = call(conn, ["executor"], lambda c: c.get_generators(conn.colony(), count))
    listing(
        generators,
        as_json,
        ["NAME", "TRIGGER", "QUEUED", "LAST RUN", "GENERATOR ID"],
        lambda g: [
            g["name"],
            g.get("trigger"),
            g.get("queuesize", 0),
            relative(g.get("lastrun")),
            g["generatorid"],
        ],
        "no generators",
    )


@generator.command()
@click.argument("generator_ref", metavar="ID_OR_NAME")
@click.argument("arg")
@connection_options
def pack(conn: Conn, generator_ref: str, arg: str) -> None:
    """Queue ARG for the generator; it feeds the roots' args of a future workflow."""
    generatorid = call(conn, ["executor"], lambda c: pack_into(c, generator_ref, arg))
    click.echo(f"packed {arg!r} into generator {generatorid}")


@generator.command()
@click.argument("generator_ref", metavar="ID_OR_NAME")
@connection_options
def remove(conn: Conn, generator_ref: str) -> None:
    """Delete the generator."""
    generatorid = call(conn, ["executor"], lambda c: remove_generator(c, generator_ref))
    click.echo(f"removed generator {generatorid}")
