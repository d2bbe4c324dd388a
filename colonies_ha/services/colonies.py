"""Colonies, executors and functions: registration and membership."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from colonies_ha.cluster.events import notify_topic
from colonies_ha.domain.errors import BadRequest, Forbidden, NotFound
from colonies_ha.domain.ids import new_object_id
from colonies_ha.domain.states import ExecutorState
from colonies_ha.protocol.objects import colony_json, executor_json, function_json, user_json
from colonies_ha.services.member_cache import MEMBERSHIP_TOPIC
from colonies_ha.store import repo
from colonies_ha.store.db import Conn

Json = dict[str, Any]


async def add_colony(conn: Conn, colonyid: str, name: str) -> Json:
    row = await repo.one(conn, "insert_colony", {"colonyid": colonyid, "name": name})
    if row is None:
        raise BadRequest(f"a colony with id {colonyid} or name '{name}' already exists")
    return colony_json(row)


async def delete_colony(conn: Conn, colonyid: str) -> None:
    async with conn.transaction():
        await membership_changes(conn)  # its executors and users go with it
        if await repo.one(conn, "delete_colony", {"colonyid": colonyid}) is None:
            raise NotFound(f"colony {colonyid} does not exist")


async def list_colonies(conn: Conn) -> list[Json]:
    return [colony_json(r) for r in await repo.all_rows(conn, "get_colonies")]


async def get_colony(conn: Conn, colonyid: str) -> Json:
    row = await repo.get_colony(conn, colonyid)
    if row is None:
        raise NotFound(f"colony {colonyid} does not exist")
    return colony_json(row)


async def add_executor(conn: Conn, executor: Json, colonyname: str = "") -> Json:
    row = await repo.one(conn, "insert_executor", executor)
    if row is None:
        raise BadRequest(
            f"an executor with id {executor['executorid']} or name "
            f"'{executor['executorname']}' already exists"
        )
    return executor_json({**row, "colonyname": colonyname})


async def executor_by_name(conn: Conn, colonyid: str, executorname: str) -> Json:
    """The newest generation names executors within their colony."""
    row = await repo.one(
        conn, "get_executor_by_name", {"colonyid": colonyid, "executorname": executorname}
    )
    if row is None:
        raise NotFound(f"no executor named '{executorname}' in the colony")
    return row


async def executor_in_colony(conn: Conn, executorid: str) -> Json:
    row = await repo.get_executor(conn, executorid)
    if row is None:
        raise NotFound(f"executor {executorid} does not exist")
    return row


async def list_executors(conn: Conn, colonyid: str) -> list[Json]:
    rows = await repo.all_rows(conn, "get_executors", {"colonyid": colonyid})
    return [executor_json(r) for r in rows]


async def membership_changes(conn: Conn) -> None:
    """First in a transaction that rejects or removes members: claims in flight commit
    before it goes on (migration 0010), and every replica forgets the admissions it
    remembered (services.member_cache) when it commits."""
    await repo.run(conn, "lock_membership_changes")
    await notify_topic(conn, MEMBERSHIP_TOPIC)


async def set_executor_state(conn: Conn, executorid: str, state: ExecutorState) -> None:
    await repo.run(conn, "set_executor_state", {"executorid": executorid, "state": int(state)})


async def delete_executor(conn: Conn, executorid: str) -> None:
    await repo.run(conn, "delete_executor", {"executorid": executorid})


async def add_function(conn: Conn, caller_id: str, fun: Json) -> Json:
    row = await repo.one(
        conn, "insert_function", {**fun, "functionid": new_object_id(), "args": Jsonb(fun["args"])}
    )
    if row is None:
        raise Forbidden(
            f"executor {caller_id} already registered a function named '{fun['funcname']}'"
        )
    full = await repo.one(conn, "get_function", {"functionid": row["functionid"]})
    return function_json(full or row)


async def list_functions(conn: Conn, *, executorid: str = "", colonyid: str = "") -> list[Json]:
    if executorid:
        rows = await repo.all_rows(conn, "get_functions_by_executor", {"executorid": executorid})
    else:
        rows = await repo.all_rows(conn, "get_functions_by_colony", {"colonyid": colonyid})
    return [function_json(r) for r in rows]


async def get_function(conn: Conn, functionid: str) -> Json:
    row = await repo.one(conn, "get_function", {"functionid": functionid})
    if row is None:
        raise NotFound(f"function {functionid} does not exist")
    return row


async def delete_function(conn: Conn, functionid: str) -> None:
    await repo.run(conn, "delete_function", {"functionid": functionid})


# -- users (newest generation) ----------------------------------------------------------


async def add_user(conn: Conn, user: Json, colonyname: str) -> Json:
    row = await repo.one(conn, "insert_user", user)
    if row is None:
        raise BadRequest(
            f"a user named '{user['name']}' or with id {user['userid']} already exists "
            f"in colony '{colonyname}'"
        )
    return user_json({**row, "colonyname": colonyname})


async def list_users(conn: Conn, colonyid: str, colonyname: str) -> list[Json]:
    rows = await repo.all_rows(conn, "get_users", {"colonyid": colonyid})
    return [user_json({**r, "colonyname": colonyname}) for r in rows]


async def get_user(
    conn: Conn, colonyid: str, colonyname: str, *, name: str = "", userid: str = ""
) -> Json:
    if name:
        row = await repo.one(conn, "get_user_by_name", {"colonyid": colonyid, "name": name})
    else:
        row = await repo.one(conn, "get_user_by_id", {"colonyid": colonyid, "userid": userid})
    if row is None:
        raise NotFound(f"no user '{name or userid}' in colony '{colonyname}'")
    return user_json({**row, "colonyname": colonyname})


async def remove_user(conn: Conn, colonyid: str, colonyname: str, name: str) -> None:
    async with conn.transaction():
        await membership_changes(conn)
        if await repo.one(conn, "delete_user", {"colonyid": colonyid, "name": name}) is None:
            raise NotFound(f"no user named '{name}' in colony '{colonyname}'")
