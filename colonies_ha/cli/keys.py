"""`colonies-ha keys`: make a private key, or tell the id (colony/executor/server id) of one."""

from __future__ import annotations

import click

from colonies_ha.cli.common import details, fail, print_json
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key


@click.group()
def keys() -> None:
    """Private keys and their ids (the id is what colonies and executors are known by)."""


@keys.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def generate(as_json: bool) -> None:
    """A new random private key and its id."""
    prvkey = generate_private_key()
    result = {"prvkey": prvkey, "id": id_of_private_key(prvkey)}
    if as_json:
        print_json(result)
    else:
        details([("prvkey", result["prvkey"]), ("id", result["id"])])


@keys.command(name="id")
@click.argument("prvkey")
def key_id(prvkey: str) -> None:
    """The id of PRVKEY (a 64-hex-char private key)."""
    try:
        click.echo(id_of_private_key(prvkey.strip()))
    except ValueError as error:
        fail(str(error))
