"""The newest generation's role checks (services/auth.py) against a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from colonies_ha.domain.errors import Forbidden, NotFound
from colonies_ha.domain.states import ExecutorState
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.services import auth
from colonies_ha.store import repo

Conn = psycopg.AsyncConnection[dict[str, Any]]


def new_id() -> str:
    return id_of_private_key(generate_private_key())


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[Conn]:
    connection = await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    )
    async with connection:
        yield connection


async def add_executor(conn: Conn, colonyid: str, name: str, state: ExecutorState) -> str:
    executorid = new_id()
    params = {
        "executorid": executorid,
        "colonyid": colonyid,
        "executortype": "worker",
        "executorname": name,
        "requirefuncreg": False,
        "long": 0.0,
        "lat": 0.0,
    }
    await repo.one(conn, "insert_executor", params)
    await repo.run(conn, "set_executor_state", {"executorid": executorid, "state": int(state)})
    return executorid


async def test_membership_by_colony_name(conn: Conn) -> None:
    colonyid = new_id()
    await repo.one(conn, "insert_colony", {"colonyid": colonyid, "name": "dev"})
    approved = await add_executor(conn, colonyid, "exe", ExecutorState.APPROVED)
    pending = await add_executor(conn, colonyid, "new", ExecutorState.PENDING)
    rejected = await add_executor(conn, colonyid, "bad", ExecutorState.REJECTED)
    userid = new_id()
    user = {"colonyid": colonyid, "userid": userid, "name": "alice", "email": "", "phone": ""}
    await repo.one(conn, "insert_user", user)

    member = await auth.require_membership(conn, approved, "dev")
    assert (member.colonyid, member.colonyname, member.executorname) == (colonyid, "dev", "exe")
    assert not member.is_user and member.executortype == "worker"
    as_user = await auth.require_membership(conn, userid, "dev")
    assert as_user.is_user and as_user.executorname == "alice"

    with pytest.raises(Forbidden, match="not approved yet"):
        await auth.require_membership(conn, pending, "dev")
    assert (await auth.require_membership(conn, pending, "dev", approved=False)).executorid
    with pytest.raises(Forbidden, match="rejected"):
        await auth.require_membership(conn, rejected, "dev")
    with pytest.raises(Forbidden, match="not an executor or user"):
        await auth.require_membership(conn, colonyid, "dev")  # the owner key is no member
    with pytest.raises(NotFound, match="'nope' does not exist"):
        await auth.require_membership(conn, approved, "nope")

    assert (await auth.require_colony_owner_by_name(conn, colonyid, "dev"))["colonyid"] == colonyid
    with pytest.raises(Forbidden, match="owner of colony 'dev'"):
        await auth.require_colony_owner_by_name(conn, approved, "dev")
    assert (await auth.colony_by_name(conn, "dev"))["name"] == "dev"
    with pytest.raises(NotFound):
        await auth.colony_by_name(conn, "")
