"""What a Colonies id is: 64 lower-case hex characters, the SHA3-256 of some text.

Pure and dependency-free, so that the domain rules can check and make ids without importing
the protocol layer (which builds on the domain: its envelope raises domain errors); the
signature code in protocol/crypto.py derives key ids with the same hash.
"""

from __future__ import annotations

import hashlib
import re
import uuid

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha3_hex(text: str) -> str:
    return hashlib.sha3_256(text.encode("utf-8")).hexdigest()


def is_hex64(value: object) -> bool:
    return isinstance(value, str) and _HEX64.match(value) is not None


def new_object_id() -> str:
    """Server-made ids (process, graph, attribute, ...): SHA3-256 of a random UUID string."""
    return sha3_hex(str(uuid.uuid4()))
