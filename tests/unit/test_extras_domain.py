"""Pure rules of the current generation's extras: blueprint schemas and channel limits."""

from __future__ import annotations

import base64

import pytest

from colonies_ha.domain import blueprints as bp
from colonies_ha.domain import channels as ch
from colonies_ha.domain.errors import BadRequest, PayloadTooLarge
from colonies_ha.domain.states import ProcessState

SCHEMA = {
    "type": "object",
    "required": ["image"],
    "properties": {
        "image": {"type": "string"},
        "replicas": {"type": "number"},
        "debug": {"type": "boolean", "enum": [False]},
        "ports": {"type": "array", "items": {"type": "number"}},
        "limits": {"type": "object", "properties": {"cpu": {"type": "string"}}},
        "count": {"type": "integer"},  # upstream's check does not know "integer"
    },
}


@pytest.mark.parametrize(
    "spec",
    [
        {"image": "x"},
        {"image": "x", "replicas": 2.5, "ports": [80, 443], "limits": {"cpu": "1", "mem": 2}},
        {"image": "x", "debug": False, "count": "anything", "unknown": [1]},
    ],
)
def test_specs_the_schema_accepts(spec: dict) -> None:
    bp.validate_against_schema(spec, SCHEMA)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({}, "'image' is missing"),
        ({"image": 1}, "'image' must be a string"),
        ({"image": "x", "replicas": True}, "'replicas' must be a number"),
        ({"image": "x", "debug": 0}, "'debug' must be a boolean"),
        ({"image": "x", "debug": True}, "must be one of [false]"),
        ({"image": "x", "ports": [80, "443"]}, "'ports[1]' must be a number"),
        ({"image": "x", "limits": {"cpu": 1}}, "'limits.cpu' must be a string"),
    ],
)
def test_specs_the_schema_refuses(spec: dict, words: str) -> None:
    with pytest.raises(BadRequest) as refused:
        bp.validate_against_schema(spec, SCHEMA)
    assert words in refused.value.message


def test_generation_follows_spec_changes_only() -> None:
    old = {"spec": {"a": 1, "b": [1, 2]}, "status": {"x": 1}}
    assert not bp.spec_changed(old, {"spec": {"b": [1, 2], "a": 1}, "status": {"x": 2}})
    assert bp.spec_changed(old, {"spec": {"a": 1, "b": [2, 1]}})
    assert bp.reconcile_cron_name("K", "") == "reconcile-K"
    assert bp.reconcile_cron_name("K", "edge") == "reconcile-K-edge"


def test_definition_needs_a_kind_and_a_well_formed_schema() -> None:
    raw = {"metadata": {"name": "d", "colonyname": "c"}, "spec": {"names": {"kind": "K"}}}
    parsed = bp.parse_definition(raw, now="t")
    assert parsed["spec"]["names"]["kind"] == "K" and parsed["metadata"]["generation"] == 1
    with pytest.raises(BadRequest):
        bp.parse_definition({**raw, "spec": {"names": {}}}, now="t")
    with pytest.raises(BadRequest):
        bp.parse_definition(
            {**raw, "spec": {"names": {"kind": "K"}, "schema": {"properties": []}}}, now="t"
        )


def test_channel_payloads() -> None:
    assert ch.decode_payload([104, 105]) == b"hi"
    assert ch.decode_payload(base64.b64encode(b"hi").decode()) == b"hi"
    assert ch.decode_payload(None) == b""
    for bad in ([256], [-1], [True], "not base64!", {"a": 1}):
        with pytest.raises(BadRequest):
            ch.decode_payload(bad)
    with pytest.raises(PayloadTooLarge):
        ch.decode_payload(base64.b64encode(bytes(ch.MAX_MESSAGE_BYTES + 1)).decode())


def test_channels_exist_while_the_process_lives() -> None:
    process = {"state": ProcessState.RUNNING, "spec": {"channels": ["chat"]}}
    assert ch.declared(process, "chat")
    assert not ch.declared(process, "other")
    assert not ch.declared({**process, "state": ProcessState.SUCCESSFUL}, "chat")
    many = {"state": ProcessState.WAITING, "spec": {"channels": [f"c{i}" for i in range(101)]}}
    assert ch.declared(many, "c99") and not ch.declared(many, "c100")


def test_rate_limit_bucket() -> None:
    bucket = ch.TokenBucket(rate=10, burst=3)
    assert [bucket.allow(100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow(100.15)  # 0.15 s at 10/s: one token (and a half) back
    assert not bucket.allow(100.15)
    assert bucket.full(101.0)
