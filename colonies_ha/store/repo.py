"""Thin typed calls of the named queries; rows come back as dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from colonies_ha.store.db import Conn
from colonies_ha.store.queries import Q

Row = dict[str, Any]


async def one(conn: Conn, name: str, params: dict[str, Any] | None = None) -> Row | None:
    cur = await conn.execute(Q[name], params or {})
    return await cur.fetchone()


async def all_rows(conn: Conn, name: str, params: dict[str, Any] | None = None) -> list[Row]:
    cur = await conn.execute(Q[name], params or {})
    return await cur.fetchall()


async def run(conn: Conn, name: str, params: dict[str, Any] | None = None) -> int:
    cur = await conn.execute(Q[name], params or {})
    return cur.rowcount


# -- colonies ---------------------------------------------------------------------------


async def get_colony(conn: Conn, colonyid: str) -> Row | None:
    return await one(conn, "get_colony", {"colonyid": colonyid})


# -- executors --------------------------------------------------------------------------


async def get_executor(conn: Conn, executorid: str) -> Row | None:
    return await one(conn, "get_executor", {"executorid": executorid})


# -- processes --------------------------------------------------------------------------


async def get_process(conn: Conn, processid: str) -> Row | None:
    return await one(conn, "get_process", {"processid": processid})


async def insert_process(conn: Conn, row: Row) -> None:
    params = dict(row)
    for key in ("spec", "input"):
        params[key] = Jsonb(params[key])
    await conn.execute(Q["insert_process"], params)


async def submit_process(conn: Conn, row: Row) -> None:
    """Insert a process without attributes and queue its NOTIFY, in one statement."""
    params = dict(row)
    for key in ("spec", "input"):
        params[key] = Jsonb(params[key])
    await conn.execute(Q["submit_process"], params)


async def insert_attribute(conn: Conn, row: Row) -> Row:
    result = await one(conn, "insert_attribute", row)
    assert result is not None
    return result


async def processes_changed_since(
    conn: Conn, colonyid: str, *, state: int, executortype: str, since: datetime, limit: int
) -> list[Row]:
    params = {
        "colonyid": colonyid,
        "state": state,
        "executortype": executortype,
        "since": since,
        "limit": limit,
    }
    return await all_rows(conn, "processes_changed_since", params)
