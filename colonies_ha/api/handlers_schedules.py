"""Handlers for generators and crons, for both protocol generations (the newest names the
colony by `colonyname` and says remove* where 2023 said delete*)."""

from __future__ import annotations

from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.errors import NotFound
from colonies_ha.domain.schedule import validate_cron
from colonies_ha.domain.validation import (
    colony_ref,
    get_bool,
    get_count,
    get_int,
    get_str,
    is_current,
    require_id,
    require_object,
    require_str,
)
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.services import auth, schedules
from colonies_ha.services.context import Context


@rpc("addgeneratormsg")
async def add_generator(ctx: Context, req: Req) -> Any:
    raw = require_object(req.msg, "generator")
    colony = colony_ref(raw)
    generator = {
        "name": require_str(raw, "name"),
        "workflowspec": require_str(raw, "workflowspec"),
        "trigger": get_int(raw, "trigger", default=0, low=1),
    }
    async with ctx.db.connection() as conn:
        member = await auth.require_member_by_ref(conn, req.caller_id, colony)
        generator["colonyid"] = member.colonyid
        return await schedules.add_generator(conn, generator, member.colonyname)


@rpc("getgeneratormsg")
async def get_generator(ctx: Context, req: Req) -> Any:
    generatorid = require_id(req.msg, "generatorid")
    async with ctx.db.connection() as conn:
        row = await schedules.get_generator(conn, generatorid)
        member = await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
    return schedules.generator_json({**row, "colonyname": member.colonyname})


@rpc("resolvegeneratormsg")
async def resolve_generator(ctx: Context, req: Req) -> Any:
    """By name within the caller's own colony (names are unique per colony)."""
    name = require_str(req.msg, "generatorname")
    async with ctx.db.connection() as conn:
        if is_current(req.msg):
            caller = await auth.require_membership(conn, req.caller_id, req.msg["colonyname"])
        else:
            caller = await auth.require_own_colony_member(
                conn, req.caller_id, get_str(req.msg, "colonyid")
            )
        return await schedules.resolve_generator(conn, caller.colonyid, name)


@rpc("getgeneratorsmsg")
async def get_generators(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    count = get_count(req.msg)
    async with ctx.db.connection() as conn:
        member = await auth.require_member_by_ref(conn, req.caller_id, colony)
        return await schedules.list_generators(conn, member.colonyid, count, member.colonyname)


@rpc("packgeneratormsg")
async def pack_generator(ctx: Context, req: Req) -> Any:
    generatorid = require_id(req.msg, "generatorid")
    arg = get_str(req.msg, "arg")
    async with ctx.db.connection() as conn:
        row = await schedules.get_generator(conn, generatorid)
        await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
        await schedules.pack(conn, generatorid, arg)
    return {}


@rpc("deletegeneratormsg")
@rpc("removegeneratormsg")
async def delete_generator(ctx: Context, req: Req) -> Any:
    generatorid = require_id(req.msg, "generatorid")
    async with ctx.db.connection() as conn:
        row = await schedules.get_generator(conn, generatorid)
        await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
        await schedules.delete_generator(conn, generatorid)
    return {}


@rpc("addcronmsg")
async def add_cron(ctx: Context, req: Req) -> Any:
    raw = require_object(req.msg, "cron")
    colony = colony_ref(raw)
    cron = {
        "name": require_str(raw, "name"),
        "cronexpression": get_str(raw, "cronexpression"),
        "interval": get_int(raw, "interval", default=0),
        "random": get_bool(raw, "random"),
        "workflowspec": require_str(raw, "workflowspec"),
        # pycolonies 1.0.24+ spell it without the final 'h'.
        "waitforprevprocessgraph": get_bool(raw, "waitforprevprocessgraph")
        or get_bool(raw, "waitforprevprocessgrap"),
    }
    validate_cron(cron["cronexpression"], cron["interval"])
    async with ctx.db.connection() as conn:
        member = await auth.require_member_by_ref(conn, req.caller_id, colony)
        cron["colonyid"] = member.colonyid
        return await schedules.add_cron(conn, cron, member.colonyname)


@rpc("getcronmsg")
async def get_cron(ctx: Context, req: Req) -> Any:
    cronid = require_id(req.msg, "cronid")
    async with ctx.db.connection() as conn:
        row = await schedules.get_cron(conn, cronid)
        member = await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
    return schedules.cron_json({**row, "colonyname": member.colonyname})


@rpc("getcronsmsg")
async def get_crons(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    count = get_count(req.msg)
    async with ctx.db.connection() as conn:
        member = await auth.require_member_by_ref(conn, req.caller_id, colony)
        return await schedules.list_crons(conn, member.colonyid, count, member.colonyname)


@rpc("runcronmsg")
async def run_cron(ctx: Context, req: Req) -> Any:
    cronid = require_id(req.msg, "cronid")
    async with ctx.db.transaction() as conn:
        row = await schedules.get_cron(conn, cronid)
        await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
        fired = await schedules.fire_cron(conn, cronid, due=None, manual=True)
    if fired is None:
        raise NotFound(f"cron {cronid} was deleted while it was being run")
    return fired


@rpc("deletecronmsg")
@rpc("removecronmsg")
async def delete_cron(ctx: Context, req: Req) -> Any:
    cronid = require_id(req.msg, "cronid")
    async with ctx.db.connection() as conn:
        row = await schedules.get_cron(conn, cronid)
        await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
        await schedules.delete_cron(conn, cronid)
    return {}
