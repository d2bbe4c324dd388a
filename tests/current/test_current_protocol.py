"""The newest generation's messages over HTTP, beside the 2023 ones on the same store."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest

from colonies_ha.client import function_spec
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from colonies_ha.store.db import migrate
from tests.helpers import ColonyEnv
from tests.integration.test_pubsub import first, subscribers, until
from tests.integration.test_schedules import one_node_workflow
from tests.pycolonies_sdk import load_current_sdk


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


def newest_sdk_side(port: int, name: str, key: str, graphid: str) -> dict[str, Any]:
    """pycolonies 1.0.25 reads what the 2023 generation made, then makes its own."""
    sdk = load_current_sdk()
    client = sdk.Colonies("127.0.0.1", port)
    out: dict[str, Any] = {
        "crons": [c["name"] for c in client.get_crons(name, 10, key)],
        "generators": [g["name"] for g in client.get_generators(name, key)],
        "graphs": [g["processgraphid"] for g in client.get_processgraphs(name, 10, key)],
        "graph": client.get_processgraph(graphid, key),  # pydantic ProcessGraph
    }
    spec = sdk.FuncSpec(
        funcname="new", conditions=sdk.Conditions(colonyname=name, executortype="w")
    )
    workflow = sdk.Workflow(colonyname=name, functionspecs=[spec])
    out["new_graph"] = client.submit_workflow(workflow, key).processgraphid
    client.add_cron("new-cron", "0 0 3 * * *", False, workflow, name, key)
    wf = json.dumps(workflow.model_dump(by_alias=True))
    client.add_generator(
        {"colonyname": name, "name": "new-gen", "trigger": 3, "workflowspec": wf}, key
    )
    return out


async def test_workflows_crons_and_generators_cross_generations(colony: ColonyEnv) -> None:
    """Made by colony id (2023) and listed by colony name (1.0.25, replies parsed by its
    pydantic models), and the reverse, on one store."""
    name = colony_name(colony)
    old = colony.executor
    graph = await old.submit_workflow(colony.colonyid, [colony.spec("old", nodename="old")])
    await old.add_cron(colony.colonyid, "old-cron", one_node_workflow(colony), interval=3600)
    await old.add_generator(colony.colonyid, "old-gen", one_node_workflow(colony), 5)
    port, key = colony.server.replica.port, old.prvkey
    assert key is not None
    out = await asyncio.to_thread(newest_sdk_side, port, name, key, graph["processgraphid"])
    assert out["crons"] == ["old-cron"] and out["generators"] == ["old-gen"]
    assert out["graphs"] == [graph["processgraphid"]]
    assert out["graph"].processgraphid == graph["processgraphid"]
    assert out["graph"].colonyname == name

    assert sorted(c["name"] for c in await old.get_crons(colony.colonyid)) == [
        "new-cron",
        "old-cron",
    ]
    assert sorted(g["name"] for g in await old.get_generators(colony.colonyid)) == [
        "new-gen",
        "old-gen",
    ]
    graphs = await old.get_processgraphs(colony.colonyid, 0)
    assert {g["processgraphid"] for g in graphs} == {graph["processgraphid"], out["new_graph"]}
    assert all(g["colonyid"] == colony.colonyid for g in graphs)
