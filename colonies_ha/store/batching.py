"""Typed calls of the multi-row statements that coalesced requests share.

Several requests' rows travel as one JSON array parameter (jsonb_to_recordset and
jsonb_populate_recordset on the server side): one statement, one parameter, whatever the
batch size, so PostgreSQL prepares it once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from colonies_ha.domain.errors import NotLeader
from colonies_ha.store.db import Conn
from colonies_ha.store.queries import Q
from colonies_ha.store.repo import Row, all_rows


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def json_rows(rows: Sequence[Row]) -> Jsonb:
    """Rows as one jsonb parameter (timestamps as ISO 8601 text)."""
    return Jsonb(list(rows), dumps=_dumps)


_SUBMIT_COLUMNS = [
    "processid",
    "colonyid",
    "executortype",
    "executorids",
    "prioritytime",
    "submissiontime",
    "waitdeadline",
    "maxretries",
    "maxexectime",
    "maxwaittime",
    "waitforparents",
    "parents",
    "children",
    "processgraphid",
    "spec",
    "input",
    "initiatorid",
    "initiatorname",
]


async def executors_by_id(conn: Conn, executorids: Sequence[str]) -> dict[str, Row]:
    rows = await all_rows(conn, "get_executors_by_id", {"executorids": list(executorids)})
    return {row["executorid"]: row for row in rows}


async def submit_processes(conn: Conn, processes: Sequence[Row]) -> None:
    """Insert processes without attributes and queue their NOTIFYs, in one statement."""
    rows = [{column: p[column] for column in _SUBMIT_COLUMNS} for p in processes]
    await conn.execute(Q["submit_processes"], {"rows": json_rows(rows)})


async def close_processes(conn: Conn, closes: Sequence[Row]) -> set[str]:
    """Close (processid, executorid, state, output, errors) rows; the processids closed."""
    rows = await all_rows(conn, "close_processes", {"closes": json_rows(closes)})
    return {row["processid"] for row in rows}


# SQLSTATE of claim_for_waiters when the fencing epoch moved (migration 0009).
FENCE_MOVED = "CF001"


async def claim_for_waiters(
    conn: Conn,
    epoch: int,
    colonyid: str,
    executortype: str,
    waiters: Sequence[tuple[str, str | None]],
) -> list[Row]:
    """Claim for (executorid, receipt) waiters in arrival order; raises NotLeader when the
    fencing epoch moved (nothing is claimed then)."""
    params = {
        "epoch": epoch,
        "colonyid": colonyid,
        "executortype": executortype,
        "executorids": [executorid for executorid, _ in waiters],
        "receipts": [receipt for _, receipt in waiters],
    }
    try:
        return await all_rows(conn, "claim_for_waiters", params)
    except psycopg.Error as exc:
        if exc.sqlstate == FENCE_MOVED:
            raise NotLeader(
                "this replica's leadership was superseded (fencing epoch moved)"
            ) from exc
        raise
