"""`colonies-ha executor`: the colony owner admits executors; members can look them up."""

from __future__ import annotations

from typing import Any

import click

from colonies_ha.cli.common import (
    CliError,
    Conn,
    call,
    connection_options,
    details,
    executor_state,
    json_option,
    listing,
    print_json,
    relative,
)
from colonies_ha.client import ColoniesClient
from colonies_ha.protocol.crypto import id_of_private_key


def print_executor(executor: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(executor)
        return
    details(
        [
            ("name", executor["executorname"]),
            ("id", executor["executorid"]),
            ("type", executor["executortype"]),
            ("colony", executor.get("colonyname") or executor["colonyid"]),
            ("state", executor_state(executor["state"])),
            ("commissioned", relative(executor.get("commissiontime"))),
            ("last heard", relative(executor.get("lastheardfromtime"))),
        ]
    )


@click.group()
def executor() -> None:
    """Executors: register, approve, reject, remove (colony key), list and get."""


@executor.command()
@click.option("--executorid", default=None, help="Id of the new executor's key.")
@click.option(
    "--prvkey-of-executor", default=None, help="Or the new executor's private key, to take its id."
)
@click.option(
    "--type", "executortype", envvar="COLONIES_EXECUTOR_TYPE", show_envvar=True, required=True
)
@click.option("--name", required=True, help="Unique within the colony.")
@click.option("--approve", is_flag=True, help="Approve it straight away.")
@json_option
@connection_options
def add(
    conn: Conn,
    executorid: str | None,
    prvkey_of_executor: str | None,
    executortype: str,
    name: str,
    approve: bool,
    as_json: bool,
) -> None:
    """Register an executor in the colony (pending until approved); colony key."""
    if prvkey_of_executor:
        executorid = id_of_private_key(prvkey_of_executor)
    if not executorid:
        raise CliError("say which executor: --executorid or --prvkey-of-executor")
    new_id = executorid

    async def register(client: ColoniesClient) -> dict[str, Any]:
        added = await client.add_executor(new_id, conn.colony(), executortype, name)
        if approve:
            await client.approve_executor(new_id)  # by id: works with a colony id or name
            added = {**added, "state": 1}
        return added

    added = call(conn, ["colony"], register)
    if as_json:
        print_json(added)
    else:
        state = "approved" if added["state"] == 1 else "pending; approve it with executor approve"
        click.echo(f"added executor {name} ({new_id}), {state}")


def _colony_or_none(conn: Conn) -> str:
    """The colony, when one is configured: only an executor given by name needs it."""
    try:
        return conn.colony()
    except CliError:
        return ""


@executor.command()
@click.argument("executor")
@connection_options
def approve(conn: Conn, executor: str) -> None:
    """Let EXECUTOR (id, or name in the colony) take part in the colony; colony key."""
    call(conn, ["colony"], lambda c: c.approve_executor(executor, _colony_or_none(conn)))
    click.echo(f"approved executor {executor}")


@executor.command()
@click.argument("executor")
@connection_options
def reject(conn: Conn, executor: str) -> None:
    """Refuse EXECUTOR (id or name; it keeps its registration, without rights); colony key."""
    call(conn, ["colony"], lambda c: c.reject_executor(executor, _colony_or_none(conn)))
    click.echo(f"rejected executor {executor}")


@executor.command()
@click.argument("executor")
@connection_options
def remove(conn: Conn, executor: str) -> None:
    """Delete EXECUTOR (id or name) from the colony; colony key."""
    call(conn, ["colony"], lambda c: c.delete_executor(executor, _colony_or_none(conn)))
    click.echo(f"removed executor {executor}")


@executor.command(name="ls")
@json_option
@connection_options
def list_executors(conn: Conn, as_json: bool) -> None:
    """The executors of the colony, in any state (executor or colony key)."""
    executors = call(conn, ["executor", "colony"], lambda c: c.get_executors(conn.colony()))
    listing(
        executors,
        as_json,
        ["NAME", "TYPE", "STATE", "LAST HEARD", "EXECUTOR ID"],
        lambda e: [
            e["executorname"],
            e["executortype"],
            executor_state(e["state"]),
            relative(e.get("lastheardfromtime")),
            e["executorid"],
        ],
        "no executors",
    )


@executor.command()
@click.argument("executor")
@json_option
@connection_options
def get(conn: Conn, executor: str, as_json: bool) -> None:
    """One executor, by id or by name in the colony; executor key."""
    found = call(conn, ["executor"], lambda c: c.get_executor(executor, _colony_or_none(conn)))
    print_executor(found, as_json)
