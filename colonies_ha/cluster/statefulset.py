"""Static Raft membership of a StatefulSet pod, derived from its name and the replica count.

A StatefulSet names its pods NAME-0 … NAME-(N-1) and a headless Service gives each a stable
DNS name, so every replica can compute the same peer list from one number, N.  Nothing here
does I/O: the CLI feeds it the pod name and settings and gets back what `--raft-self`,
`--peers` and `--advertise-url` would have said.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

DEFAULT_SERVICE = "colonies-ha-raft"
DEFAULT_NAMESPACE = "default"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_RAFT_PORT = 50090
# The per-pod DNS name a headless Service gives a StatefulSet pod.
DEFAULT_HOST_TEMPLATE = "{pod}.{service}.{namespace}.svc.{domain}"
HOST_FIELDS = frozenset({"pod", "ordinal", "service", "namespace", "domain"})

_POD_NAME = re.compile(r"(?P<set>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-(?P<ordinal>0|[1-9][0-9]*)")


class StatefulSetError(ValueError):
    """The pod name or the settings cannot give a consistent peer list."""


@dataclass(frozen=True, slots=True)
class StatefulSetMembership:
    """What one pod runs with: its own Raft address, the others', and its API endpoint."""

    ordinal: int
    pod_name: str
    raft_self: str
    peers: tuple[str, ...]
    api_port: int
    advertise_url: str


def split_pod_name(pod_name: str) -> tuple[str, int]:
    """("colonies-ha", 2) from "colonies-ha-2" (or its FQDN); the StatefulSet's naming rule."""
    name = pod_name.strip().split(".", 1)[0]
    match = _POD_NAME.fullmatch(name)
    if match is None:
        raise StatefulSetError(
            f"pod name '{pod_name}' has no ordinal: a StatefulSet names its pods NAME-ORDINAL "
            "(e.g. colonies-ha-0); set COLONIES_POD_NAME to the pod's name, or give "
            "--raft-self and --peers instead of --statefulset-replicas"
        )
    return match.group("set"), int(match.group("ordinal"))


def check_host_template(template: str) -> None:
    """Refuse placeholders we do not fill, before they surface as a KeyError at start."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as error:
        raise StatefulSetError(f"bad host template '{template}': {error}") from error
    unknown = fields - HOST_FIELDS
    if unknown or "" in fields:
        raise StatefulSetError(
            f"host template '{template}' uses {sorted(unknown) or ['{}']}; "
            f"it may use {{{'}, {'.join(sorted(HOST_FIELDS))}}}"
        )


def statefulset_membership(
    pod_name: str,
    replicas: int,
    *,
    service: str = DEFAULT_SERVICE,
    namespace: str = DEFAULT_NAMESPACE,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
    raft_port: int = DEFAULT_RAFT_PORT,
    api_port: int = 50080,
    host_template: str = DEFAULT_HOST_TEMPLATE,
    port_stride: int = 0,
) -> StatefulSetMembership:
    """The membership of pod `pod_name` in a StatefulSet of `replicas` pods.

    Every pod computes the same list, so the Raft addresses match byte for byte (PySyncObj
    names nodes by their address string).  `port_stride` shifts pod i's ports by i * stride:
    only for standing several pods on one host (tests); Kubernetes gives each pod its own IP.
    """
    if replicas < 1:
        raise StatefulSetError(f"the replica count must be at least 1, got {replicas}")
    set_name, ordinal = split_pod_name(pod_name)
    if ordinal >= replicas:
        raise StatefulSetError(
            f"pod {set_name}-{ordinal} is outside the {replicas} replicas the peer list is built "
            "from: COLONIES_STATEFULSET_REPLICAS and the StatefulSet's spec.replicas disagree "
            "(change the count with the kustomization's `replicas:`, not `kubectl scale`)"
        )
    check_host_template(host_template)

    def host(index: int) -> str:
        return host_template.format(
            pod=f"{set_name}-{index}",
            ordinal=index,
            service=service,
            namespace=namespace,
            domain=cluster_domain,
        )

    def raft_address(index: int) -> str:
        return f"{host(index)}:{raft_port + index * port_stride}"

    own_api_port = api_port + ordinal * port_stride
    return StatefulSetMembership(
        ordinal=ordinal,
        pod_name=f"{set_name}-{ordinal}",
        raft_self=raft_address(ordinal),
        peers=tuple(raft_address(i) for i in range(replicas) if i != ordinal),
        api_port=own_api_port,
        advertise_url=f"http://{host(ordinal)}:{own_api_port}",
    )
