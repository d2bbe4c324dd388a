"""Process channels: limits, payload decoding, entry shapes and the rate limit; no I/O.

Limits follow the newest upstream server (pkg/constants): 10 MiB per message, 10,000
entries per channel, 100 channels per process, 100 messages/s per process with bursts of
500.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from colonies_ha.domain.errors import BadRequest, PayloadTooLarge
from colonies_ha.domain.states import ProcessState
from colonies_ha.domain.timeutil import rfc3339

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_ENTRIES = 10_000
MAX_CHANNELS_PER_PROCESS = 100
RATE_PER_SECOND = 100.0
RATE_BURST = 500.0
DATA = "data"  # the type of an entry appended without a payloadtype


def topic(processid: str, name: str) -> str:
    """The wake-up topic of one channel (see EventHub.topic_signal)."""
    return f"{processid}/{name}"


def declared(process: dict[str, Any], name: str) -> bool:
    """A channel exists while its process runs or waits, if its spec declares it (the
    first 100 declarations count)."""
    if process["state"] in (ProcessState.SUCCESSFUL, ProcessState.FAILED):
        return False
    channels = (process.get("spec") or {}).get("channels") or []
    return name in channels[:MAX_CHANNELS_PER_PROCESS]


def decode_payload(value: Any) -> bytes:
    """pycolonies sends a list of byte values; Go clients a base64 string."""
    if value is None:
        return b""
    if isinstance(value, str):
        try:
            data = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise BadRequest("the field 'payload' is not valid base64") from exc
    elif isinstance(value, list):
        if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in value):
            raise BadRequest("the field 'payload' must be an array of byte values (0-255)")
        data = bytes(value)
    else:
        raise BadRequest("the field 'payload' must be an array of bytes or a base64 string")
    if len(data) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(
            f"message payload exceeds maximum size ({len(data)} > {MAX_MESSAGE_BYTES} bytes)"
        )
    return data


def entry_json(row: dict[str, Any]) -> dict[str, Any]:
    """One MsgEntry as upstream marshals it: payload base64, zero inreplyto left out."""
    entry: dict[str, Any] = {
        "sequence": row["sequence"],
        "timestamp": rfc3339(row["added"]),
        "senderid": row["senderid"],
        "payload": base64.b64encode(bytes(row["payload"])).decode("ascii"),
    }
    if row["inreplyto"]:
        entry["inreplyto"] = row["inreplyto"]
    if row["type"]:
        entry["type"] = row["type"]
    return entry


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens a second up to `burst`; one message takes one token."""

    rate: float = RATE_PER_SECOND
    burst: float = RATE_BURST
    tokens: float = field(init=False)
    stamp: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.tokens = self.burst  # a new bucket starts full

    def allow(self, now: float) -> bool:
        if self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst
