"""FunctionSpec and WorkflowSpec: normalised to the exact wire shape, validated once."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import Any

from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.ids import is_hex64
from colonies_ha.domain.timeutil import MAX_PRIORITY, MIN_PRIORITY
from colonies_ha.domain.validation import (
    Json,
    get_int,
    get_list,
    get_str,
    get_str_list,
    optional_object,
    require_id,
    require_object,
)


def parse_function_spec(raw: Any, *, colony_id: str | None = None) -> Json:
    """Validate a FunctionSpec; `colony_id` forces the colony (workflow members)."""
    if not isinstance(raw, dict):
        raise BadRequest("the function spec must be a JSON object")
    conditions = optional_object(raw, "conditions")
    if colony_id is None:
        colony_id = require_id(conditions, "colonyid")
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
    return {
        "nodename": get_str(raw, "nodename"),
        "funcname": get_str(raw, "funcname"),
        "args": get_list(raw, "args"),
        "priority": get_int(raw, "priority", low=MIN_PRIORITY, high=MAX_PRIORITY),
        "maxwaittime": get_int(raw, "maxwaittime", low=-1),
        "maxexectime": get_int(raw, "maxexectime", low=-1),
        "maxretries": maxretries,
        "conditions": {
            "colonyid": colony_id,
            "executorids": executorids,
            "executortype": executortype,
            "dependencies": get_str_list(conditions, "dependencies"),
        },
        "label": get_str(raw, "label"),
        "env": dict(env),
    }


def parse_workflow_spec(raw: Json) -> tuple[str, list[Json]]:
    """Validate a WorkflowSpec: every node named once, every dependency known."""
    spec = require_object(raw, "spec") if "spec" in raw else raw
    colony_id = require_id(spec, "colonyid")
    raw_specs = get_list(spec, "functionspecs")
    if not raw_specs:
        raise BadRequest("a workflow needs at least one function spec")
    specs = [parse_function_spec(s, colony_id=colony_id) for s in raw_specs]
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
    return colony_id, specs


def _refuse_cycles(specs: list[Json]) -> None:
    graph = {fs["nodename"]: fs["conditions"]["dependencies"] for fs in specs}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise BadRequest(f"the workflow's dependencies form a cycle: {cycle}") from exc
