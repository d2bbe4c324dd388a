"""Typed reads of client JSON: a wrong type or value becomes a 400 that names the field.

Clients send whatever their language produces (pycolonies sends `null` for fields it does
not use), so absent and null fields take defaults, and unknown fields are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from colonies_ha.domain.errors import BadRequest
from colonies_ha.protocol.crypto import is_hex64

Json = dict[str, Any]
MAX_COUNT = 100


def _present(obj: Json, key: str) -> bool:
    return obj.get(key) is not None


def require_object(obj: Json, key: str) -> Json:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise BadRequest(f"the field '{key}' must be a JSON object")
    return value


def optional_object(obj: Json, key: str) -> Json:
    if not _present(obj, key):
        return {}
    return require_object(obj, key)


def get_str(obj: Json, key: str, default: str = "") -> str:
    if not _present(obj, key):
        return default
    value = obj[key]
    if not isinstance(value, str):
        raise BadRequest(f"the field '{key}' must be a string")
    return value


def require_str(obj: Json, key: str) -> str:
    value = get_str(obj, key)
    if not value:
        raise BadRequest(f"the field '{key}' is required")
    return value


def require_id(obj: Json, key: str) -> str:
    """A 64-hex-char id (colony, executor, process, ...)."""
    value = obj.get(key)
    if not is_hex64(value):
        raise BadRequest(f"the field '{key}' must be an id of 64 lower-case hexadecimal characters")
    return str(value)


def optional_id(obj: Json, key: str) -> str:
    if not get_str(obj, key):
        return ""
    return require_id(obj, key)


def get_int(
    obj: Json, key: str, default: int = 0, *, low: int | None = None, high: int | None = None
) -> int:
    if not _present(obj, key):
        return default
    value = obj[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"the field '{key}' must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadRequest(f"the field '{key}' must be between {low} and {high}, got {value}")
    return value


def get_bool(obj: Json, key: str, default: bool = False) -> bool:
    if not _present(obj, key):
        return default
    value = obj[key]
    if not isinstance(value, bool):
        raise BadRequest(f"the field '{key}' must be true or false")
    return value


def get_list(obj: Json, key: str) -> list[Any]:
    if not _present(obj, key):
        return []
    value = obj[key]
    if not isinstance(value, list):
        raise BadRequest(f"the field '{key}' must be a JSON array")
    return value


def get_str_list(obj: Json, key: str) -> list[str]:
    values = get_list(obj, key)
    if not all(isinstance(v, str) for v in values):
        raise BadRequest(f"the field '{key}' must be an array of strings")
    return values


def get_count(obj: Json, key: str = "count") -> int:
    count = get_int(obj, key, default=MAX_COUNT)
    if count > MAX_COUNT:
        raise BadRequest(f"the field '{key}' must be at most {MAX_COUNT}, got {count}")
    if count < 0:
        raise BadRequest(f"the field '{key}' must not be negative")
    return count


def get_state(obj: Json, key: str = "state") -> int:
    return get_int(obj, key, low=0, high=3)


@dataclass(frozen=True, slots=True)
class ColonyRef:
    """How a message names its colony: by id (2023 generation) or by name (the newest)."""

    colonyid: str = ""
    colonyname: str = ""

    @property
    def current(self) -> bool:
        return bool(self.colonyname)


def colony_ref(obj: Json) -> ColonyRef:
    """`colonyname` marks the newest generation; otherwise a 2023 `colonyid` is required."""
    name = get_str(obj, "colonyname")
    if name:
        return ColonyRef(colonyname=name)
    if not _present(obj, "colonyid"):
        raise BadRequest("the field 'colonyname' (or the 2023 field 'colonyid') is required")
    return ColonyRef(colonyid=require_id(obj, "colonyid"))


def is_current(obj: Json, key: str = "colonyname") -> bool:
    """True when a message uses the newest generation's name-addressing field `key`."""
    return bool(get_str(obj, key))


def get_any_state(obj: Json, key: str = "state") -> int:
    """The newest generation's state filter: -1 means every state."""
    return get_int(obj, key, default=-1, low=-1, high=3)
