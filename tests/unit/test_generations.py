"""How a message names its colony, and the newest FunctionSpec fields kept on the way in."""

from __future__ import annotations

import pytest

from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.specs import parse_function_spec, parse_workflow_spec, with_colony
from colonies_ha.domain.validation import ColonyRef, colony_ref, get_any_state

COLONY = "a" * 64


def test_colony_ref_by_name_or_id() -> None:
    assert colony_ref({"colonyname": "dev"}) == ColonyRef(colonyname="dev")
    assert colony_ref({"colonyname": "dev"}).current
    assert colony_ref({"colonyid": COLONY, "colonyname": ""}) == ColonyRef(colonyid=COLONY)
    assert not colony_ref({"colonyid": COLONY}).current
    with pytest.raises(BadRequest, match="'colonyname'"):
        colony_ref({})
    with pytest.raises(BadRequest, match="64 lower-case hexadecimal"):
        colony_ref({"colonyid": "dev"})
    with pytest.raises(BadRequest, match="must be a string"):
        colony_ref({"colonyname": 7})


def test_any_state_filter() -> None:
    assert get_any_state({}) == -1 and get_any_state({"state": 2}) == 2
    with pytest.raises(BadRequest):
        get_any_state({"state": -2})


def test_newest_spec_keeps_its_fields_and_names_the_colony_both_ways() -> None:
    raw = {
        "funcname": "train",
        "kwargs": {"epochs": "3"},
        "fs": {"mount": "/cfs", "snapshots": None, "dirs": None},
        "channels": ["chat"],
        "conditions": {
            "colonyname": "dev",
            "executortype": "gpu",
            "executornames": ["box"],
            "nodes": 2,
            "cpu": "1000m",
            "gpu": {"name": "a100", "count": 1},
            "walltime": 60,
        },
    }
    parsed = parse_function_spec(raw)
    assert parsed["conditions"]["colonyname"] == "dev" and parsed["conditions"]["colonyid"] == ""
    assert parsed["kwargs"] == {"epochs": "3"} and parsed["channels"] == ["chat"]
    assert parsed["conditions"]["executornames"] == ["box"]
    assert parsed["conditions"]["gpu"] == {"name": "a100", "count": 1}
    stored = with_colony(parsed, COLONY, "dev")
    assert (stored["conditions"]["colonyid"], stored["conditions"]["colonyname"]) == (
        COLONY,
        "dev",
    )
    with pytest.raises(BadRequest, match="'nodes' must be an integer"):
        parse_function_spec({**raw, "conditions": {**raw["conditions"], "nodes": "two"}})
    with pytest.raises(BadRequest, match="'kwargs' must be a JSON object"):
        parse_function_spec({**raw, "kwargs": ["x"]})


def test_workflow_by_colony_name() -> None:
    node = {"funcname": "f", "conditions": {"executortype": "t"}}
    colony, specs = parse_workflow_spec({"spec": {"colonyname": "dev", "functionspecs": [node]}})
    assert colony == ColonyRef(colonyname="dev")
    assert specs[0]["conditions"]["colonyname"] == "dev"
