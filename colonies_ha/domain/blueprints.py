"""Blueprints and their definitions: wire shapes, validation and schema checks, no I/O.

A blueprint definition names a kind, the schema its blueprints' spec must satisfy and the
handler (executor type + function) that reconciles them; a blueprint is one desired thing
of that kind.  Shapes and rules follow the newest upstream server (pkg/core/blueprint.go).
"""

from __future__ import annotations

import json
from typing import Any

from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.timeutil import ZERO_TIME
from colonies_ha.domain.validation import (
    Json,
    get_int,
    get_str,
    optional_object,
    require_object,
)

RECONCILE_CRON_INTERVAL = 60  # seconds between periodic reconciliations of a kind
_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _str_map(obj: Json, key: str) -> dict[str, str]:
    value = optional_object(obj, key)
    if not all(isinstance(v, str) for v in value.values()):
        raise BadRequest(f"metadata.{key} must map strings to strings")
    return value


def parse_metadata(raw: Json, *, now: str) -> Json:
    """The metadata every blueprint and definition carries; name and colonyname required."""
    meta = require_object(raw, "metadata")
    name = get_str(meta, "name")
    if not name:
        raise BadRequest("metadata.name is required")
    colonyname = get_str(meta, "colonyname")
    if not colonyname:
        raise BadRequest("metadata.colonyname is required")
    parsed: Json = {"name": name, "colonyname": colonyname}
    location = get_str(meta, "locationname")
    if location:
        parsed["locationname"] = location
    for key in ("labels", "annotations"):
        values = _str_map(meta, key)
        if values:
            parsed[key] = values
    parsed["generation"] = max(get_int(meta, "generation", default=1), 1)
    parsed["createdAt"] = now
    parsed["updatedAt"] = now
    parsed["lastReconciliationTime"] = ZERO_TIME
    return parsed


def parse_definition(raw: Json, *, now: str) -> Json:
    """A BlueprintDefinition as stored and returned; the id is set by the service."""
    metadata = parse_metadata(raw, now=now)
    spec = require_object(raw, "spec")
    names = require_object(spec, "names")
    kind = get_str(names, "kind")
    if not kind:
        raise BadRequest("spec.names.kind is required: it is the kind the definition governs")
    handler = optional_object(spec, "handler")
    schema = spec.get("schema")
    if schema is not None:
        _check_schema(schema, "spec.schema")
    shortnames = names.get("shortNames")
    if shortnames is not None and not (
        isinstance(shortnames, list) and all(isinstance(n, str) for n in shortnames)
    ):
        raise BadRequest("spec.names.shortNames must be an array of strings")
    parsed_names: Json = {
        "kind": kind,
        "listKind": get_str(names, "listKind"),
        "singular": get_str(names, "singular"),
        "plural": get_str(names, "plural"),
    }
    if shortnames:
        parsed_names["shortNames"] = shortnames
    parsed_handler: Json = {
        "executorType": get_str(handler, "executorType"),
        "functionName": get_str(handler, "functionName"),
    }
    interval = get_int(handler, "reconcileInterval", low=0)
    if interval:
        parsed_handler["reconcileInterval"] = interval
    parsed_spec: Json = {
        "group": get_str(spec, "group"),
        "version": get_str(spec, "version"),
        "names": parsed_names,
        "scope": get_str(spec, "scope"),
        "handler": parsed_handler,
    }
    if schema is not None:
        parsed_spec["schema"] = schema
    return {
        "blueprintdefinitionid": "",
        "kind": get_str(raw, "kind"),
        "metadata": metadata,
        "spec": parsed_spec,
    }


def _check_schema(schema: Any, where: str) -> None:
    """The schema is data the server interprets later: its shape must be right now."""
    if not isinstance(schema, dict):
        raise BadRequest(f"{where} must be a JSON object")
    for key in ("type", "description"):
        if key in schema and not isinstance(schema[key], str):
            raise BadRequest(f"{where}.{key} must be a string")
    required = schema.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(r, str) for r in required)
    ):
        raise BadRequest(f"{where}.required must be an array of strings")
    if "enum" in schema and not isinstance(schema["enum"], list):
        raise BadRequest(f"{where}.enum must be an array")
    properties = schema.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise BadRequest(f"{where}.properties must be a JSON object")
        for name, prop in properties.items():
            _check_schema(prop, f"{where}.properties.{name}")
    if schema.get("items") is not None:
        _check_schema(schema["items"], f"{where}.items")


