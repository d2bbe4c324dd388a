"""Handlers for workflows (process graphs) and add_child."""

from __future__ import annotations

from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.specs import parse_function_spec, parse_workflow_spec
from colonies_ha.domain.validation import (
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
    colonyid, specs = parse_workflow_spec(req.msg)
    async with ctx.db.transaction() as conn:
        await auth.require_member(conn, req.caller_id, colonyid)
        return await workflows.submit_workflow(conn, colonyid, specs)


@rpc("getprocessgraphmsg")
async def get_processgraph(ctx: Context, req: Req) -> Any:
    graphid = require_id(req.msg, "processgraphid")
    async with ctx.db.connection() as conn:
        graph = await workflows.get_graph_row(conn, graphid)
        await auth.require_member(conn, req.caller_id, graph["colonyid"])
        (reply,) = await workflows.graphs_json(conn, [graph])
        return reply


@rpc("getprocessgraphsmsg")
async def get_processgraphs(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    count, state = get_count(req.msg), get_state(req.msg)
    async with ctx.db.connection() as conn:
        await auth.require_member_or_owner(conn, req.caller_id, colonyid)
        return await workflows.list_graphs(conn, colonyid, state, count)


@rpc("deleteprocessgraphmsg")
async def delete_processgraph(ctx: Context, req: Req) -> Any:
    graphid = require_id(req.msg, "processgraphid")
    async with ctx.db.connection() as conn:
        graph = await workflows.get_graph_row(conn, graphid)
        await auth.require_member(conn, req.caller_id, graph["colonyid"])
        await workflows.delete_graph(conn, graphid)
    return {}


@rpc("deleteallprocessgraphsmsg")
async def delete_all_processgraphs(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    async with ctx.db.connection() as conn:
        await auth.require_colony_owner(conn, req.caller_id, colonyid)
        await workflows.delete_all_graphs(conn, colonyid)
    return {}


@rpc("addchildmsg")
async def add_child(ctx: Context, req: Req) -> Any:
    graphid = require_id(req.msg, "processgraphid")
    parentid = require_id(req.msg, "parentprocessid")
    before = optional_id(req.msg, "childprocessid")
    insert = get_bool(req.msg, "insert")
    async with ctx.db.connection() as conn:
        graph = await workflows.get_graph_row(conn, graphid)
        await auth.require_member(conn, req.caller_id, graph["colonyid"])
        spec = parse_function_spec(req.msg.get("spec"), colony_id=graph["colonyid"])
        return await workflows.add_child(
            conn, req.caller_id, graphid, parentid, spec, insert=insert, before=before
        )
