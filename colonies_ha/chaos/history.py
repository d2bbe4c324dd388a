"""Every operation of a chaos run, in the order it finished, as JSON lines.

The checker judges the run from this record (and the database), never from the workload's
own counters, so a saved history can be re-checked and read by a person afterwards.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

Op = dict[str, Any]


class History:
    """An append-only list of operations, optionally streamed to a JSONL file as they come."""

    def __init__(self, path: Path | None = None) -> None:
        self.ops: list[Op] = []
        self.counts: Counter[str] = Counter()
        self.path = path
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")

    def record(self, op: str, **fields: Any) -> Op:
        """Append one operation stamped with the wall clock (the server's clock is the same)."""
        entry: Op = {"op": op, "t": time.time(), **fields}
        self.ops.append(entry)
        self.counts[_count_key(entry)] += 1
        if self._file is not None:
            self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        return entry

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def of(self, *kinds: str) -> Iterator[Op]:
        return (op for op in self.ops if op["op"] in kinds)

    @classmethod
    def load(cls, path: Path) -> History:
        """Read a saved history back, for re-checking offline."""
        history = cls()
        with path.open(encoding="utf-8") as handle:
            history.extend(json.loads(line) for line in handle if line.strip())
        return history

    def extend(self, ops: Iterable[Op]) -> None:
        for entry in ops:
            self.ops.append(entry)
            self.counts[_count_key(entry)] += 1


def _count_key(entry: Op) -> str:
    if "ok" not in entry:
        return str(entry["op"])
    if entry.get("empty"):
        return f"{entry['op']}:empty"
    return f"{entry['op']}:{'ok' if entry['ok'] else 'error'}"
