"""Workflows: submitting graphs, keeping their state, releasing and failing members."""

from __future__ import annotations

from typing import Any

from colonies_ha.domain.errors import BadRequest, Forbidden, NotFound
from colonies_ha.domain.graphs import layout, splice_child, wire_workflow
from colonies_ha.domain.processes import new_process
from colonies_ha.domain.specs import with_colony
from colonies_ha.domain.states import ProcessState
from colonies_ha.domain.timeutil import rfc3339
from colonies_ha.protocol.objects import process_json
from colonies_ha.services.submission import insert_new_processes
from colonies_ha.store import repo
from colonies_ha.store.db import Conn

Json = dict[str, Any]
PARENT_FAILED = "a process this workflow depends on failed"


async def submit_workflow(
    conn: Conn,
    colonyid: str,
    specs: list[Json],
    *,
    root_args: list[Any] | None = None,
    root_input: list[Any] | None = None,
    initiator: tuple[str, str] = ("", ""),
) -> Json:
    """Create a graph and all its processes; call inside a transaction.  The specs carry
    their colony by id and name (`with_colony`); `initiator` is (id, name) of who asked."""
    graphid, processes = wire_workflow(
        specs, root_args=root_args, root_input=root_input, initiator=initiator
    )
    roots = [p["processid"] for p in processes if not p["parents"]]
    graph = await repo.one(
        conn,
        "insert_processgraph",
        {
            "processgraphid": graphid,
            "colonyid": colonyid,
            "rootprocessids": roots,
            "submissiontime": processes[0]["submissiontime"],
            "initiatorid": initiator[0],
            "initiatorname": initiator[1],
        },
    )
    assert graph is not None
    await insert_new_processes(conn, processes)
    colonyname = specs[0]["conditions"].get("colonyname", "")
    return processgraph_json({**graph, "colonyname": colonyname}, processes)


def processgraph_json(graph: Json, members: list[Json]) -> Json:
    members = [m if "nodename" in m else {**m, "nodename": m["spec"]["nodename"]} for m in members]
    nodes, edges = layout(members)
    return {
        "processgraphid": graph["processgraphid"],
        "initiatorid": graph.get("initiatorid", ""),
        "initiatorname": graph.get("initiatorname", ""),
        "colonyid": graph["colonyid"],
        "colonyname": graph.get("colonyname", ""),
        "rootprocessids": list(graph["rootprocessids"]),
        "state": graph["state"],
        "submissiontime": rfc3339(graph["submissiontime"]),
        "starttime": rfc3339(graph["starttime"]),
        "endtime": rfc3339(graph["endtime"]),
        "processids": [m["processid"] for m in members],
        "nodes": nodes,
        "edges": edges,
    }


async def get_graph_row(conn: Conn, graphid: str, *, lock: bool = False) -> Json:
    row = await repo.one(
        conn, "lock_processgraph" if lock else "get_processgraph", {"processgraphid": graphid}
    )
    if row is None:
        raise NotFound(f"process graph {graphid} does not exist")
    return row


async def graphs_json(conn: Conn, graphs: list[Json]) -> list[Json]:
    """Graphs with their members, read in one query."""
    ids = [g["processgraphid"] for g in graphs]
    members: dict[str, list[Json]] = {i: [] for i in ids}
    for member in await repo.all_rows(conn, "graph_members", {"graphids": ids}):
        members[member["processgraphid"]].append(member)
    return [processgraph_json(g, members[g["processgraphid"]]) for g in graphs]


async def list_graphs(conn: Conn, colonyid: str, state: int, count: int) -> list[Json]:
    rows = await repo.all_rows(
        conn, "list_processgraphs", {"colonyid": colonyid, "state": state, "count": count}
    )
    return await graphs_json(conn, rows)


async def delete_graph(conn: Conn, graphid: str) -> None:
    async with conn.transaction():
        await get_graph_row(conn, graphid, lock=True)
        await repo.run(conn, "delete_processgraph", {"processgraphid": graphid})


