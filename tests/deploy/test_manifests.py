"""deploy/k8s renders, passes `kubernetes-validate --strict`, and hangs together in the ways
a schema cannot see: selectors, names, ports, probes and the one replica count."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml
from click.testing import CliRunner

from colonies_ha.api import app as app_module
from colonies_ha.cli.main import cli
from colonies_ha.services.context import Context
from tests.deploy.manifests import (
    BASE,
    KUBERNETES_VERSIONS,
    Doc,
    assert_every_pod_agrees_on_the_members,
    container,
    container_port,
    dockerfile_argument,
    env_value,
    find,
    of_kind,
    pod_environment,
    render,
    render_text,
    secret_data,
    selects,
    statefulset,
    template_labels,
    validate,
)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_document_passes_kubernetes_validate_strict(
    rendered: list[Doc], tmp_path: Path, version: str
) -> None:
    path = tmp_path / "rendered.yaml"
    path.write_text(render_text(BASE))
    result = validate(path, version)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if " passed for resource " in line]
    assert len(passed) == len(rendered), result.stdout


def test_the_validator_is_strict(tmp_path: Path) -> None:
    """A control: an unknown field in a probe must fail, or the test above proves nothing."""
    docs = render(BASE)
    container(statefulset(docs))["readinessProbe"]["httpGet"]["pathh"] = "/ready"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = validate(path, KUBERNETES_VERSIONS[-1])
    assert result.returncode != 0
    assert "pathh" in result.stdout + result.stderr


def test_base_is_namespace_agnostic(rendered: list[Doc]) -> None:
    assert all("namespace" not in d["metadata"] for d in rendered)


def test_an_overlay_sets_namespace_and_count_as_the_readme_says(tmp_path: Path) -> None:
    """The README's overlay: a namespace, a count, and the replacements block repeated."""
    shutil.copytree(BASE, tmp_path / "base")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base_kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "namespace": "colonies-prod",
                "resources": ["../base"],
                "replicas": [{"name": "colonies-ha", "count": 5}],
                "replacements": base_kustomization["replacements"],
            }
        )
    )
    docs = render(overlay)
    assert {d["metadata"].get("namespace") for d in docs} == {"colonies-prod"}
    sts = statefulset(docs)
    assert sts["spec"]["replicas"] == 5
    assert_every_pod_agrees_on_the_members(docs)


def test_workload_selectors_match_their_pod_templates(rendered: list[Doc]) -> None:
    for workload in of_kind(rendered, "StatefulSet"):
        selector = workload["spec"]["selector"]["matchLabels"]
        assert selects(selector, template_labels(workload)), workload["metadata"]["name"]


def test_services_select_the_pods_they_name(rendered: list[Doc]) -> None:
    replicas = template_labels(statefulset(rendered))
    postgres = template_labels(find(rendered, "StatefulSet", "postgres"))
    for name in ("colonies-ha", "colonies-ha-raft"):
        selector = find(rendered, "Service", name)["spec"]["selector"]
        assert selects(selector, replicas) and not selects(selector, postgres), name
    selector = find(rendered, "Service", "postgres")["spec"]["selector"]
    assert selects(selector, postgres) and not selects(selector, replicas)


