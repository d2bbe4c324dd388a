"""The newest generation's messages over HTTP, beside the 2023 ones on the same store."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest

from colonies_ha.client import function_spec
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.store.db import migrate
from tests.helpers import ColonyEnv
from tests.integration.test_pubsub import first, subscribers, until


async def refused(call, status: int, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ColoniesError) as info:
        await call
    assert info.value.status == status, info.value.message
    assert match in info.value.message, info.value.message


def colony_name(colony: ColonyEnv) -> str:
    return f"colony-{colony.colonyid[:8]}"  # as tests.helpers names it


async def test_names_and_ids_address_the_same_colony(colony: ColonyEnv) -> None:
    name = colony_name(colony)
    by_name = await colony.executor.submit(function_spec(name, colony.executortype))
    by_id = await colony.executor.submit(colony.spec())
    for process in (by_name, by_id):
        conditions = process["spec"]["conditions"]
        assert (conditions["colonyid"], conditions["colonyname"]) == (colony.colonyid, name)
        assert process["initiatorid"] == colony.executor.id
        assert process["initiatorname"].startswith("executor-")
    first = await colony.executor.assign(colony.colonyid, 5)  # 2023 assign
    second = await colony.executor.assign(name, 5)  # newest assign
    assert {first["processid"], second["processid"]} == {by_name["processid"], by_id["processid"]}
    waiting = await colony.executor.rpc("getprocessesmsg", colonyname=name, state=-1, count=10)
    assert len(waiting) == 2
    assert (await colony.executor.get_colony(name))["colonyid"] == colony.colonyid


async def test_newest_errors_are_clear_4xx(colony: ColonyEnv) -> None:
    name = colony_name(colony)
    executor = colony.executor
    await refused(executor.assign("no-such-colony", 1), 404, "'no-such-colony' does not exist")
    await refused(executor.rpc("getcolonymsg"), 400, "'colonyname'")
    spec = function_spec(name, colony.executortype)
    spec["conditions"]["executornames"] = ["nobody"]
    await refused(executor.submit(spec), 400, "names no executor of colony")
    await refused(executor.get_executor("ghost", name), 404, "no executor named 'ghost'")
    await refused(executor.approve_executor("ghost", name), 403, f"owner of colony '{name}'")
    await refused(executor.rpc("removeusermsg", colonyname=name, name="x"), 403, "owner")
    await refused(
        colony.owner.rpc("removeusermsg", colonyname=name, name="x"), 404, "no user named 'x'"
    )
    await refused(colony.owner.submit(spec), 403, "not an executor or user")


async def test_executornames_route_a_process(colony: ColonyEnv) -> None:
    name = colony_name(colony)
    other = await colony.new_executor(name="second")
    spec = function_spec(name, colony.executortype)
    spec["conditions"]["executornames"] = ["second"]
    submitted = await colony.executor.submit(spec)
    assert submitted["spec"]["conditions"]["executornames"] == ["second"]
    await refused(colony.executor.assign(name, 1), 404, "became available")
    assert (await other.assign(name, 5))["processid"] == submitted["processid"]


async def test_removals_by_state_and_graph_filter(colony: ColonyEnv) -> None:
    name = colony_name(colony)
    executor = colony.executor
    graph = await executor.submit_workflow(name, [function_spec(name, colony.executortype)])
    assert graph["colonyname"] == name and graph["initiatorid"] == executor.id
    await executor.submit(function_spec(name, colony.executortype))
    members = await executor.rpc(
        "getprocessesmsg",
        colonyname=name,
        state=-1,
        count=10,
        processgraphid=graph["processgraphid"],
    )
    assert [p["processgraphid"] for p in members] == [graph["processgraphid"]]
    await colony.owner.rpc("removeallprocessesmsg", colonyname=name, state=2)  # none successful
    assert len(await executor.rpc("getprocessesmsg", colonyname=name, state=0, count=10)) == 2
    await colony.owner.rpc("removeallprocessgraphsmsg", colonyname=name, state=-1)
    assert len(await executor.rpc("getprocessesmsg", colonyname=name, state=-1, count=10)) == 1
    await colony.owner.delete_all_processes(name)
    assert await executor.get_processes(name, 0) == []


async def test_subscribe_by_colony_name(colony: ColonyEnv) -> None:
    name = colony_name(colony)
    stream = colony.executor.subscribe_processes(colony.executortype, 0, 30, colony=name)
    streamed = asyncio.create_task(first(stream))
    await until(lambda: subscribers(colony.server.replica) == 1)
    submitted = await colony.executor.submit(function_spec(name, colony.executortype))
    got = await asyncio.wait_for(streamed, 10)
    assert got is not None and got["processid"] == submitted["processid"]


async def test_migration_names_the_colony_of_stored_specs(database_url: str) -> None:
    """A spec stored before 0006 (colony id only) gets conditions.colonyname."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("DELETE FROM schema_migrations WHERE version = 6")
        for statement in (
            "ALTER TABLE processgraphs DROP COLUMN initiatorid, DROP COLUMN initiatorname",
            "ALTER TABLE processes DROP COLUMN initiatorid, DROP COLUMN initiatorname",
            "DROP TABLE logs",
            "DROP TABLE users",
        ):
            await conn.execute(statement)  # type: ignore[arg-type]
        colonyid = id_of_private_key(generate_private_key())
        await conn.execute("INSERT INTO colonies VALUES (%s, 'old')", (colonyid,))
        await conn.execute(
            "INSERT INTO processes (processid, colonyid, executortype, prioritytime, spec)"
            " VALUES (%s, %s, 'w', 0, %s)",
            ("p" * 64, colonyid, json.dumps({"conditions": {"colonyid": colonyid}})),
        )
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=psycopg.rows.dict_row
    ) as conn:
        assert await migrate(conn) == [6]
        cur = await conn.execute("SELECT spec FROM processes")
        row = await cur.fetchone()
        assert row is not None and row["spec"]["conditions"]["colonyname"] == "old"


async def test_an_executor_registers_and_removes_only_its_own_functions(colony: ColonyEnv) -> None:
    """Upstream: another executor's function may be neither added nor removed (403), by the
    newest generation's executor name or the 2023 executor id alike."""
    name = colony_name(colony)
    owner_of_fun = await colony.new_executor(name="second")
    fun = {"colonyname": name, "funcname": "echo", "args": []}
    added = await owner_of_fun.rpc("addfunctionmsg", fun={**fun, "executorname": "second"})
    other = colony.executor
    await refused(
        other.rpc("addfunctionmsg", fun={**fun, "executorname": "second", "funcname": "x"}),
        403,
        "only register functions for itself",
    )
    await refused(
        other.rpc(
            "addfunctionmsg",
            fun={**fun, "colonyid": colony.colonyid, "executorid": owner_of_fun.id},
        ),
        403,
        "only register functions for itself",
    )
    await refused(
        other.rpc("removefunctionmsg", functionid=added["functionid"]), 403, "its own functions"
    )
    await owner_of_fun.rpc("removefunctionmsg", functionid=added["functionid"])
    assert await other.rpc("getfunctionsmsg", colonyname=name) == []
