"""Options that let a StatefulSet pod derive its Raft peers from its name (`server`,
`handover`): the manifest sets one replica count and every pod computes the same list."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

import click

from colonies_ha.cluster.statefulset import (
    DEFAULT_CLUSTER_DOMAIN,
    DEFAULT_HOST_TEMPLATE,
    DEFAULT_NAMESPACE,
    DEFAULT_RAFT_PORT,
    DEFAULT_SERVICE,
    StatefulSetError,
    StatefulSetMembership,
    statefulset_membership,
)

F = TypeVar("F", bound=Callable[..., object])

STATEFULSET_OPTION_NAMES = (
    "statefulset_replicas",
    "pod_name",
    "statefulset_service",
    "namespace",
    "cluster_domain",
    "raft_port",
    "statefulset_host",
    "statefulset_port_stride",
)


def statefulset_options(command: F) -> F:
    options = [
        click.option(
            "--statefulset-replicas",
            envvar="COLONIES_STATEFULSET_REPLICAS",
            show_envvar=True,
            type=click.IntRange(min=0),
            default=0,
            help="Replica count of the StatefulSet this pod belongs to: derive --raft-self, "
            "--peers and --advertise-url from the pod name (0: off).",
        ),
        click.option(
            "--pod-name",
            envvar="COLONIES_POD_NAME",
            show_envvar=True,
            default=None,
            help="NAME-ORDINAL of this pod (default: the hostname, which Kubernetes sets so).",
        ),
        click.option(
            "--statefulset-service",
            envvar="COLONIES_STATEFULSET_SERVICE",
            show_envvar=True,
            default=DEFAULT_SERVICE,
            help="Headless Service that gives the pods their DNS names.",
        ),
        click.option(
            "--namespace",
            envvar="COLONIES_POD_NAMESPACE",
            show_envvar=True,
            default=DEFAULT_NAMESPACE,
        ),
        click.option(
            "--cluster-domain",
            envvar="COLONIES_CLUSTER_DOMAIN",
            show_envvar=True,
            default=DEFAULT_CLUSTER_DOMAIN,
        ),
        click.option(
            "--raft-port",
            envvar="COLONIES_RAFT_PORT",
            show_envvar=True,
            type=int,
            default=DEFAULT_RAFT_PORT,
        ),
        click.option(
            "--statefulset-host",
            envvar="COLONIES_STATEFULSET_HOST",
            show_envvar=True,
            default=DEFAULT_HOST_TEMPLATE,
            help="Peer host name; may use {pod} {ordinal} {service} {namespace} {domain}.",
        ),
        click.option(
            "--statefulset-port-stride",
            envvar="COLONIES_STATEFULSET_PORT_STRIDE",
            show_envvar=True,
            type=click.IntRange(min=0),
            default=0,
            help="Pod i listens on ports + i x stride; only to stand pods on one host (tests).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def membership_from_options(
    options: dict[str, object], api_port: int
) -> StatefulSetMembership | None:
    """The pod's membership when --statefulset-replicas is set, else None."""
    replicas = int(options["statefulset_replicas"] or 0)  # type: ignore[call-overload]
    if not replicas:
        return None
    pod_name = str(options["pod_name"] or socket.gethostname())
    try:
        return statefulset_membership(
            pod_name,
            replicas,
            service=str(options["statefulset_service"]),
            namespace=str(options["namespace"]),
            cluster_domain=str(options["cluster_domain"]),
            raft_port=int(options["raft_port"]),  # type: ignore[call-overload]
            api_port=api_port,
            host_template=str(options["statefulset_host"]),
            port_stride=int(options["statefulset_port_stride"]),  # type: ignore[call-overload]
        )
    except StatefulSetError as error:
        raise click.UsageError(str(error)) from error


def pop_statefulset_options(options: dict[str, object]) -> dict[str, object]:
    """Take these options out, so the shared replica options stay as they were."""
    return {name: options.pop(name) for name in STATEFULSET_OPTION_NAMES}
