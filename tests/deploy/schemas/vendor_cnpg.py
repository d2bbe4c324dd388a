"""Re-vendor the CloudNativePG `Cluster` schema from a cloudnative-pg release manifest.

    python -m tests.deploy.schemas.vendor_cnpg cnpg-1.30.0.yaml 1.30.0

The release manifest (releases/cnpg-VERSION.yaml of github.com/cloudnative-pg/cloudnative-pg,
the file `kubectl apply --server-side -f` installs the operator from) carries the CRD; its
openAPIV3Schema for postgresql.cnpg.io/v1 is written out as JSON, without the `description`
texts (documentation only; they would triple the file), so the manifest tests can validate
the overlay's Cluster offline.  Source, version and checksum go into the file's `x-vendored`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CRD_NAME = "clusters.postgresql.cnpg.io"
SCHEMA_KEYWORDS_HOLDING_SCHEMAS = ("items", "additionalProperties", "not")
SCHEMA_KEYWORDS_HOLDING_LISTS = ("anyOf", "allOf", "oneOf")


def schema_file(version: str) -> Path:
    return HERE / f"cnpg-{version}-cluster.schema.json"


def without_descriptions(schema: Any) -> Any:
    """A copy of an OpenAPI schema without `description` keywords.  Property *names* under
    `properties` are kept even when one is called "description" (the Cluster has one)."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "description"}
    if "properties" in out:
        out["properties"] = {k: without_descriptions(v) for k, v in out["properties"].items()}
    for key in SCHEMA_KEYWORDS_HOLDING_SCHEMAS:
        if isinstance(out.get(key), dict):
            out[key] = without_descriptions(out[key])
    for key in SCHEMA_KEYWORDS_HOLDING_LISTS:
        if key in out:
            out[key] = [without_descriptions(s) for s in out[key]]
    return out


def cluster_schema(manifest: bytes) -> dict[str, Any]:
    crds = [
        d
        for d in yaml.safe_load_all(manifest)
        if d and d.get("kind") == "CustomResourceDefinition" and d["metadata"]["name"] == CRD_NAME
    ]
    assert len(crds) == 1, f"{CRD_NAME} not found once in the manifest"
    (v1,) = [v for v in crds[0]["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = without_descriptions(v1["schema"]["openAPIV3Schema"])
    return schema


def main(manifest_path: str, version: str) -> None:
    manifest = Path(manifest_path).read_bytes()
    schema = cluster_schema(manifest)
    schema["x-vendored"] = {
        "project": "https://github.com/cloudnative-pg/cloudnative-pg (Apache-2.0)",
        "file": f"releases/cnpg-{version}.yaml, CRD {CRD_NAME}, version v1",
        "version": version,
        "sha256": hashlib.sha256(manifest).hexdigest(),
        "changes": "description keywords removed",
    }
    schema_file(version).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
