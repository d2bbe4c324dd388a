"""`colonies-ha server --statefulset-replicas`: what a pod's settings turn into, and the one-line
refusals an operator sees in `kubectl logs` when they do not fit."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from colonies_ha.cli.main import cli
from colonies_ha.cli.server import apply_statefulset
from colonies_ha.config import ServerConfig
from colonies_ha.replica import ConfigError, Replica, check_config

SERVER_ID = "ab" * 32
POD = {
    "statefulset_replicas": 3,
    "pod_name": "colonies-ha-1",
    "statefulset_service": "colonies-ha-raft",
    "namespace": "prod",
    "cluster_domain": "cluster.local",
    "raft_port": 50090,
    "statefulset_host": "{pod}.{service}.{namespace}.svc.{domain}",
    "statefulset_port_stride": 0,
}


def test_pod_settings_become_membership_and_advertised_url() -> None:
    config = apply_statefulset(ServerConfig("postgresql://db/x", SERVER_ID), dict(POD))
    suffix = "colonies-ha-raft.prod.svc.cluster.local"
    assert config.raft_self == f"colonies-ha-1.{suffix}:50090"
    assert config.raft_peers == [f"colonies-ha-0.{suffix}:50090", f"colonies-ha-2.{suffix}:50090"]
    assert config.advertise_url == f"http://colonies-ha-1.{suffix}:50080"
    assert config.node_name == "colonies-ha-1"
    assert config.port == 50080


def test_explicit_settings_win_over_derived_ones() -> None:
    config = ServerConfig(
        "postgresql://db/x", SERVER_ID, node_name="edge-a", advertise_url="https://a.example"
    )
    config = apply_statefulset(config, dict(POD))
    assert config.node_name == "edge-a"
    assert config.advertise_url == "https://a.example"


def test_off_leaves_the_config_alone() -> None:
    config = ServerConfig("postgresql://db/x", SERVER_ID, raft_self="h:1", raft_peers=["h:2"])
    assert apply_statefulset(config, dict(POD, statefulset_replicas=0)) is config
    assert config.raft_peers == ["h:2"]


BASE_ENV = {
    "COLONIES_SERVER_ID": SERVER_ID,
    "COLONIES_CLUSTER_SECRET": "s3cret",
    "COLONIES_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    "COLONIES_STATEFULSET_REPLICAS": "3",
}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COLONIES_POD_NAME": "laptop"}, "pod name 'laptop' has no ordinal"),
        ({"COLONIES_POD_NAME": "colonies-ha-3"}, "outside the 3 replicas"),
        ({"COLONIES_POD_NAME": "colonies-ha-0", "COLONIES_RAFT_PEERS": "a:1"}, "one or the other"),
        ({"COLONIES_STATEFULSET_REPLICAS": "set-by-kustomization-replicas"}, "not a valid integer"),
        ({"COLONIES_CLUSTER_SECRET": "REPLACE-ME-x"}, "--cluster-secret"),
        (
            {"COLONIES_DATABASE_URL": "", "COLONIES_DB_PASSWORD": "REPLACE-ME-y"},
            "--db-password",
        ),
    ],
)
def test_refusals_are_one_clear_line(env: dict[str, str], message: str) -> None:
    result = CliRunner().invoke(cli, ["server"], env={**BASE_ENV, **env})
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_placeholder_db_password_is_ignored_next_to_a_database_url() -> None:
    """A managed database needs no demo password; a leftover placeholder must not block it."""
    env = {**BASE_ENV, "COLONIES_DB_PASSWORD": "REPLACE-ME-y", "COLONIES_POD_NAME": "laptop"}
    result = CliRunner().invoke(cli, ["server"], env=env)
    assert "db-password" not in result.output
    assert "has no ordinal" in result.output  # it got past the placeholder check


def test_join_without_a_cluster_secret_is_refused_before_contacting_the_cluster() -> None:
    """The peers named here do not exist: the refusal must come from the settings check,
    not after a minute of failed attempts to reach them."""
    result = CliRunner().invoke(
        cli,
        [
            "join",
            "--raft-self=127.0.0.1:1",
            "--peers=127.0.0.1:2",
            f"--server-id={SERVER_ID}",
            "--database-url=postgresql://nobody@127.0.0.1:1/none",
        ],
        env={"COLONIES_CLUSTER_SECRET": ""},
    )
    assert result.exit_code == 2
    assert "cluster secret is required" in result.output


def test_workers_share_one_pool_and_announce_the_relay_port() -> None:
    """With --workers the replica announces its relay port (bound by the Raft process
    alone) to the other replicas, and its processes split one replica's pool."""
    config = ServerConfig("postgresql://db/x", SERVER_ID, cluster_secret="s", workers=3)
    config = apply_statefulset(config, dict(POD))
    assert (config.process_pool_max, config.process_pool_min) == (7, 2)
    replica = Replica(config)
    assert replica.advertised_url == (
        "http://colonies-ha-1.colonies-ha-raft.prod.svc.cluster.local:51080"
    )
    assert replica.local_relay_url == "http://127.0.0.1:51080"
    alone = ServerConfig("postgresql://db/x", SERVER_ID, advertise_url="http://h:9", relay_port=7)
    assert Replica(alone).advertised_url == "http://h:9"  # one process: the API port itself
    with pytest.raises(ConfigError, match="relay-port"):
        check_config(ServerConfig("postgresql://db/x", SERVER_ID, workers=2, relay_port=50080))
