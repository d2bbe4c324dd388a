"""Workflows: the paper's diamond, failure propagation, add_child and map-reduce."""

from __future__ import annotations

import asyncio
from typing import Any

from colonies_ha.client import ColoniesClient
from colonies_ha.domain.errors import ColoniesError
from tests.helpers import ColonyEnv
from tests.integration.test_colonies_executors import refused
from tests.integration.test_queue_semantics import wait_until


def diamond(colony: ColonyEnv) -> list[dict[str, Any]]:
    return [
        colony.spec("gen_nums", nodename="gen_nums", args=[2, 3], executortype="gen"),
        colony.spec(
            "square", nodename="square0", args=[0], executortype="square", dependencies=["gen_nums"]
        ),
        colony.spec(
            "square", nodename="square1", args=[1], executortype="square", dependencies=["gen_nums"]
        ),
        colony.spec("sum", nodename="sum", executortype="sum", dependencies=["square0", "square1"]),
    ]


def compute(process: dict[str, Any]) -> list[Any]:
    funcname = process["spec"]["funcname"]
    if funcname == "gen_nums":
        return process["spec"]["args"]
    if funcname == "square":
        return [process["in"][process["spec"]["args"][0]] ** 2]
    if funcname == "sum":
        return [sum(process["in"])]
    raise AssertionError(funcname)


async def run_executor(
    client: ColoniesClient, colonyid: str, jobs: int, fail: str = ""
) -> list[dict[str, Any]]:
    """Run `jobs` processes as an executor task: assign, compute, close."""
    seen = []
    for _ in range(jobs):
        process = await client.assign(colonyid, 10)
        seen.append(process)
        if process["spec"]["nodename"] == fail:
            await client.fail(process["processid"], ["deliberate"])
        else:
            await client.close(process["processid"], compute(process))
    return seen


async def test_diamond_workflow_computes_13(colony: ColonyEnv) -> None:
    gen, square, summer = [await colony.new_executor(t) for t in ("gen", "square", "sum")]
    graph = await colony.executor.submit_workflow(colony.colonyid, diamond(colony))
    assert len(graph["processids"]) == 4 and len(graph["rootprocessids"]) == 1
    assert graph["state"] == 0 and len(graph["nodes"]) == 4 and len(graph["edges"]) == 4
    tasks = [
        run_executor(gen, colony.colonyid, 1),
        run_executor(square, colony.colonyid, 2),
        run_executor(summer, colony.colonyid, 1),
    ]
    (root,), squares, (total,) = await asyncio.gather(*tasks)
    assert sorted(p["in"] for p in squares) == [[2, 3], [2, 3]]
    assert total["in"] == [4, 9]
    done = {p: await colony.executor.get_process(p) for p in graph["processids"]}
    assert done[total["processid"]]["out"] == [13]
    root_end = done[root["processid"]]["endtime"]
    for p in squares:
        assert done[p["processid"]]["starttime"] >= root_end
        assert done[total["processid"]]["starttime"] >= done[p["processid"]]["endtime"]
    final = await colony.executor.get_processgraph(graph["processgraphid"])
    assert final["state"] == 2 and final["endtime"] >= final["starttime"]
    assert {n["type"] for n in final["nodes"]} == {"input", "default", "output"}
    assert [
        g["processgraphid"] for g in await colony.executor.get_processgraphs(colony.colonyid, 2)
    ] == [graph["processgraphid"]]
    stats = await colony.owner.colony_stats(colony.colonyid)
    assert stats["successfulworkflows"] == 1 and stats["successfulprocesses"] == 4


async def test_failing_middle_node_fails_the_graph(colony: ColonyEnv) -> None:
    gen, square = await colony.new_executor("gen"), await colony.new_executor("square")
    graph = await colony.executor.submit_workflow(colony.colonyid, diamond(colony))
    await run_executor(gen, colony.colonyid, 1)
    first = await square.assign(colony.colonyid, 5)
    await square.fail(first["processid"], ["square failed"])
    final = await colony.executor.get_processgraph(graph["processgraphid"])
    assert final["state"] == 3
    states = [(await colony.executor.get_process(p))["state"] for p in graph["processids"]]
    assert sorted(states) == [2, 3, 3, 3]
    await refused(square.assign(colony.colonyid, 1), 404)


async def test_unknown_dependency_is_400_and_creates_nothing(colony: ColonyEnv) -> None:
    specs = [colony.spec(nodename="a"), colony.spec(nodename="b", dependencies=["nope"])]
    await refused(colony.executor.submit_workflow(colony.colonyid, specs), 400, "nope")
    assert await colony.executor.get_processes(colony.colonyid, 0) == []


async def test_workflow_members_are_forced_into_the_workflow_colony(colony: ColonyEnv) -> None:
    other = await colony.server.new_colony()
    spec = colony.spec(nodename="a")
    spec["conditions"]["colonyid"] = other.colonyid
    graph = await colony.executor.submit_workflow(colony.colonyid, [spec])
    member = await colony.executor.get_process(graph["processids"][0])
    assert member["spec"]["conditions"]["colonyid"] == colony.colonyid


