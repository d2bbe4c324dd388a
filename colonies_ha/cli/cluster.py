"""`colonies-ha cluster info`: which replicas there are and which one leads (server key)."""

from __future__ import annotations

import click
from rich.text import Text

from colonies_ha.cli.common import (
    Conn,
    call,
    connection_options,
    details,
    json_option,
    print_json,
    table,
)


@click.group()
def cluster() -> None:
    """The replicas behind this server."""


@cluster.command()
@json_option
@connection_options
def info(conn: Conn, as_json: bool) -> None:
    """Members, the leader, the Raft term and the fencing epoch."""
    found = call(conn, ["server"], lambda c: c.get_cluster())
    if as_json:
        print_json(found)
        return
    leader = found.get("leader") or {}
    details(
        [
            ("leader", leader.get("name") or "none"),
            ("term", found.get("term", "-")),
            ("epoch", found.get("epoch", "-")),
            ("state", found.get("state", "-")),
        ]
    )
    table(
        ["NAME", "API", "RAFT", "ROLE"],
        [
            [
                node.get("name", ""),
                node.get("apiurl") or "-",
                node.get("raftaddress") or "-",
                Text("leader", style="bold green")
                if leader and node.get("name") == leader.get("name")
                else "follower",
            ]
            for node in found.get("nodes") or []
        ],
    )


# Operators coming from etcd or Patroni type `status`; both names run the same command.
cluster.add_command(info, name="status")
