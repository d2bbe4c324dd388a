"""`colonies-ha server`: one replica against an existing PostgreSQL, alone or in a cluster."""

from __future__ import annotations

from urllib.parse import quote

import click

from colonies_ha.cli.runtime import run_on_uvloop, run_until_signalled, run_worker
from colonies_ha.cli.statefulset import (
    membership_from_options,
    pop_statefulset_options,
    statefulset_options,
)
from colonies_ha.cluster.membership import JoinError
from colonies_ha.cluster.scaling import MembershipKeeper, settle_membership
from colonies_ha.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_NODE_NAME,
    DEFAULT_PORT,
    RELAY_PORT_OFFSET,
    ServerConfig,
)
from colonies_ha.domain.ids import is_hex64
from colonies_ha.replica import ConfigError, UnsafeDatabase, check_config

# The shipped deploy/k8s/secret.env holds placeholders containing this mark; a replica refuses
# them rather than run with a secret everyone who read the repository knows.
PLACEHOLDER_MARK = "REPLACE-ME"


def database_url_from_parts(host: str, port: int, user: str, password: str, name: str) -> str:
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return f"postgresql://{auth}@{host}:{port}/{quote(name, safe='')}"


def split_peers(peers: str) -> list[str]:
    return [p.strip() for p in peers.split(",") if p.strip()]


def require_valid(config: ServerConfig) -> None:
    """A configuration problem is one line and exit code 2, before anything is contacted."""
    try:
        check_config(config)
    except ConfigError as error:
        raise click.UsageError(str(error)) from error


def run_server(config: ServerConfig) -> None:
    """Run until SIGTERM/SIGINT."""
    require_valid(config)
    try:
        run_on_uvloop(run_until_signalled(config))
    except UnsafeDatabase as error:
        raise click.ClickException(str(error)) from error


