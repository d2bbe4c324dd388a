"""Envelope decoding: tampering gives 400 or 403 before any handler runs."""

from __future__ import annotations

import base64
import json

import pytest

from colonies_ha.domain.errors import BadRequest, Forbidden
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.protocol.envelope import decode_request, encode_request

KEY = generate_private_key()


def envelope(msg: dict) -> dict:
    return json.loads(encode_request(msg, KEY))


def test_valid_envelope_recovers_the_caller() -> None:
    req = decode_request(encode_request({"msgtype": "getcoloniesmsg"}, KEY))
    assert req.caller_id == id_of_private_key(KEY) and req.msgtype == "getcoloniesmsg"


def test_changed_payload_is_another_caller() -> None:
    env = envelope({"msgtype": "getcoloniesmsg"})
    env["payload"] = base64.b64encode(b'{"msgtype": "getcoloniesmsg", "x": 1}').decode()
    req = decode_request(json.dumps(env).encode())
    assert req.caller_id != id_of_private_key(KEY)


def test_msgtype_mismatch_is_400() -> None:
    env = envelope({"msgtype": "getcoloniesmsg"})
    env["payloadtype"] = "addcolonymsg"
    with pytest.raises(BadRequest, match="does not match"):
        decode_request(json.dumps(env).encode())


def test_truncated_signature_is_403() -> None:
    env = envelope({"msgtype": "getcoloniesmsg"})
    env["signature"] = env["signature"][:-4]
    with pytest.raises(Forbidden, match="65 bytes"):
        decode_request(json.dumps(env).encode())


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"payloadtype": "x"}',
        b'{"payloadtype": "x", "payload": "!!", "signature": ""}',
    ],
)
def test_malformed_envelopes_are_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_request(body)


def test_unsigned_request_is_403_except_version() -> None:
    env = envelope({"msgtype": "getcoloniesmsg"})
    env["signature"] = ""
    with pytest.raises(Forbidden):
        decode_request(json.dumps(env).encode())
    assert decode_request(encode_request({"msgtype": "versionmsg"}, None)).caller_id == ""
