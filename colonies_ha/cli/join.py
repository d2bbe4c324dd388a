"""`colonies-ha join`: add a new replica to a running cluster, then serve as part of it."""

from __future__ import annotations

import click

from colonies_ha.cli.server import (
    config_from_options,
    replica_options,
    require_valid,
    run_server,
)
from colonies_ha.cluster.membership import JoinError, join_cluster


@click.command()
@replica_options
def join(**options: object) -> None:
    """Join the cluster whose members are --peers, then run as one of its replicas."""
    config = config_from_options(options)
    if not config.raft_self or not config.raft_peers:
        raise click.UsageError("join needs --raft-self and --peers (members of the cluster)")
    require_valid(config)  # before talking to the cluster: a missing secret is said at once
    try:
        config.raft_peers = join_cluster(config.raft_peers, config.raft_self, config.cluster_secret)
    except JoinError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"joined; members: {', '.join([config.raft_self, *config.raft_peers])}", err=True)
    run_server(config)
