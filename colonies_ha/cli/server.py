"""`colonies-ha server`: one replica against an existing PostgreSQL."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import click

from colonies_ha.cli.runtime import run_until_signalled
from colonies_ha.config import DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, ServerConfig
from colonies_ha.protocol.crypto import is_hex64


def database_url_from_parts(host: str, port: int, user: str, password: str, name: str) -> str:
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return f"postgresql://{auth}@{host}:{port}/{quote(name, safe='')}"


@click.command()
@click.option(
    "--host", default="0.0.0.0", envvar="COLONIES_SERVER_HOST", help="Address to listen on."
)
@click.option("--port", default=DEFAULT_PORT, type=int, envvar="COLONIES_SERVER_PORT")
@click.option(
    "--server-id",
    envvar="COLONIES_SERVER_ID",
    required=True,
    help="Id of the server owner's key (colonies-ha keys id).",
)
@click.option(
    "--database-url",
    envvar="COLONIES_DATABASE_URL",
    default=None,
    help="libpq URL; overrides the COLONIES_DB_* settings.",
)
@click.option("--db-host", envvar="COLONIES_DB_HOST", default="localhost")
@click.option("--db-port", envvar="COLONIES_DB_PORT", default=5432, type=int)
@click.option("--db-user", envvar="COLONIES_DB_USER", default="postgres")
@click.option("--db-password", envvar="COLONIES_DB_PASSWORD", default="")
@click.option("--db-name", envvar="COLONIES_DB_NAME", default="postgres")
@click.option(
    "--max-body-bytes",
    default=DEFAULT_MAX_BODY_BYTES,
    type=int,
    envvar="COLONIES_MAX_BODY_BYTES",
    help="Larger requests get a 413.",
)
@click.option("--node-name", envvar="COLONIES_NODE_NAME", default="colonies-ha")
def server(
    host: str,
    port: int,
    server_id: str,
    database_url: str | None,
    db_host: str,
    db_port: int,
    db_user: str,
    db_password: str,
    db_name: str,
    max_body_bytes: int,
    node_name: str,
) -> None:
    """Run one replica (the schema is migrated at start)."""
    if not is_hex64(server_id):
        raise click.BadParameter("must be 64 lower-case hex characters", param_hint="--server-id")
    url = database_url or database_url_from_parts(db_host, db_port, db_user, db_password, db_name)
    config = ServerConfig(
        database_url=url,
        server_id=server_id,
        host=host,
        port=port,
        max_body_bytes=max_body_bytes,
        node_name=node_name,
    )
    asyncio.run(run_until_signalled(config))
