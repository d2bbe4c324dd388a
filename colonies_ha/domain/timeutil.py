"""Time arithmetic and the RFC 3339 form used on the wire, kept free of I/O."""

from __future__ import annotations

from datetime import UTC, datetime

NANOS_PER_DAY = 86_400 * 10**9
MIN_PRIORITY = -50_000
MAX_PRIORITY = 50_000
ZERO_TIME = "0001-01-01T00:00:00Z"


def priority_time(submission_unix_ns: int, priority: int) -> int:
    """Lower sorts first: each priority step moves a process one day ahead in the queue."""
    return submission_unix_ns - priority * NANOS_PER_DAY


def rfc3339(value: datetime | None) -> str:
    """Go's RFC3339Nano rendering: UTC, trailing fractional zeros dropped, zero time for None."""
    if value is None:
        return ZERO_TIME
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def utcnow() -> datetime:
    return datetime.now(UTC)
