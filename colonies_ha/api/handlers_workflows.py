"""Handlers for workflows (process graphs) and add_child."""

from __future__ import annotations

from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.specs import parse_function_spec, parse_workflow_spec, with_colony
from colonies_ha.domain.validation import (
    ColonyRef,
    colony_ref,
    get_any_state,
    get_bool,
    get_count,
    get_state,
    optional_id,
    require_id,
)
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.services import auth, workflows
from colonies_ha.services.context import Context


@rpc("submitworkflowspecmsg")
async def submit_workflow(ctx: Context, req: Req) -> Any:
    colony, specs = parse_workflow_spec(req.msg)
    async with ctx.db.transaction() as conn:
        member = await auth.require_member_by_ref(conn, req.caller_id, colony)
        specs = [with_colony(s, member.colonyid, member.colonyname) for s in specs]
        initiator = (member.executorid, member.executorname)
        return await workflows.submit_workflow(conn, member.colonyid, specs, initiator=initiator)


@rpc("getprocessgraphmsg")
async def get_processgraph(ctx: Context, req: Req) -> Any:
    graphid = require_id(req.msg, "processgraphid")
    async with ctx.db.connection() as conn:
        graph = await workflows.get_graph_row(conn, graphid)
        await auth.require_member_by_id(conn, req.caller_id, graph["colonyid"])
        (reply,) = await workflows.graphs_json(conn, [graph])
        return reply


@rpc("getprocessgraphsmsg")
async def get_processgraphs(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    count = get_count(req.msg)
    state = get_any_state(req.msg) if colony.current else get_state(req.msg)
    async with ctx.db.connection() as conn:
        colonyid = await auth.require_reader_by_ref(conn, req.caller_id, colony)
        return await workflows.list_graphs(conn, colonyid, state, count)


@rpc("deleteprocessgraphmsg")
@rpc("removeprocessgraphmsg")
async def delete_processgraph(ctx: Context, req: Req) -> Any:
    graphid = require_id(req.msg, "processgraphid")
    async with ctx.db.connection() as conn:
        graph = await workflows.get_graph_row(conn, graphid)
        await auth.require_member_by_id(conn, req.caller_id, graph["colonyid"])
        await workflows.delete_graph(conn, graphid)
    return {}


@rpc("deleteallprocessgraphsmsg")
@rpc("removeallprocessgraphsmsg")
async def delete_all_processgraphs(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    state = get_any_state(req.msg) if colony.current else -1
    async with ctx.db.connection() as conn:
        row = await auth.require_owner_by_ref(conn, req.caller_id, colony)
        await workflows.delete_all_graphs(conn, row["colonyid"], state)
    return {}


@rpc("addchildmsg")
async def add_child(ctx: Context, req: Req) -> Any:
    graphid = require_id(req.msg, "processgraphid")
    parentid = require_id(req.msg, "parentprocessid")
    before = optional_id(req.msg, "childprocessid")
    insert = get_bool(req.msg, "insert")
    async with ctx.db.connection() as conn:
        graph = await workflows.get_graph_row(conn, graphid)
        await auth.require_member_by_id(conn, req.caller_id, graph["colonyid"])
        colony = ColonyRef(graph["colonyid"], graph["colonyname"])
        spec = parse_function_spec(req.msg.get("spec"), colony=colony)
        return await workflows.add_child(
            conn, req.caller_id, graphid, parentid, spec, insert=insert, before=before
        )
