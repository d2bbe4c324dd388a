"""`colonies-ha dev`: PostgreSQL of its own, one replica, a colony and an executor, ready."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from colonies_ha.cli.runtime import run_on_uvloop, run_until_signalled
from colonies_ha.client import ColoniesClient
from colonies_ha.config import DEFAULT_PORT, RELAY_PORT_OFFSET, ServerConfig
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.embedded_pg import EmbeddedPostgres, create_database
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.replica import Replica

DEV_DATABASE = "colonies"
DEV_EXECUTOR_TYPE = "cli"
DEV_COLONY_NAME = "dev"
DEV_EXECUTOR_NAME = "dev-executor"


def default_dev_dir() -> Path:
    # Postgres runs as the `postgres` user when we are root: keep its files where that
    # user can reach them, never under /root.
    if os.geteuid() == 0:
        return Path("/var/lib/colonies-ha/dev")
    return Path.home() / ".local/share/colonies-ha/dev"


def load_or_create_keys(path: Path) -> dict[str, str]:
    """The dev keys persist with the data, so printed exports stay valid across runs."""
    if path.exists():
        return dict(json.loads(path.read_text()))
    keys = {role: generate_private_key() for role in ("server", "colony", "executor")}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle, indent=2)
    return keys


def client_host(listen_host: str) -> str:
    """Where a client on this machine reaches a replica listening on `listen_host`."""
    return "localhost" if listen_host in ("", "0.0.0.0", "::", "127.0.0.1") else listen_host


def export_lines(keys: dict[str, str], host: str, port: int) -> list[str]:
    values = {
        "COLONIES_SERVER_HOST": host,
        "COLONIES_SERVER_PORT": str(port),
        "COLONIES_TLS": "false",
        "COLONIES_SERVER_ID": id_of_private_key(keys["server"]),
        "COLONIES_SERVER_PRVKEY": keys["server"],
        "COLONIES_COLONY_ID": id_of_private_key(keys["colony"]),
        "COLONIES_COLONY_PRVKEY": keys["colony"],
        "COLONIES_EXECUTOR_ID": id_of_private_key(keys["executor"]),
        "COLONIES_EXECUTOR_PRVKEY": keys["executor"],
        "COLONIES_EXECUTOR_TYPE": DEV_EXECUTOR_TYPE,
        # What pycolonies 1.0.12+ `colonies_client()` reads: names, and one signing key.
        "COLONIES_SERVER_TLS": "false",
        "COLONIES_COLONY_NAME": DEV_COLONY_NAME,
        "COLONIES_EXECUTOR_NAME": DEV_EXECUTOR_NAME,
        "COLONIES_PRVKEY": keys["executor"],
    }
    return [f"export {name}={value}" for name, value in values.items()]


async def ensure_colony_and_executor(url: str, keys: dict[str, str]) -> None:
    """Create the dev colony and an approved executor unless an earlier run did."""
    colonyid = id_of_private_key(keys["colony"])
    executorid = id_of_private_key(keys["executor"])
    async with ColoniesClient(url, keys["server"]) as owner:
        if colonyid not in {c["colonyid"] for c in await owner.get_colonies()}:
            await owner.add_colony(colonyid, DEV_COLONY_NAME)
        colony = owner.with_key(keys["colony"])
        try:
            await colony.get_executor(executorid)
        except ColoniesError as error:
            if error.status != 404:
                raise
            await colony.add_executor(executorid, colonyid, DEV_EXECUTOR_TYPE, DEV_EXECUTOR_NAME)
        await colony.approve_executor(executorid)


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    envvar="COLONIES_SERVER_HOST",
    show_envvar=True,
    help="Address the replica listens on.",
)
@click.option(
    "--port", default=DEFAULT_PORT, type=int, envvar="COLONIES_SERVER_PORT", show_envvar=True
)
@click.option("--pg-port", default=50432, type=int, help="Port of the embedded PostgreSQL.")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    envvar="COLONIES_DEV_DIR",
    show_envvar=True,
    help="Keys and database live here between runs.",
)
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    envvar="COLONIES_WORKERS",
    show_envvar=True,
    help="Processes serving the port, as `server --workers` (the relay port is --port + "
    f"{RELAY_PORT_OFFSET}).",
)
def dev(host: str, port: int, pg_port: int, data_dir: Path | None, workers: int) -> None:
    """A complete single-replica setup for development, with its own PostgreSQL."""
    data_dir = data_dir or default_dev_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = load_or_create_keys(data_dir / "keys.json")
    click.echo(f"starting PostgreSQL in {data_dir / 'pg'} on port {pg_port} ...", err=True)
    with EmbeddedPostgres(data_dir / "pg", port=pg_port) as postgres:
        create_database(postgres.dsn, DEV_DATABASE, exist_ok=True)
        config = ServerConfig(
            database_url=postgres.url(DEV_DATABASE),
            server_id=id_of_private_key(keys["server"]),
            host=host,
            port=port,
            node_name="dev",
            dev_mode=True,
            workers=workers,
        )

        async def announce(replica: Replica) -> None:
            await ensure_colony_and_executor(replica.url, keys)
            click.echo("\n".join(export_lines(keys, client_host(host), replica.port)))
            click.echo(f"# colonies-ha dev is serving on {replica.url}; Ctrl-C stops it", err=True)

        run_on_uvloop(run_until_signalled(config, announce))
    click.echo("stopped", err=True)
