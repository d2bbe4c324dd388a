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

from psycopg.types.json import Jsonb

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


async def processes_by_receipts(conn: Conn, receipts: Sequence[str]) -> list[Row]:
    return await all_rows(conn, "processes_by_receipts", {"receipts": list(receipts)})


async def lock_claim_candidates(
    conn: Conn, colonyid: str, executortype: str, executorids: Sequence[str], n: int
) -> list[Row]:
    params = {
        "colonyid": colonyid,
        "executortype": executortype,
        "executorids": sorted(set(executorids)),
        "n": n,
    }
    return await all_rows(conn, "lock_claim_candidates", params)


async def claim_processes(conn: Conn, picks: Sequence[Row]) -> list[Row]:
    """Claim (processid, executorid, receipt) pairs whose rows this transaction locked."""
    return await all_rows(conn, "claim_processes", {"picks": json_rows(picks)})
