"""Handlers for colonies, executors, functions, statistics and version."""

from __future__ import annotations

from typing import Any

from colonies_ha import __version__
from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.errors import BadRequest, Forbidden
from colonies_ha.domain.states import ExecutorState
from colonies_ha.domain.validation import (
    get_bool,
    get_list,
    get_str,
    optional_id,
    optional_object,
    require_id,
    require_object,
    require_str,
)
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.services import auth, colonies, processes
from colonies_ha.services.context import Context

BUILD_TIME = "2026-11-22T00:00:00Z"


@rpc("versionmsg")
async def version(ctx: Context, req: Req) -> Any:
    return {"buildversion": __version__, "buildtime": BUILD_TIME}


@rpc("addcolonymsg")
async def add_colony(ctx: Context, req: Req) -> Any:
    colony = require_object(req.msg, "colony")
    colonyid, name = require_id(colony, "colonyid"), require_str(colony, "name")
    auth.require_server_owner(req.caller_id, ctx.server_id)
    async with ctx.db.connection() as conn:
        return await colonies.add_colony(conn, colonyid, name)


@rpc("deletecolonymsg")
async def delete_colony(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    auth.require_server_owner(req.caller_id, ctx.server_id)
    async with ctx.db.connection() as conn:
        await colonies.delete_colony(conn, colonyid)
    return {}


@rpc("getcoloniesmsg")
async def get_colonies(ctx: Context, req: Req) -> Any:
    auth.require_server_owner(req.caller_id, ctx.server_id)
    async with ctx.db.connection() as conn:
        return await colonies.list_colonies(conn)


@rpc("getcolonymsg")
async def get_colony(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    async with ctx.db.connection() as conn:
        await auth.require_member(conn, req.caller_id, colonyid)
        return await colonies.get_colony(conn, colonyid)


@rpc("getcolonystatsmsg")
async def get_colony_stats(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    async with ctx.db.connection() as conn:
        await auth.require_member_or_owner(conn, req.caller_id, colonyid)
        return await processes.statistics(conn, colonyid)


@rpc("getstatisticsmsg")
async def get_statistics(ctx: Context, req: Req) -> Any:
    auth.require_server_owner(req.caller_id, ctx.server_id)
    async with ctx.db.connection() as conn:
        return await processes.statistics(conn, None)


@rpc("addexecutormsg")
async def add_executor(ctx: Context, req: Req) -> Any:
    raw = require_object(req.msg, "executor")
    location = optional_object(raw, "location")
    executor = {
        "executorid": require_id(raw, "executorid"),
        "colonyid": require_id(raw, "colonyid"),
        "executortype": require_str(raw, "executortype"),
        "executorname": require_str(raw, "executorname"),
        "requirefuncreg": get_bool(raw, "requirefuncreg"),
        "long": _float(location, "long"),
        "lat": _float(location, "lat"),
    }
    async with ctx.db.connection() as conn:
        await auth.require_colony_owner(conn, req.caller_id, executor["colonyid"])
        return await colonies.add_executor(conn, executor)


def _float(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key) or 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"the field 'location.{key}' must be a number")
    return float(value)


@rpc("getexecutorsmsg")
async def get_executors(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    async with ctx.db.connection() as conn:
        await auth.require_member_any_state_or_owner(conn, req.caller_id, colonyid)
        return await colonies.list_executors(conn, colonyid)


@rpc("getexecutormsg")
async def get_executor(ctx: Context, req: Req) -> Any:
    executorid = require_id(req.msg, "executorid")
    async with ctx.db.connection() as conn:
        executor = await colonies.executor_in_colony(conn, executorid)
        await auth.require_member_or_owner(conn, req.caller_id, executor["colonyid"])
        return colonies.executor_json(executor)


async def _change_executor(ctx: Context, req: Req, state: ExecutorState | None) -> Any:
    executorid = require_id(req.msg, "executorid")
    async with ctx.db.connection() as conn:
        executor = await colonies.executor_in_colony(conn, executorid)
        await auth.require_colony_owner(conn, req.caller_id, executor["colonyid"])
        if state is None:
            await colonies.delete_executor(conn, executorid)
        else:
            await colonies.set_executor_state(conn, executorid, state)
    return {}


@rpc("approveexecutormsg")
async def approve_executor(ctx: Context, req: Req) -> Any:
    return await _change_executor(ctx, req, ExecutorState.APPROVED)


@rpc("rejectexecutormsg")
async def reject_executor(ctx: Context, req: Req) -> Any:
    return await _change_executor(ctx, req, ExecutorState.REJECTED)


@rpc("deleteexecutormsg")
async def delete_executor(ctx: Context, req: Req) -> Any:
    return await _change_executor(ctx, req, None)


@rpc("addfunctionmsg")
async def add_function(ctx: Context, req: Req) -> Any:
    raw = require_object(req.msg, "fun")
    fun = {
        "executorid": require_id(raw, "executorid"),
        "colonyid": require_id(raw, "colonyid"),
        "funcname": require_str(raw, "funcname"),
        "desc": get_str(raw, "desc"),
        "args": get_list(raw, "args"),
    }
    async with ctx.db.connection() as conn:
        await auth.require_member(conn, req.caller_id, fun["colonyid"])
        return await colonies.add_function(conn, req.caller_id, fun)


@rpc("getfunctionsmsg")
async def get_functions(ctx: Context, req: Req) -> Any:
    executorid = optional_id(req.msg, "executorid")
    colonyid = optional_id(req.msg, "colonyid")
    async with ctx.db.connection() as conn:
        if executorid:
            colonyid = (await colonies.executor_in_colony(conn, executorid))["colonyid"]
        elif not colonyid:
            raise BadRequest("getfunctionsmsg needs an executorid or a colonyid")
        await auth.require_member(conn, req.caller_id, colonyid)
        return await colonies.list_functions(conn, executorid=executorid, colonyid=colonyid)


@rpc("deletefunctionmsg")
async def delete_function(ctx: Context, req: Req) -> Any:
    functionid = require_id(req.msg, "functionid")
    async with ctx.db.connection() as conn:
        function = await colonies.get_function(conn, functionid)
        await auth.require_member(conn, req.caller_id, function["colonyid"])
        if function["executorid"] != req.caller_id:
            raise Forbidden("an executor may only delete its own functions")
        await colonies.delete_function(conn, functionid)
    return {}