async def test_delete_graphs(colony: ColonyEnv) -> None:
    g1 = await colony.executor.submit_workflow(colony.colonyid, [colony.spec(nodename="a")])
    await colony.executor.submit_workflow(colony.colonyid, [colony.spec(nodename="b")])
    await colony.executor.delete_processgraph(g1["processgraphid"])
    await refused(colony.executor.get_processgraph(g1["processgraphid"]), 404)
    await refused(colony.executor.delete_all_processgraphs(colony.colonyid), 403, "owner")
    await colony.owner.delete_all_processgraphs(colony.colonyid)
    assert await colony.owner.get_processgraphs(colony.colonyid, 0) == []
    assert await colony.owner.get_processes(colony.colonyid, 0) == []


async def test_add_child_without_insert_runs_after_the_parent(colony: ColonyEnv) -> None:
    graph = await colony.executor.submit_workflow(
        colony.colonyid,
        [
            colony.spec("parent", nodename="parent"),
            colony.spec("after", nodename="after", dependencies=["parent"]),
        ],
    )
    parent = await colony.executor.assign(colony.colonyid, 5)
    child = await colony.executor.add_child(
        graph["processgraphid"], parent["processid"], colony.spec("child", nodename="child")
    )
    assert child["waitforparents"] and child["parents"] == [parent["processid"]]
    await colony.executor.close(parent["processid"], ["p"])
    names = sorted(
        [(await colony.executor.assign(colony.colonyid, 5))["spec"]["nodename"] for _ in range(2)]
    )
    assert names == ["after", "child"]


async def test_add_child_with_insert_splices_before_the_children(colony: ColonyEnv) -> None:
    graph = await colony.executor.submit_workflow(
        colony.colonyid,
        [
            colony.spec("parent", nodename="parent"),
            colony.spec("after", nodename="after", dependencies=["parent"]),
        ],
    )
    parent = await colony.executor.assign(colony.colonyid, 5)
    child = await colony.executor.add_child(
        graph["processgraphid"],
        parent["processid"],
        colony.spec("mid", nodename="mid"),
        insert=True,
    )
    await colony.executor.close(parent["processid"], ["p"])
    mid = await colony.executor.assign(colony.colonyid, 5)
    assert mid["processid"] == child["processid"] and mid["in"] == ["p"]
    await refused(colony.executor.assign(colony.colonyid, 1), 404)  # "after" waits for mid
    await colony.executor.close(mid["processid"], ["m"])
    after = await colony.executor.assign(colony.colonyid, 5)
    assert after["spec"]["nodename"] == "after" and after["in"] == ["m"]
    assert after["parents"] == [child["processid"]]


async def test_only_the_parents_assignee_may_add_children(colony: ColonyEnv) -> None:
    other = await colony.new_executor()
    graph = await colony.executor.submit_workflow(colony.colonyid, [colony.spec(nodename="p")])
    pid = graph["processids"][0]
    await refused(colony.executor.add_child(graph["processgraphid"], pid, colony.spec()), 403)
    await colony.executor.assign(colony.colonyid, 5)
    await refused(other.add_child(graph["processgraphid"], pid, colony.spec()), 403)


async def test_map_reduce_fan_out_of_fifty_children(colony: ColonyEnv) -> None:
    graph = await colony.executor.submit_workflow(
        colony.colonyid,
        [
            colony.spec("map", nodename="map", args=[50]),
            colony.spec("reduce", nodename="reduce", dependencies=["map"]),
        ],
    )
    mapper = await colony.executor.assign(colony.colonyid, 5)
    reduce_id = next(p for p in graph["processids"] if p != mapper["processid"])
    for i in range(50):
        await colony.executor.add_child(
            graph["processgraphid"],
            mapper["processid"],
            colony.spec("work", nodename=f"work{i}", args=[i]),
            childprocessid=reduce_id,
            insert=True,
        )
    await colony.executor.close(mapper["processid"], [])
    workers = [await colony.new_executor() for _ in range(5)]

    async def work(client: ColoniesClient) -> None:
        while True:
            try:
                process = await client.assign(colony.colonyid, 1)
            except ColoniesError:
                return
            if process["spec"]["funcname"] == "reduce":
                await client.close(process["processid"], [sum(process["in"])])
            else:
                await client.close(process["processid"], [process["spec"]["args"][0]])

    await asyncio.gather(*(work(w) for w in workers))
    reduced = await colony.executor.get_process(reduce_id)
    assert reduced["state"] == 2 and reduced["out"] == [sum(range(50))]
    assert len(reduced["parents"]) == 50
    final = await colony.executor.get_processgraph(graph["processgraphid"])
    assert final["state"] == 2 and len(final["processids"]) == 52


async def test_a_requeued_member_puts_its_graph_back_to_waiting(colony: ColonyEnv) -> None:
    """Graph state follows its members on every change, the deadline requeue included."""
    specs = [colony.spec(nodename="only", maxexectime=1, maxretries=3)]
    graph = await colony.executor.submit_workflow(colony.colonyid, specs)
    graphid = graph["processgraphid"]
    process = await colony.executor.assign(colony.colonyid, 5)
    assert (await colony.executor.get_processgraph(graphid))["state"] == 1

    async def requeued() -> bool:
        return (await colony.executor.get_process(process["processid"]))["retries"] == 1

    await wait_until(requeued)
    assert (await colony.executor.get_processgraph(graphid))["state"] == 0
    again = await colony.executor.assign(colony.colonyid, 5)
    assert again["processid"] == process["processid"]
    await colony.executor.close(again["processid"], ["ok"])
    assert (await colony.executor.get_processgraph(graphid))["state"] == 2
