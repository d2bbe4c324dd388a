"""deploy/overlays/cloudnativepg: the base with a CloudNativePG Cluster (three instances,
synchronous replication) in place of the single demo PostgreSQL.

Built-in kinds pass `kubernetes-validate --strict`; the Cluster passes the CRD schema of
CNPG 1.30.0, vendored in tests/deploy/schemas/ (unknown fields rejected, as `kubectl apply`'s
strict field validation does; the CRD's CEL rules are not evaluated, the one that matters here,
`number > 0`, is asserted below).  Then the wiring a schema cannot see, and finally a real
connection: the replicas' database settings, resolved the way the kubelet and the server
resolve them, reach a TLS PostgreSQL that presents a certificate for colonies-db-rw.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
import yaml
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psycopg.conninfo import conninfo_to_dict

from colonies_ha.cli.main import cli
from colonies_ha.cli.server import config_from_options, server
from colonies_ha.cli.statefulset import pop_statefulset_options
from colonies_ha.embedded_pg import EmbeddedPostgres
from tests.deploy.manifests import (
    BASE,
    CLOUDNATIVEPG,
    KUBERNETES_VERSIONS,
    REPO,
    Doc,
    assert_every_pod_agrees_on_the_members,
    container,
    env_entries,
    env_value,
    find,
    of_kind,
    pod_environment,
    render,
    secret_data,
    selects,
    statefulset,
    template_labels,
    validate,
)

CNPG_VERSION = "1.30.0"
SCHEMA = Path(__file__).parent / "schemas" / f"cnpg-{CNPG_VERSION}-cluster.schema.json"
CNPG_GROUP = "postgresql.cnpg.io/"
SERVER_ID = "ab" * 32
DB_PASSWORD = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def overlay() -> list[Doc]:
    return render(CLOUDNATIVEPG)


def database(docs: list[Doc]) -> Doc:
    (cluster,) = [d for d in docs if d["apiVersion"].startswith(CNPG_GROUP)]
    assert cluster["kind"] == "Cluster"
    return cluster


def secrets_of(docs: list[Doc]) -> dict[str, dict[str, str]]:
    return {s["metadata"]["name"]: secret_data(s) for s in of_kind(docs, "Secret")}


def strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation: an object
    with declared properties takes no others (unless it says it preserves unknown fields)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) if k != "properties" else v for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: strict(v) for k, v in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def cluster_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    assert schema["x-vendored"]["version"] == CNPG_VERSION
    return jsonschema.Draft7Validator(strict(schema))


def schema_errors(validator: jsonschema.protocols.Validator, doc: Doc) -> list[str]:
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


# ------------------------------------------------------------------ schemas


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_built_in_kinds_pass_kubernetes_validate_strict(
    overlay: list[Doc], tmp_path: Path, version: str
) -> None:
    built_in = [d for d in overlay if not d["apiVersion"].startswith(CNPG_GROUP)]
    assert len(built_in) == len(overlay) - 1, "only the Cluster is a custom resource"
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(built_in))
    result = validate(path, version)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if " passed for resource " in line]
    assert len(passed) == len(built_in), result.stdout


def test_the_cluster_passes_the_vendored_crd_schema(
    overlay: list[Doc], cluster_validator: jsonschema.protocols.Validator
) -> None:
    cluster = database(overlay)
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert schema_errors(cluster_validator, cluster) == []


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (("spec", "postgresql", "synchronous", "methd"), "any", "methd"),
        (("spec", "postgresql", "synchronous", "method"), "all", "'all' is not one of"),
        (("spec", "instances"), 0, "less than the minimum"),
        (("spec", "bootstrap", "initdb", "secret", "nam"), "x", "nam"),
    ],
)
def test_the_cluster_schema_check_is_strict(
    overlay: list[Doc],
    cluster_validator: jsonschema.protocols.Validator,
    path: tuple[str, ...],
    value: object,
    complaint: str,
) -> None:
    """Controls: a misspelt field, a wrong enum, an out-of-range count must each fail."""
    broken = json.loads(json.dumps(database(overlay)))
    *parents, last = path
    target = broken
    for key in parents:
        target = target[key]
    target[last] = value
    errors = schema_errors(cluster_validator, broken)
    assert any(complaint in e for e in errors), errors


def test_the_vendored_schema_says_where_it_came_from() -> None:
    vendored = json.loads(SCHEMA.read_text())["x-vendored"]
    assert vendored["file"].startswith(f"releases/cnpg-{CNPG_VERSION}.yaml")
    assert "cloudnative-pg/cloudnative-pg" in vendored["project"]
    assert len(vendored["sha256"]) == 64


# ------------------------------------------------------------------ the database


def test_three_instances_with_synchronous_replication(overlay: list[Doc]) -> None:
    spec = database(overlay)["spec"]
    assert spec["instances"] == 3
    sync = spec["postgresql"]["synchronous"]
    assert sync["method"] == "any"
    # At least one standby confirms every commit (the CRD's CEL rule: number > 0), and one
    # standby can be lost without writes stopping.
    assert 0 < sync["number"] <= spec["instances"] - 2
    # Writes wait for a standby rather than go on unreplicated (the default, written down).
    assert sync.get("dataDurability", "required") == "required"
    assert sync["failoverQuorum"] is True
    assert spec["postgresql"].get("parameters", {}).get("synchronous_commit", "on") in (
        "on",
        "remote_apply",
    )
    # The legacy knobs would set synchronous_standby_names a second way.
    assert "minSyncReplicas" not in spec and "maxSyncReplicas" not in spec


def test_no_single_postgres_is_left(overlay: list[Doc]) -> None:
    base = render(BASE)
    assert find(base, "StatefulSet", "postgres")  # what the overlay removes
    assert [d["metadata"]["name"] for d in of_kind(overlay, "StatefulSet")] == ["colonies-ha"]
    names = {(d["kind"], d["metadata"]["name"]) for d in overlay}
    assert not {("Service", "postgres"), ("NetworkPolicy", "postgres")} & names
    assert all(
        d["metadata"].get("labels", {}).get("app.kubernetes.io/name") != "postgres" for d in overlay
    )
    # Everything else of the base is still there.
    base_names = {(d["kind"], d["metadata"]["name"]) for d in base}
    removed = {("StatefulSet", "postgres"), ("Service", "postgres"), ("NetworkPolicy", "postgres")}
    kept = {
        (kind, name.rsplit("-", 1)[0] if kind == "Secret" else name)
        for kind, name in base_names - removed
    }
    overlay_names = {
        (kind, name.rsplit("-", 1)[0] if kind == "Secret" else name) for kind, name in names
    }
    assert kept <= overlay_names


def test_the_base_checks_still_hold(overlay: list[Doc]) -> None:
    assert_every_pod_agrees_on_the_members(overlay)
    assert all("namespace" not in d["metadata"] for d in overlay)


# ------------------------------------------------------------------ wiring


def test_the_owner_secret_is_the_replicas_password(overlay: list[Doc]) -> None:
    """CNPG creates the owner from a basic-auth Secret; the replicas log in with the same user
    and password (db-password of deploy/k8s/secret.env, copied by kustomize)."""
    cluster = database(overlay)
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owner_secret = find(overlay, "Secret", initdb["secret"]["name"])
    assert owner_secret["type"] == "kubernetes.io/basic-auth"
    credentials = secret_data(owner_secret)
    env = pod_environment(statefulset(overlay), "colonies-ha-0", "ns", secrets_of(overlay))
    assert credentials["username"] == initdb["owner"] == env["COLONIES_DB_USER"]
    assert credentials["password"] == env["COLONIES_DB_PASSWORD"]
    assert initdb["database"] == env["COLONIES_DB_NAME"]
    assert "COLONIES_DATABASE_URL" not in env, "a shipped database-url would bypass the Cluster"
    assert cluster["spec"].get("enableSuperuserAccess") is False


def test_the_shipped_placeholder_is_refused_here_too(overlay: list[Doc]) -> None:
    env = pod_environment(statefulset(overlay), "colonies-ha-0", "ns", secrets_of(overlay))
    result = CliRunner().invoke(cli, ["server"], env=env)
    assert result.exit_code == 2
    assert "placeholder of deploy/k8s/secret.env" in result.output


def test_the_database_ca_is_mounted_without_its_key(overlay: list[Doc]) -> None:
    sts = statefulset(overlay)
    cluster_name = database(overlay)["metadata"]["name"]
    assert env_value(sts, "PGSSLMODE") == "verify-full"
    root_cert = Path(env_value(sts, "PGSSLROOTCERT"))
    (mount,) = [
        m for m in container(sts)["volumeMounts"] if Path(m["mountPath"]) == root_cert.parent
    ]
    assert mount.get("readOnly") is True
    (volume,) = [
        v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    ]
    assert volume["secret"]["secretName"] == f"{cluster_name}-ca"
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": root_cert.name}]


def test_network_policy_lets_the_replicas_reach_the_database(overlay: list[Doc]) -> None:
    cluster_name = database(overlay)["metadata"]["name"]
    replicas = template_labels(statefulset(overlay))
    cnpg_pod = {"cnpg.io/cluster": cluster_name, "cnpg.io/instanceRole": "primary"}
    (policy,) = [
        p
        for p in of_kind(overlay, "NetworkPolicy")
        if selects(p["spec"]["podSelector"]["matchLabels"], cnpg_pod)
    ]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rules = policy["spec"]["ingress"]
    assert all(r.get("ports") and r.get("from") for r in rules), "no rule opens all to all"

    def allowed(source: dict[str, str], port: int, namespace: dict[str, str] | None) -> bool:
        for rule in rules:
            if port not in [p["port"] for p in rule["ports"]]:
                continue
            for peer in rule["from"]:
                pods = selects(peer["podSelector"]["matchLabels"], source)
                if "namespaceSelector" not in peer:
                    pods = pods and namespace is None
                else:
                    pods = (
                        pods
                        and namespace is not None
                        and selects(peer["namespaceSelector"]["matchLabels"], namespace)
                    )
                if pods:
                    return True
        return False

    assert allowed(replicas, 5432, None)
    assert not allowed(replicas, 8000, None)
    assert allowed({"cnpg.io/cluster": cluster_name}, 5432, None)  # replication
    operator = {"app.kubernetes.io/name": "cloudnative-pg"}
    assert allowed(operator, 8000, {"kubernetes.io/metadata.name": "cnpg-system"})
    assert not allowed({"app": "other"}, 5432, None)
    # The replicas' own policy is the base's, unchanged.
    assert find(overlay, "NetworkPolicy", "colonies-ha") == find(
        render(BASE), "NetworkPolicy", "colonies-ha"
    )


# ------------------------------------------------------------------ a real connection


@pytest.fixture(scope="module")
def filled_in(tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    """The overlay rendered after a user filled in secret.env as the README says."""
    copy = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(REPO / "deploy", copy)
    (copy / "k8s" / "secret.env").write_text(
        f"server-id={SERVER_ID}\ncluster-secret={'cd' * 32}\ndb-password={DB_PASSWORD}\n"
    )
    return render(copy / "overlays" / "cloudnativepg")


def replica_database_url(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL `colonies-ha server` builds from this pod environment (the click options read
    the same variables the pod has)."""
    for name in list(os.environ):
        if name.startswith(("COLONIES_", "PG")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with server.make_context("server", []) as ctx:
        options = dict(ctx.params)
    pop_statefulset_options(options)
    return config_from_options(options).database_url


def test_replicas_connect_to_the_read_write_service(
    filled_in: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster_name = database(filled_in)["metadata"]["name"]
    env = pod_environment(statefulset(filled_in), "colonies-ha-1", "ns", secrets_of(filled_in))
    target = conninfo_to_dict(replica_database_url(env, monkeypatch))
    assert target["host"] == f"{cluster_name}-rw"
    assert target["port"] == "5432"
    assert target["dbname"] == "colonies"
    assert target["user"] == "colonies"
    assert target["password"] == DB_PASSWORD


# A certificate authority and a server certificate, as CloudNativePG makes them.
def certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    dns_names: list[str],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if dns_names:
        names = x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names])
        builder = builder.add_extension(names, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tls_postgres(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedPostgres, Path]]:
    """A PostgreSQL that, like a CNPG instance, takes the owner only over TLS with a password,
    and presents a certificate for colonies-db-rw signed by the Cluster's CA (its ca.crt is
    returned)."""
    root = tmp_path_factory.mktemp("cnpg")
    # Not under pytest's tmp_path: the postgres user must reach it (as in tests/conftest.py).
    scratch = Path(tempfile.mkdtemp(prefix="colonies-ha-cnpg-", dir="/var/tmp"))
    pg = EmbeddedPostgres(scratch / "pg", fsync=False)
    pg.start()
    try:
        ca_key, server_key = (
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )
        ca = certificate("colonies-db-ca", ca_key, None, [])
        names = ["colonies-db-rw", "colonies-db-rw.ns", "colonies-db-rw.ns.svc"]
        served = certificate("colonies-db-rw", server_key, ("colonies-db-ca", ca_key), names)
        owner = pg.datadir.stat()
        files = {
            "server.crt": pem(served),
            "server.key": server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        }
        for name, content in files.items():
            path = pg.datadir / name
            path.write_bytes(content)
            os.chown(path, owner.st_uid, owner.st_gid)
            path.chmod(0o600)
        hba = pg.datadir / "pg_hba.conf"
        hba.write_text(
            "local all postgres trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "hostssl colonies colonies 127.0.0.1/32 scram-sha-256\n"
        )
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET ssl = on")
            conn.execute(
                psycopg.sql.SQL("CREATE ROLE colonies LOGIN PASSWORD {}").format(
                    psycopg.sql.Literal(DB_PASSWORD)
                )
            )
            conn.execute("CREATE DATABASE colonies OWNER colonies")
        # A restart rather than a reload: when start() returns, TLS and pg_hba.conf are live.
        pg.stop()
        pg.start()
        ca_file = root / "ca.crt"
        ca_file.write_bytes(pem(ca))
        yield pg, ca_file
    finally:
        pg.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def test_the_replicas_settings_log_in_over_verified_tls(
    filled_in: list[Doc],
    tls_postgres: tuple[EmbeddedPostgres, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The pod's environment, as is, against a server like the Cluster's primary.  Only what
    this host cannot provide is changed: the CA file's path (the pod mounts it), the port,
    and PGHOSTADDR, which sends libpq to 127.0.0.1 while it still checks the certificate
    against the host name colonies-db-rw."""
    pg, ca_file = tls_postgres
    sts = statefulset(filled_in)
    env = pod_environment(sts, "colonies-ha-0", "ns", secrets_of(filled_in))
    assert env["PGSSLROOTCERT"].endswith("/ca.crt")
    env |= {"PGSSLROOTCERT": str(ca_file), "COLONIES_DB_PORT": str(pg.port)}
    url = replica_database_url(env, monkeypatch)
    monkeypatch.setenv("PGHOSTADDR", "127.0.0.1")
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), ssl FROM pg_stat_ssl"
            " WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row == ("colonies", "colonies", True)

    # Controls: verify-full really checks.  A CA that did not sign the server's certificate,
    # and a wrong password, are both refused.
    other_key = ec.generate_private_key(ec.SECP256R1())
    stranger = tmp_path / "other-ca.crt"
    stranger.write_bytes(pem(certificate("another-ca", other_key, None, [])))
    monkeypatch.setenv("PGSSLROOTCERT", str(stranger))
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(url, connect_timeout=10).close()
    monkeypatch.setenv("PGSSLROOTCERT", str(ca_file))
    wrong = url.replace(DB_PASSWORD, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10).close()
    assert env_entries(sts)["PGSSLMODE"]["value"] == "verify-full"
