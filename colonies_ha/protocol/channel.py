"""Frames of the relay channel: a follower's relayed requests and the leader's replies.

A follower keeps one WebSocket to the leader and sends each leader-only request it relays as
a frame: an id (to match the reply), the relay fields (fencing epoch, receipt, what is left
of the client's wait) and the client's signed body byte for byte.  The leader answers each
frame with the HTTP status and body it would have answered on /api.  Frames sent in the
same turn of the event loop travel in one WebSocket message: each frame is the lengths of
its header and body (two big-endian 32-bit integers), a JSON header, then the body.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from colonies_ha.domain.errors import BadRequest
from colonies_ha.protocol.envelope import Relay

_LENGTHS = struct.Struct(">II")
MAX_MESSAGE_BYTES = 1 << 20  # frames are packed into messages up to this size (or one frame)


@dataclass(frozen=True, slots=True)
class RequestFrame:
    ident: int
    relay: Relay
    body: bytes  # the client's signed request, as received


@dataclass(frozen=True, slots=True)
class ReplyFrame:
    ident: int
    status: int
    unavailable: bool  # a 503 because the leader's database was unavailable, not leadership
    body: bytes


def _frame(header: list[object], body: bytes) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTHS.pack(len(head), len(body)) + head + body


def encode_request(frame: RequestFrame) -> bytes:
    relay = frame.relay
    return _frame([frame.ident, relay.epoch, relay.receipt, relay.wait_limit], frame.body)


def encode_reply(frame: ReplyFrame) -> bytes:
    return _frame([frame.ident, frame.status, frame.unavailable], frame.body)


def pack(frames: list[bytes]) -> Iterator[bytes]:
    """The messages that carry `frames`: as few as MAX_MESSAGE_BYTES allows, in order."""
    batch: list[bytes] = []
    size = 0
    for frame in frames:
        if batch and size + len(frame) > MAX_MESSAGE_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(frame)
        size += len(frame)
    if batch:
        yield b"".join(batch)


def _split(message: bytes) -> Iterator[tuple[list[object], bytes]]:
    view, offset = memoryview(message), 0
    while offset < len(message):
        if offset + _LENGTHS.size > len(message):
            raise BadRequest("a relay channel message ends inside a frame's lengths")
        head_len, body_len = _LENGTHS.unpack_from(message, offset)
        start = offset + _LENGTHS.size
        offset = start + head_len + body_len
        if offset > len(message):
            raise BadRequest("a relay channel frame is longer than its message")
        try:
            header = json.loads(view[start : start + head_len].tobytes())
        except ValueError as exc:
            raise BadRequest("a relay channel frame's header is not JSON") from exc
        if not isinstance(header, list):
            raise BadRequest("a relay channel frame's header must be a JSON list")
        yield header, view[start + head_len : offset].tobytes()


def decode_requests(message: bytes) -> list[RequestFrame]:
    """The frames of a follower's message; BadRequest if any is malformed."""
    frames = []
    for header, body in _split(message):
        match header:
            case [int(ident), int(epoch), str(receipt), (int() | float() | None) as wait]:
                relay = Relay(epoch, receipt, max(float(wait), 0.0) if wait is not None else None)
                frames.append(RequestFrame(ident, relay, body))
            case _:
                raise BadRequest(
                    "a relay request frame's header must be [id, epoch, receipt, wait limit]"
                )
    return frames


def decode_replies(message: bytes) -> list[ReplyFrame]:
    """The frames of a leader's message; BadRequest if any is malformed."""
    frames = []
    for header, body in _split(message):
        match header:
            case [int(ident), int(status), bool(unavailable)]:
                frames.append(ReplyFrame(ident, status, unavailable, body))
            case _:
                raise BadRequest("a relay reply frame's header must be [id, status, unavailable]")
    return frames
