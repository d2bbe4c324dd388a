"""FunctionSpec and WorkflowSpec: normalised to the exact wire shape, validated once."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Any

from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.timeutil import MAX_PRIORITY, MIN_PRIORITY
from colonies_ha.domain.validation import (
    ColonyRef,
    Json,
    colony_ref,
    get_int,
    get_list,
    get_str,
    get_str_list,
    optional_object,
    require_object,
)
from colonies_ha.protocol.crypto import is_hex64

# Fields of the newest generation's FunctionSpec kept as sent (when sent): executors read
# kwargs and fs; the rest describe resources the executor may look at.
_CURRENT_SPEC_OBJECTS = ("kwargs", "fs")
_CURRENT_CONDITION_STRINGS = ("cpu", "mem", "storage")
_CURRENT_CONDITION_INTS = ("nodes", "processes", "processespernode", "walltime")


def parse_function_spec(raw: Any, *, colony: ColonyRef | None = None) -> Json:
    """Validate a FunctionSpec of either generation; `colony` forces the colony (workflow
    members).  Its conditions name the colony by id, by name, or (once the service has
    resolved it with `with_colony`) both."""
    if not isinstance(raw, dict):
        raise BadRequest("the function spec must be a JSON object")
    conditions = optional_object(raw, "conditions")
    if colony is None:
        colony = colony_ref(conditions)
    executortype = get_str(conditions, "executortype")
    if not executortype:
        raise BadRequest("the function spec's conditions.executortype is required")
    executorids = get_str_list(conditions, "executorids")
    for executorid in executorids:
        if not is_hex64(executorid):
            raise BadRequest(f"conditions.executorids has an invalid id '{executorid}'")
    env = optional_object(raw, "env")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise BadRequest("the function spec's env must map strings to strings")
    maxretries = get_int(raw, "maxretries", low=-1)
    spec = {
        "nodename": get_str(raw, "nodename"),
        "funcname": get_str(raw, "funcname"),
        "args": get_list(raw, "args"),
        "priority": get_int(raw, "priority", low=MIN_PRIORITY, high=MAX_PRIORITY),
        "maxwaittime": get_int(raw, "maxwaittime", low=-1),
        "maxexectime": get_int(raw, "maxexectime", low=-1),
        "maxretries": maxretries,
        "conditions": {
            "colonyid": colony.colonyid,
            "colonyname": colony.colonyname,
            "executorids": executorids,
            "executortype": executortype,
            "dependencies": get_str_list(conditions, "dependencies"),
        },
        "label": get_str(raw, "label"),
        "env": dict(env),
    }
    _keep_current_fields(raw, conditions, spec)
    return spec


def _keep_current_fields(raw: Json, conditions: Json, spec: Json) -> None:
    """Carry the newest generation's extra fields, type-checked, so its SDK reads them back."""
    for key in _CURRENT_SPEC_OBJECTS:
        if raw.get(key) is not None:
            spec[key] = optional_object(raw, key)
    if raw.get("channels") is not None:
        spec["channels"] = get_str_list(raw, "channels")
    kept = spec["conditions"]
    if conditions.get("executornames") is not None:
        kept["executornames"] = get_str_list(conditions, "executornames")
    for key in _CURRENT_CONDITION_STRINGS:
        if key in conditions:
            kept[key] = get_str(conditions, key)
    for key in _CURRENT_CONDITION_INTS:
        if key in conditions:
            kept[key] = get_int(conditions, key)
    if conditions.get("gpu") is not None:
        kept["gpu"] = optional_object(conditions, "gpu")


def with_colony(spec: Json, colonyid: str, colonyname: str) -> Json:
    """The spec with its colony named both ways, as it is stored and sent to either SDK."""
    return {
        **spec,
        "conditions": {**spec["conditions"], "colonyid": colonyid, "colonyname": colonyname},
    }


def parse_workflow_spec(raw: Json) -> tuple[ColonyRef, list[Json]]:
    """Validate a WorkflowSpec: every node named once, every dependency known."""
    spec = require_object(raw, "spec") if "spec" in raw else raw
    colony = colony_ref(spec)
    raw_specs = get_list(spec, "functionspecs")
    if not raw_specs:
        raise BadRequest("a workflow needs at least one function spec")
    specs = [parse_function_spec(s, colony=colony) for s in raw_specs]
    names: set[str] = set()
    for index, fs in enumerate(specs):
        if not fs["nodename"]:
            fs["nodename"] = fs["funcname"] or f"node{index}"
        if fs["nodename"] in names:
            raise BadRequest(f"the workflow has two nodes named '{fs['nodename']}'")
        names.add(fs["nodename"])
    for fs in specs:
        for dependency in fs["conditions"]["dependencies"]:
            if dependency not in names:
                raise BadRequest(
                    f"node '{fs['nodename']}' depends on '{dependency}', "
                    "which is not a node of the workflow"
                )
    _refuse_cycles(specs)
    return colony, specs


def _refuse_cycles(specs: list[Json]) -> None:
    graph = {fs["nodename"]: fs["conditions"]["dependencies"] for fs in specs}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise BadRequest(f"the workflow's dependencies form a cycle: {cycle}") from exc
