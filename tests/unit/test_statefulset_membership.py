"""Peers from pod ordinals: every pod must compute the same list, each seeing itself once."""

from __future__ import annotations

import pytest

from colonies_ha.cluster.statefulset import (
    StatefulSetError,
    split_pod_name,
    statefulset_membership,
)


def test_pod_two_of_three_in_kubernetes() -> None:
    m = statefulset_membership("colonies-ha-2", 3, service="colonies-ha-raft", namespace="prod")
    suffix = "colonies-ha-raft.prod.svc.cluster.local"
    assert m.ordinal == 2
    assert m.pod_name == "colonies-ha-2"
    assert m.raft_self == f"colonies-ha-2.{suffix}:50090"
    assert m.peers == (f"colonies-ha-0.{suffix}:50090", f"colonies-ha-1.{suffix}:50090")
    assert m.api_port == 50080
    assert m.advertise_url == f"http://colonies-ha-2.{suffix}:50080"


@pytest.mark.parametrize("replicas", [1, 3, 5, 7])
def test_every_pod_computes_the_same_cluster(replicas: int) -> None:
    views = [
        statefulset_membership(f"colonies-ha-{i}", replicas, namespace="ns")
        for i in range(replicas)
    ]
    clusters = {frozenset((m.raft_self, *m.peers)) for m in views}
    assert len(clusters) == 1
    (members,) = clusters
    assert len(members) == replicas
    assert sorted(m.raft_self for m in views) == sorted(members)
    assert all(m.raft_self not in m.peers for m in views)


def test_settings_reach_every_address() -> None:
    m = statefulset_membership(
        "db-api-1",
        2,
        service="raft",
        namespace="edge",
        cluster_domain="k8s.example",
        raft_port=7000,
        api_port=8000,
    )
    assert m.raft_self == "db-api-1.raft.edge.svc.k8s.example:7000"
    assert m.peers == ("db-api-0.raft.edge.svc.k8s.example:7000",)
    assert m.advertise_url == "http://db-api-1.raft.edge.svc.k8s.example:8000"


def test_host_template_and_port_stride_stand_pods_on_one_host() -> None:
    m = statefulset_membership(
        "colonies-ha-1",
        3,
        raft_port=41000,
        api_port=42000,
        host_template="127.0.0.1",
        port_stride=10,
    )
    assert m.raft_self == "127.0.0.1:41010"
    assert m.peers == ("127.0.0.1:41000", "127.0.0.1:41020")
    assert m.api_port == 42010
    assert m.advertise_url == "http://127.0.0.1:42010"


def test_ordinal_placeholder_in_host_template() -> None:
    m = statefulset_membership("web-0", 2, host_template="node{ordinal}.{namespace}")
    assert m.raft_self == "node0.default:50090"
    assert m.peers == ("node1.default:50090",)


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("colonies-ha-0", ("colonies-ha", 0)),
        ("colonies-ha-12", ("colonies-ha", 12)),
        ("colonies-ha-3.colonies-ha-raft.ns.svc.cluster.local", ("colonies-ha", 3)),
        ("a-0", ("a", 0)),
    ],
)
def test_split_pod_name(hostname: str, expected: tuple[str, int]) -> None:
    assert split_pod_name(hostname) == expected


@pytest.mark.parametrize("hostname", ["colonies-ha", "colonies-ha-", "laptop", "web-01", "-1", ""])
def test_hostname_without_ordinal_is_a_clear_error(hostname: str) -> None:
    with pytest.raises(StatefulSetError, match=r"has no ordinal.*NAME-ORDINAL"):
        statefulset_membership(hostname, 3)


def test_ordinal_beyond_the_count_names_the_mismatch() -> None:
    with pytest.raises(StatefulSetError, match=r"outside the 3 replicas.*disagree"):
        statefulset_membership("colonies-ha-3", 3)


def test_count_must_be_positive() -> None:
    with pytest.raises(StatefulSetError, match="at least 1"):
        statefulset_membership("colonies-ha-0", 0)


@pytest.mark.parametrize("template", ["{pod}.{zone}", "{}", "{pod"])
def test_unknown_template_fields_are_refused(template: str) -> None:
    with pytest.raises(StatefulSetError, match="template"):
        statefulset_membership("colonies-ha-0", 1, host_template=template)
