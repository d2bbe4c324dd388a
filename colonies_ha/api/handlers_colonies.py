"""Handlers for colonies, executors, users, functions, statistics and version.

Both protocol generations: a message that names its colony by `colonyname` (and its
executor by `executorname`) is the newest generation's and gets its role rules; one that
uses `colonyid`/`executorid` keeps the 2023 rules.  See docs/protocol-current.md.
"""

from __future__ import annotations

from typing import Any

from colonies_ha import __version__
from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.states import ExecutorState
from colonies_ha.domain.validation import (
    colony_ref,
    get_bool,
    get_list,
    get_str,
    is_current,
    optional_id,
    optional_object,
    require_id,
    require_object,
    require_str,
)
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.services import auth, colonies, processes, workflows
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
@rpc("removecolonymsg")
async def delete_colony(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    auth.require_server_owner(req.caller_id, ctx.server_id)
    async with ctx.db.connection() as conn:
        colonyid = (
            colony.colonyid or (await auth.colony_by_name(conn, colony.colonyname))["colonyid"]
        )
        await colonies.delete_colony(conn, colonyid)
    ctx.members.forget_all()
    return {}


@rpc("getcoloniesmsg")
async def get_colonies(ctx: Context, req: Req) -> Any:
    auth.require_server_owner(req.caller_id, ctx.server_id)
    async with ctx.db.connection() as conn:
        return await colonies.list_colonies(conn)


@rpc("getcolonymsg")
async def get_colony(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    async with ctx.db.connection() as conn:
        member = await auth.require_member_by_ref(conn, req.caller_id, colony)
        return await colonies.get_colony(conn, member.colonyid)


@rpc("getcolonystatsmsg")
async def get_colony_stats(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    async with ctx.db.connection() as conn:
        colonyid = await auth.require_reader_by_ref(conn, req.caller_id, colony)
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
    colony = colony_ref(raw)
    executor = {
        "executorid": require_id(raw, "executorid"),
        "executortype": require_str(raw, "executortype"),
        "executorname": require_str(raw, "executorname"),
        "requirefuncreg": get_bool(raw, "requirefuncreg"),
        "long": _float(location, "long"),
        "lat": _float(location, "lat"),
    }
    async with ctx.db.connection() as conn:
        row = await auth.require_owner_by_ref(conn, req.caller_id, colony)
        executor["colonyid"] = row["colonyid"]
        return await colonies.add_executor(conn, executor, row["name"])


def _float(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key) or 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"the field 'location.{key}' must be a number")
    return float(value)


@rpc("getexecutorsmsg")
async def get_executors(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    async with ctx.db.connection() as conn:
        colonyid = await auth.require_reader_by_ref(conn, req.caller_id, colony, any_state=True)
        return await colonies.list_executors(conn, colonyid)


@rpc("getexecutormsg")
async def get_executor(ctx: Context, req: Req) -> Any:
    async with ctx.db.connection() as conn:
        if is_current(req.msg, "executorname"):
            colonyname, name = require_str(req.msg, "colonyname"), req.msg["executorname"]
            member = await auth.require_membership(conn, req.caller_id, colonyname)
            executor = await colonies.executor_by_name(conn, member.colonyid, name)
        else:
            executorid = require_id(req.msg, "executorid")
            executor = await colonies.executor_in_colony(conn, executorid)
            await auth.require_member_or_owner(conn, req.caller_id, executor["colonyid"])
        return colonies.executor_json(executor)


async def _change_executor(ctx: Context, req: Req, state: ExecutorState | None) -> Any:
    """2023: by `executorid`; newest: by `colonyname` + `executorname`.  Colony owner."""
    async with ctx.db.connection() as conn:
        if is_current(req.msg, "executorname"):
            colonyname, name = require_str(req.msg, "colonyname"), req.msg["executorname"]
            colony = await auth.require_colony_owner_by_name(conn, req.caller_id, colonyname)
            executorid = (await colonies.executor_by_name(conn, colony["colonyid"], name))[
                "executorid"
            ]
        else:
            executorid = require_id(req.msg, "executorid")
            executor = await colonies.executor_in_colony(conn, executorid)
            await auth.require_colony_owner(conn, req.caller_id, executor["colonyid"])
        graphids: list[str] = []
        async with conn.transaction():
            if state != ExecutorState.APPROVED:  # an approval takes nothing away
                await colonies.membership_changes(conn)
                graphids = await processes.release_runs_of(conn, executorid)
            if state is None:
                await colonies.delete_executor(conn, executorid)
            else:
                await colonies.set_executor_state(conn, executorid, state)
        if state != ExecutorState.APPROVED:
            ctx.members.forget_all()  # this replica's next request already sees the change
        for graphid in graphids:
            await workflows.refresh_state_after(conn, graphid)
    return {}


@rpc("approveexecutormsg")
async def approve_executor(ctx: Context, req: Req) -> Any:
    return await _change_executor(ctx, req, ExecutorState.APPROVED)


@rpc("rejectexecutormsg")
async def reject_executor(ctx: Context, req: Req) -> Any:
    return await _change_executor(ctx, req, ExecutorState.REJECTED)


@rpc("deleteexecutormsg")
@rpc("removeexecutormsg")
async def delete_executor(ctx: Context, req: Req) -> Any:
    return await _change_executor(ctx, req, None)


@rpc("addfunctionmsg")
async def add_function(ctx: Context, req: Req) -> Any:
    raw = require_object(req.msg, "fun")
    colony = colony_ref(raw)
    fun = {
        "funcname": require_str(raw, "funcname"),
        "desc": get_str(raw, "desc") or get_str(raw, "description"),
        "args": get_list(raw, "args"),
    }
    async with ctx.db.connection() as conn:
        member = await auth.require_member_by_ref(conn, req.caller_id, colony)
        if name := get_str(raw, "executorname"):
            executor = await colonies.executor_by_name(conn, member.colonyid, name)
            fun["executorid"] = executor["executorid"]
        else:
            fun["executorid"] = require_id(raw, "executorid")
        auth.require_own_function(req.caller_id, fun["executorid"], "register")
        fun["colonyid"] = member.colonyid
        return await colonies.add_function(conn, req.caller_id, fun)


@rpc("getfunctionsmsg")
async def get_functions(ctx: Context, req: Req) -> Any:
    async with ctx.db.connection() as conn:
        if is_current(req.msg):
            member = await auth.require_membership(conn, req.caller_id, req.msg["colonyname"])
            colonyid, executorid = member.colonyid, ""
            if name := get_str(req.msg, "executorname"):
                executorid = (await colonies.executor_by_name(conn, colonyid, name))["executorid"]
            return await colonies.list_functions(conn, executorid=executorid, colonyid=colonyid)
        executorid = optional_id(req.msg, "executorid")
        colonyid = optional_id(req.msg, "colonyid")
        if executorid:
            colonyid = (await colonies.executor_in_colony(conn, executorid))["colonyid"]
        elif not colonyid:
            raise BadRequest("getfunctionsmsg needs a colonyname, an executorid or a colonyid")
        await auth.require_member(conn, req.caller_id, colonyid)
        return await colonies.list_functions(conn, executorid=executorid, colonyid=colonyid)


@rpc("deletefunctionmsg")
@rpc("removefunctionmsg")
async def delete_function(ctx: Context, req: Req) -> Any:
    functionid = require_id(req.msg, "functionid")
    async with ctx.db.connection() as conn:
        function = await colonies.get_function(conn, functionid)
        await auth.require_member_by_id(conn, req.caller_id, function["colonyid"])
        auth.require_own_function(req.caller_id, function["executorid"], "delete")
        await colonies.delete_function(conn, functionid)
    return {}


# -- users of a colony (newest generation) ------------------------------------------------


@rpc("addusermsg")
async def add_user(ctx: Context, req: Req) -> Any:
    raw = require_object(req.msg, "user")
    colonyname = require_str(raw, "colonyname")
    user = {
        "userid": require_id(raw, "userid"),
        "name": require_str(raw, "name"),
        "email": get_str(raw, "email"),
        "phone": get_str(raw, "phone"),
    }
    async with ctx.db.connection() as conn:
        colony = await auth.require_colony_owner_by_name(conn, req.caller_id, colonyname)
        return await colonies.add_user(conn, {**user, "colonyid": colony["colonyid"]}, colonyname)


@rpc("getusersmsg")
async def get_users(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        colonyid = await auth.require_users_reader(conn, req.caller_id, colonyname)
        return await colonies.list_users(conn, colonyid, colonyname)


@rpc("getusermsg")
@rpc("getuserbyidmsg")
async def get_user(ctx: Context, req: Req) -> Any:
    """By `name` (getusermsg) or by `userid` (getuserbyidmsg)."""
    colonyname = require_str(req.msg, "colonyname")
    name = get_str(req.msg, "name")
    userid = "" if name else require_id(req.msg, "userid")
    async with ctx.db.connection() as conn:
        colonyid = await auth.require_users_reader(conn, req.caller_id, colonyname)
        return await colonies.get_user(conn, colonyid, colonyname, name=name, userid=userid)


@rpc("removeusermsg")
async def remove_user(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    name = require_str(req.msg, "name")
    async with ctx.db.connection() as conn:
        colony = await auth.require_colony_owner_by_name(conn, req.caller_id, colonyname)
        await colonies.remove_user(conn, colony["colonyid"], colonyname, name)
    ctx.members.forget_all()
    return {}