def replica_options(command: click.Command) -> click.Command:
    """The options `server` and `join` share."""
    options = [
        click.option(
            "--host",
            default="0.0.0.0",
            envvar="COLONIES_SERVER_HOST",
            show_envvar=True,
            help="Address to listen on.",
        ),
        click.option(
            "--port",
            default=DEFAULT_PORT,
            type=int,
            envvar="COLONIES_SERVER_PORT",
            show_envvar=True,
        ),
        click.option(
            "--server-id",
            envvar="COLONIES_SERVER_ID",
            show_envvar=True,
            required=True,
            help="Id of the server owner's key (colonies-ha keys id).",
        ),
        click.option(
            "--database-url",
            envvar="COLONIES_DATABASE_URL",
            show_envvar=True,
            default=None,
            help="libpq URL; overrides the COLONIES_DB_* settings.",
        ),
        click.option("--db-host", envvar="COLONIES_DB_HOST", show_envvar=True, default="localhost"),
        click.option(
            "--db-port", envvar="COLONIES_DB_PORT", show_envvar=True, default=5432, type=int
        ),
        click.option("--db-user", envvar="COLONIES_DB_USER", show_envvar=True, default="postgres"),
        click.option("--db-password", envvar="COLONIES_DB_PASSWORD", show_envvar=True, default=""),
        click.option("--db-name", envvar="COLONIES_DB_NAME", show_envvar=True, default="postgres"),
        click.option(
            "--require-sync-replication",
            is_flag=True,
            envvar="COLONIES_REQUIRE_SYNC_REPLICATION",
            show_envvar=True,
            help="Refuse to start unless the database primary waits for a synchronous "
            "standby (otherwise only a loud warning).",
        ),
        click.option(
            "--max-body-bytes",
            default=DEFAULT_MAX_BODY_BYTES,
            type=int,
            envvar="COLONIES_MAX_BODY_BYTES",
            show_envvar=True,
            help="Larger requests get a 413.",
        ),
        click.option(
            "--node-name", envvar="COLONIES_NODE_NAME", show_envvar=True, default=DEFAULT_NODE_NAME
        ),
        click.option(
            "--raft-self",
            envvar="COLONIES_RAFT_SELF",
            show_envvar=True,
            default="",
            help="host:port of this replica's Raft endpoint; empty runs it alone.",
        ),
        click.option(
            "--peers",
            envvar="COLONIES_RAFT_PEERS",
            show_envvar=True,
            default="",
            help="Comma-separated host:port Raft endpoints of the other replicas.",
        ),
        click.option(
            "--cluster-secret",
            envvar="COLONIES_CLUSTER_SECRET",
            show_envvar=True,
            default="",
            help="Shared secret encrypting Raft traffic; required with --raft-self.",
        ),
        click.option(
            "--raft-data-dir",
            envvar="COLONIES_RAFT_DATA_DIR",
            show_envvar=True,
            default="",
            help="Keep the Raft journal here (needed with dynamic membership).",
        ),
        click.option(
            "--advertise-url",
            envvar="COLONIES_ADVERTISE_URL",
            show_envvar=True,
            default="",
            help="API URL other replicas forward to (default: Raft host + port).",
        ),
        click.option(
            "--workers",
            envvar="COLONIES_WORKERS",
            show_envvar=True,
            default=1,
            type=click.IntRange(1, 64),
            help="Processes serving the API port (SO_REUSEPORT); one of them alone runs Raft, "
            "takes the fencing epoch and runs the scans, the others claim under its epoch.",
        ),
        click.option(
            "--relay-port",
            envvar="COLONIES_RELAY_PORT",
            show_envvar=True,
            default=None,
            type=click.IntRange(0, 65535),
            help="With --workers > 1: the port only the Raft process binds, where assigns are "
            f"relayed to [default: --port + {RELAY_PORT_OFFSET}].",
        ),
        click.option(
            "--worker-silence-limit",
            envvar="COLONIES_WORKER_SILENCE_LIMIT",
            show_envvar=True,
            default=10.0,
            show_default=True,
            type=click.FloatRange(0.5, 3600),
            help="With --workers > 1: seconds a worker may leave the primary's ping "
            "unanswered (its event loop blocked) before it is killed and restarted.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def refuse_placeholders(options: dict[str, object]) -> None:
    # The demo database's password matters only while no database URL replaces it.
    secrets = ["server_id", "cluster_secret", "database_url"]
    secrets += [] if options["database_url"] else ["db_password"]
    for name in secrets:
        if PLACEHOLDER_MARK in str(options[name] or ""):
            raise click.BadParameter(
                "still the placeholder of deploy/k8s/secret.env; set your own value",
                param_hint="--" + name.replace("_", "-"),
            )


def config_from_options(options: dict[str, object]) -> ServerConfig:
    refuse_placeholders(options)
    server_id = str(options["server_id"])
    if not is_hex64(server_id):
        raise click.BadParameter("must be 64 lower-case hex characters", param_hint="--server-id")
    url = options["database_url"] or database_url_from_parts(
        str(options["db_host"]),
        int(options["db_port"]),  # type: ignore[call-overload]
        str(options["db_user"]),
        str(options["db_password"]),
        str(options["db_name"]),
    )
    return ServerConfig(
        database_url=str(url),
        server_id=server_id,
        host=str(options["host"]),
        port=int(options["port"]),  # type: ignore[call-overload]
        max_body_bytes=int(options["max_body_bytes"]),  # type: ignore[call-overload]
        node_name=str(options["node_name"]),
        raft_self=str(options["raft_self"]),
        raft_peers=split_peers(str(options["peers"])),
        cluster_secret=str(options["cluster_secret"]),
        raft_data_dir=str(options["raft_data_dir"]),
        advertise_url=str(options["advertise_url"]),
        require_sync_replication=bool(options["require_sync_replication"]),
        workers=int(options["workers"]),  # type: ignore[call-overload]
        relay_port=None if options["relay_port"] is None else int(options["relay_port"]),  # type: ignore[call-overload]
        worker_silence_limit=float(options["worker_silence_limit"]),  # type: ignore[arg-type]
    )


def apply_statefulset(
    config: ServerConfig, options: dict[str, object], *, settle: bool = False
) -> ServerConfig:
    """Fill in Raft membership and the advertised URL from the pod name and replica count.

    With `settle`, also meet the running cluster: start with its members (joining it first
    if this pod is new), and keep its members to this pod's list while the server runs.
    """
    membership = membership_from_options(options, config.port)
    if membership is None:
        return config
    if config.raft_self or config.raft_peers:
        raise click.UsageError(
            "--statefulset-replicas derives --raft-self and --peers from the pod name; "
            "give one or the other"
        )
    config.raft_self = membership.raft_self
    config.raft_peers = list(membership.peers)
    config.port = membership.api_port
    config.advertise_url = config.advertise_url or membership.advertise_url
    if config.node_name == DEFAULT_NODE_NAME:
        config.node_name = membership.pod_name
    if settle:
        settle_statefulset(config)
    return config


def settle_statefulset(config: ServerConfig) -> None:
    """Start from the running cluster's members, not the derived list (see cluster.scaling)."""
    require_valid(config)  # before talking to the cluster: a missing secret is said at once
    expected = list(config.raft_peers)
    try:
        config.raft_peers = settle_membership(config.raft_self, expected, config.cluster_secret)
    except JoinError as error:
        raise click.ClickException(str(error)) from error
    MembershipKeeper(config.raft_self, expected, config.cluster_secret).start()


@click.command()
@replica_options
@statefulset_options
def server(**options: object) -> None:
    """Run one replica (the schema is migrated at start)."""
    pod_options = pop_statefulset_options(options)
    run_server(apply_statefulset(config_from_options(options), pod_options, settle=True))


@click.command("serve-worker", hidden=True)
def serve_worker_command() -> None:
    """One serving worker of `server --workers N`; the primary starts it (settings on stdin)."""
    run_worker()
