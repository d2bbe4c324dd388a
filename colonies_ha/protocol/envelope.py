"""The RPC envelope: decode and verify a request, encode replies and errors.

The signature covers the base64 *text* of the payload, so the payload is verified as
received and decoded once; it is never re-serialised.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from colonies_ha.domain.errors import BadRequest, ColoniesError, Forbidden
from colonies_ha.protocol.crypto import InvalidSignature, recover_id, sign

UNSIGNED_TYPES = frozenset({"versionmsg"})


@dataclass(frozen=True, slots=True)
class Relay:
    """How a follower relayed a leader-only request (replica-to-replica headers).

    `epoch` is the fencing epoch the follower saw: the leader serves the request only under
    that epoch.  `receipt` names the claim: every attempt of one client request carries the
    same receipt, and a leader that finds a claim under it hands that claim out again
    instead of claiming a second process.  `wait_limit` is what is left of the client's
    long poll, so a retried relay does not start the wait over.
    """

    epoch: int
    receipt: str
    wait_limit: float | None = None


@dataclass(frozen=True, slots=True)
class SignedRequest:
    msgtype: str
    msg: dict[str, Any]
    caller_id: str  # "" for the unsigned versionmsg
    raw: bytes  # the request body as received, for forwarding unchanged
    relay: Relay | None = None  # set when another replica relayed it to us


def decode_request(body: bytes) -> SignedRequest:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the request body is not valid JSON") from exc
    if not isinstance(envelope, dict):
        raise BadRequest(
            "the request body must be a JSON object with payloadtype, payload and signature"
        )
    payloadtype = envelope.get("payloadtype")
    payload = envelope.get("payload")
    signature = envelope.get("signature", "")
    if not isinstance(payloadtype, str) or not payloadtype:
        raise BadRequest("the envelope has no payloadtype")
    if not isinstance(payload, str):
        raise BadRequest("the envelope's payload must be a base64 string")
    try:
        msg = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the envelope's payload is not base64-encoded JSON") from exc
    if not isinstance(msg, dict):
        raise BadRequest("the decoded payload must be a JSON object")
    if msg.get("msgtype") != payloadtype:
        raise BadRequest(
            f"the payload's msgtype {msg.get('msgtype')!r} does not match "
            f"the envelope's payloadtype {payloadtype!r}"
        )
    caller_id = ""
    if payloadtype not in UNSIGNED_TYPES:
        if not isinstance(signature, str) or not signature:
            raise Forbidden("the request is not signed")
        try:
            caller_id = recover_id(payload, signature)
        except InvalidSignature as exc:
            raise Forbidden(f"the signature was refused: {exc}") from exc
    return SignedRequest(payloadtype, msg, caller_id, body)


def _b64_json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def encode_reply(payloadtype: str, value: Any) -> bytes:
    reply = {"payloadtype": payloadtype, "payload": _b64_json(value), "error": False}
    return json.dumps(reply).encode()


def encode_error(error: ColoniesError) -> bytes:
    payload = {"status": error.status, "message": error.message}
    reply = {"payloadtype": "error", "payload": _b64_json(payload), "error": True}
    return json.dumps(reply).encode()


def encode_request(msg: dict[str, Any], prvkey: str | None) -> bytes:
    """Client side: the same envelope pycolonies builds."""
    payload = base64.b64encode(json.dumps(msg).encode("utf-8")).decode("ascii")
    signature = sign(payload, prvkey) if prvkey else ""
    return json.dumps(
        {"payloadtype": msg["msgtype"], "payload": payload, "signature": signature}
    ).encode()


def decode_reply(status: int, body: bytes) -> Any:
    """Client side: the reply's value, or the server's ColoniesError with its status."""
    try:
        envelope = json.loads(body)
        value = json.loads(base64.b64decode(envelope["payload"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ColoniesError(f"the server sent an unreadable reply (HTTP {status})") from exc
    if status != 200 or envelope.get("error"):
        details = value if isinstance(value, dict) else {}
        error = ColoniesError(str(details.get("message", value)))
        # Over WebSocket there is no HTTP status: the error payload carries it.
        error.status = status if status != 200 else int(details.get("status", 500))
        raise error
    return value