def test_service_name_is_the_headless_service_that_names_the_peers(rendered: list[Doc]) -> None:
    sts = statefulset(rendered)
    headless = find(rendered, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert env_value(sts, "COLONIES_STATEFULSET_SERVICE") == headless["metadata"]["name"]
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    client = find(rendered, "Service", "colonies-ha")
    assert client["spec"].get("clusterIP") != "None"
    assert [p["port"] for p in client["spec"]["ports"]] == [container_port(sts, "api")]


def test_ports_agree_everywhere(rendered: list[Doc]) -> None:
    sts = statefulset(rendered)
    raft, api = container_port(sts, "raft"), container_port(sts, "api")
    assert int(env_value(sts, "COLONIES_RAFT_PORT")) == raft
    assert int(env_value(sts, "COLONIES_SERVER_PORT")) == api
    headless = find(rendered, "Service", "colonies-ha-raft")
    by_name = {p["name"]: p for p in headless["spec"]["ports"]}
    assert by_name["raft"]["port"] == raft and by_name["raft"]["targetPort"] in ("raft", raft)


def test_network_policy_opens_raft_only_to_the_replicas(rendered: list[Doc]) -> None:
    sts = statefulset(rendered)
    labels = template_labels(sts)
    raft, api = container_port(sts, "raft"), container_port(sts, "api")
    policy = find(rendered, "NetworkPolicy", "colonies-ha")
    assert selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rules = policy["spec"]["ingress"]
    raft_rules = [r for r in rules if any(p["port"] == raft for p in r.get("ports", []))]
    assert len(raft_rules) == 1
    (raft_rule,) = raft_rules
    # The relay port (--workers > 1) is only for the replicas too.
    assert [p["port"] for p in raft_rule["ports"]] == [raft, container_port(sts, "relay")]
    sources = raft_rule["from"]
    assert sources and all(set(s) == {"podSelector"} for s in sources)
    assert all(selects(s["podSelector"]["matchLabels"], labels) for s in sources)
    # No rule opens every port (a rule without `ports`), which would include Raft.
    assert all(r.get("ports") for r in rules)
    api_rules = [r for r in rules if any(p["port"] == api for p in r["ports"])]
    assert any("from" not in r for r in api_rules), "the API must stay open to clients"
    demo_db = find(rendered, "NetworkPolicy", "postgres")
    (db_rule,) = demo_db["spec"]["ingress"]
    assert all(selects(s["podSelector"]["matchLabels"], labels) for s in db_rule["from"])


def test_disruption_budget_selects_the_replicas_only(rendered: list[Doc]) -> None:
    pdb = find(rendered, "PodDisruptionBudget", "colonies-ha")
    assert pdb["spec"]["maxUnavailable"] == 1
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selects(selector, template_labels(statefulset(rendered)))
    assert not selects(selector, template_labels(find(rendered, "StatefulSet", "postgres")))


def test_probes_hit_the_server_routes_meant_for_them(rendered: list[Doc]) -> None:
    """Paths are checked against the aiohttp app itself, not against a list in this test."""
    app = app_module.build_app(cast(Context, SimpleNamespace()), max_body_bytes=1)
    get_routes = {
        r.resource.canonical: r.handler
        for r in app.router.routes()
        if r.method == "GET" and r.resource is not None
    }
    server = container(statefulset(rendered))
    expected = {
        "startupProbe": app_module.handle_health,
        "livenessProbe": app_module.handle_health,  # never "am I the leader"
        "readinessProbe": app_module.handle_ready,
    }
    for probe, handler in expected.items():
        check = server[probe]["httpGet"]
        assert check["path"] in get_routes, f"{probe}: no GET route {check['path']}"
        assert get_routes[check["path"]] is handler, probe
        assert check["port"] in ("api", container_port(statefulset(rendered), "api"))


def test_the_replica_count_is_one_setting(rendered: list[Doc]) -> None:
    """Written once (kustomization.yaml); the env var the peers come from follows it."""
    raw = yaml.safe_load((BASE / "colonies-ha.yaml").read_text())
    assert "replicas" not in raw["spec"]
    (count,) = [
        r["count"]
        for r in yaml.safe_load((BASE / "kustomization.yaml").read_text())["replicas"]
        if r["name"] == "colonies-ha"
    ]
    sts = statefulset(rendered)
    assert sts["spec"]["replicas"] == count
    assert env_value(sts, "COLONIES_STATEFULSET_REPLICAS") == str(count)


@pytest.mark.parametrize("count", [1, 5])
def test_changing_the_count_changes_the_peer_list(tmp_path: Path, count: int) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(BASE, copy)
    kustomization = yaml.safe_load((copy / "kustomization.yaml").read_text())
    for entry in kustomization["replicas"]:
        entry["count"] = count
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    docs = render(copy)
    sts = statefulset(docs)
    assert sts["spec"]["replicas"] == count
    assert env_value(sts, "COLONIES_STATEFULSET_REPLICAS") == str(count)
    assert_every_pod_agrees_on_the_members(docs)


def test_rendered_pods_agree_on_the_members(rendered: list[Doc]) -> None:
    assert_every_pod_agrees_on_the_members(rendered)


def test_secret_references_resolve_to_the_generated_secret(rendered: list[Doc]) -> None:
    secrets = {s["metadata"]["name"]: secret_data(s) for s in of_kind(rendered, "Secret")}
    for workload in of_kind(rendered, "StatefulSet"):
        for c in workload["spec"]["template"]["spec"]["containers"]:
            for entry in c.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref is None:
                    continue
                assert ref["name"] in secrets, entry["name"]
                assert ref.get("optional") or ref["key"] in secrets[ref["name"]], entry["name"]


def test_the_shipped_placeholder_secret_is_refused(rendered: list[Doc]) -> None:
    """Applied as is, a replica says what to replace instead of running with a known secret."""
    secrets = {s["metadata"]["name"]: secret_data(s) for s in of_kind(rendered, "Secret")}
    env = pod_environment(statefulset(rendered), "colonies-ha-0", "ns", secrets)
    assert any("REPLACE-ME" in v for v in env.values())
    result = CliRunner().invoke(cli, ["server"], env=env)
    assert result.exit_code == 2
    assert "placeholder of deploy/k8s/secret.env" in result.output


def test_container_hardening(rendered: list[Doc]) -> None:
    sts = statefulset(rendered)
    pod = sts["spec"]["template"]["spec"]
    server = container(sts)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    assert server["securityContext"]["allowPrivilegeEscalation"] is False
    assert server["resources"]["requests"] and server["resources"]["limits"]
    affinity = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert selects(
        affinity[0]["podAffinityTerm"]["labelSelector"]["matchLabels"], template_labels(sts)
    )
    # Every writable path the server uses is a volume, since the root filesystem is not.
    mounts = {m["mountPath"] for m in server["volumeMounts"]}
    assert env_value(sts, "COLONIES_RAFT_DATA_DIR") in mounts


def test_dockerfile_agrees_with_the_statefulset(rendered: list[Doc]) -> None:
    sts = statefulset(rendered)
    server = container(sts)
    entrypoint: list[str] = json.loads(dockerfile_argument("ENTRYPOINT"))
    assert entrypoint == ["colonies-ha", "server"]
    assert "command" not in server, "the manifest must run the image's ENTRYPOINT"
    exposed = {int(p.split("/")[0]) for p in dockerfile_argument("EXPOSE").split()}
    assert exposed == {p["containerPort"] for p in server["ports"]}
    user: Any = dockerfile_argument("USER").split(":")
    security = sts["spec"]["template"]["spec"]["securityContext"]
    assert [int(user[0]), int(user[1])] == [security["runAsUser"], security["runAsGroup"]]
    prestop = server["lifecycle"]["preStop"]["exec"]["command"]
    assert prestop[0] == entrypoint[0]
    assert prestop[1] in cast(Any, cli).commands