def parse_blueprint(raw: Json, *, now: str) -> Json:
    """A Blueprint as stored and returned; the id is set by the service."""
    kind = get_str(raw, "kind")
    if not kind:
        raise BadRequest("blueprint kind is required")
    metadata = parse_metadata(raw, now=now)
    spec = optional_object(raw, "spec")
    blueprint: Json = {"blueprintid": "", "kind": kind, "metadata": metadata, "spec": spec}
    status = optional_object(raw, "status")
    if status:
        blueprint["status"] = status
    return blueprint


def handler_of(definition: Json | None) -> tuple[str, str]:
    """(executor type, function name) that reconcile the definition's kind; '' if unset."""
    if definition is None:
        return "", ""
    handler = definition["spec"].get("handler") or {}
    return handler.get("executorType", ""), handler.get("functionName", "")


# -- schema validation of a blueprint's spec (upstream's ValidateBlueprintAgainstSchema) --


def validate_against_schema(spec: Json, schema: Json | None) -> None:
    """Required fields present; fields named in the schema of the right type and value."""
    if not schema:
        return
    for field in schema.get("required") or []:
        if field not in spec:
            raise BadRequest(f"blueprint validation failed: required field '{field}' is missing")
    properties = schema.get("properties") or {}
    for field, value in spec.items():
        if field in properties:
            _validate_field(field, value, properties[field])


def _validate_field(path: str, value: Any, prop: Json) -> None:
    expected = prop.get("type", "")
    check = _TYPE_CHECKS.get(expected)
    if check is not None and not check(value):
        raise BadRequest(f"blueprint validation failed: field '{path}' must be {_a(expected)}")
    if expected == "array" and prop.get("items"):
        for index, item in enumerate(value):
            _validate_field(f"{path}[{index}]", item, prop["items"])
    enum = prop.get("enum") or []
    if enum and not any(_same(value, allowed) for allowed in enum):
        raise BadRequest(
            f"blueprint validation failed: field '{path}' must be one of "
            f"{json.dumps(enum)}, got {json.dumps(value)}"
        )
    if expected == "object" and prop.get("properties"):
        for key, nested in value.items():
            if key in prop["properties"]:
                _validate_field(f"{path}.{key}", nested, prop["properties"][key])


def _a(type_name: str) -> str:
    return ("an " if type_name[0] in "aeiou" else "a ") + type_name


def _same(value: Any, allowed: Any) -> bool:
    """JSON equality without Python's 1 == True."""
    if isinstance(value, bool) or isinstance(allowed, bool):
        return isinstance(value, bool) and isinstance(allowed, bool) and value == allowed
    return bool(value == allowed)


# -- generations and history ------------------------------------------------------------


def spec_changed(old: Json, new: Json) -> bool:
    """Upstream bumps the generation only when the spec differs (JSON equality)."""
    return _canonical(old.get("spec") or {}) != _canonical(new.get("spec") or {})


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def reconcile_cron_name(kind: str, locationname: str) -> str:
    """One periodic reconciliation per kind and location."""
    return f"reconcile-{kind}-{locationname}" if locationname else f"reconcile-{kind}"


def reconcile_function_spec(
    colonyname: str, executortype: str, funcname: str, kwargs: Json, locationname: str
) -> Json:
    """The function spec of a reconcile (or cleanup) process, in the newest wire shape."""
    node = f"{executortype}-{funcname}"
    return {
        "nodename": node,
        "funcname": funcname,
        "kwargs": kwargs,
        "maxwaittime": 0,
        "maxexectime": -1,
        "maxretries": -1,
        "conditions": {
            "colonyname": colonyname,
            "executortype": executortype,
            "locationname": locationname,
        },
    }