async def delete_all_graphs(conn: Conn, colonyid: str, state: int = -1) -> None:
    """Every graph of the colony (with its processes), or (state >= 0) those in one state."""
    await repo.run(conn, "delete_all_processgraphs", {"colonyid": colonyid, "state": state})


async def lock_graph_of(conn: Conn, processid: str) -> str:
    """Take the graph lock (if the process is in a graph) before touching the process."""
    row = await repo.one(conn, "process_graph_of", {"processid": processid})
    graphid = row["processgraphid"] if row else ""
    if graphid:
        await repo.one(conn, "lock_processgraph", {"processgraphid": graphid})
    return graphid


async def after_member_finished(conn: Conn, graphid: str, member: Json) -> list[Json]:
    """Release children after a success, fail the rest after a failure; refresh the state.

    Runs under the graph lock; returns the other processes it changed.
    """
    if member["state"] == ProcessState.SUCCESSFUL:
        changed = await repo.all_rows(
            conn, "release_children", {"children": list(member["children"])}
        )
    else:
        changed = await repo.all_rows(
            conn, "fail_rest_of_graph", {"processgraphid": graphid, "message": PARENT_FAILED}
        )
    await refresh_state(conn, graphid)
    return changed


async def refresh_state(conn: Conn, graphid: str) -> None:
    await repo.one(conn, "refresh_graph_state", {"processgraphid": graphid})


async def refresh_state_after(conn: Conn, graphid: str) -> None:
    """After an assign or a deadline requeue committed: a short transaction of its own,
    graph lock first, so the graph's state follows its members (RUNNING, or back to
    WAITING)."""
    async with conn.transaction():
        await repo.one(conn, "lock_processgraph", {"processgraphid": graphid})
        await refresh_state(conn, graphid)


async def add_child(
    conn: Conn,
    caller_id: str,
    graphid: str,
    parentid: str,
    spec: Json,
    *,
    insert: bool,
    before: str,
) -> Json:
    """The parent's assignee adds a process under (insert=False) or below (True) the parent."""
    async with conn.transaction():
        graph = await get_graph_row(conn, graphid, lock=True)
        parent = await repo.get_process(conn, parentid)
        if parent is None or parent["processgraphid"] != graphid:
            raise NotFound(f"process {parentid} is not a member of process graph {graphid}")
        if parent["state"] != ProcessState.RUNNING or parent["assignedexecutorid"] != caller_id:
            raise Forbidden(f"only the executor running process {parentid} may add children to it")
        colony = await repo.get_colony(conn, graph["colonyid"])
        spec = with_colony(spec, graph["colonyid"], colony["name"] if colony else "")
        child = new_process(
            spec,
            graphid=graphid,
            waitforparents=True,
            parents=[parentid],
            initiator=(caller_id, parent["initiatorname"]),
        )
        members = {}
        for member_id in [before] if before else parent["children"]:
            member = await repo.get_process(conn, member_id)
            if member is not None:
                members[member_id] = member
        if before:
            _check_insert_target(members.get(before), before, graphid)
        child["children"], changes = splice_child(
            parent, child["processid"], members, insert=insert, before=before
        )
        await insert_new_processes(conn, [child])
        for processid, (parents, children) in changes.items():
            await repo.run(
                conn,
                "set_relatives",
                {"processid": processid, "parents": parents, "children": children},
            )
    return process_json(child)


def _check_insert_target(target: Json | None, targetid: str, graphid: str) -> None:
    """The new child goes before `target`, which must still wait: an ancestor of the running
    parent has finished, so this also rules out cycles."""
    if target is None or target["processgraphid"] != graphid:
        raise BadRequest(f"process {targetid} is not a member of process graph {graphid}")
    if target["state"] != ProcessState.WAITING:
        raise BadRequest(f"process {targetid} has already started; nothing can go before it")
