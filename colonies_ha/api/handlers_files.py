"""Handlers for Colonies FS file metadata and snapshots: members of the colony only."""

from __future__ import annotations

from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.validation import get_bool, get_str, require_str
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.services import auth, files
from colonies_ha.services.context import Context


@rpc("addfilemsg")
async def add_file(ctx: Context, req: Req) -> Any:
    file = files.require_file(req.msg)
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, file["colonyname"])
        return await files.add_file(conn, caller.colonyid, file)


@rpc("getfilemsg")
async def get_file(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        return await files.get_file(conn, caller.colonyid, caller.colonyname, req.msg)


@rpc("getfilesmsg")
async def get_files(ctx: Context, req: Req) -> Any:
    colonyname, label = require_str(req.msg, "colonyname"), get_str(req.msg, "label")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        return await files.list_label(conn, caller.colonyid, label)


@rpc("getfilelabelsmsg")
async def get_file_labels(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    name, exact = get_str(req.msg, "name"), get_bool(req.msg, "exact")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        return await files.labels(conn, caller.colonyid, name, exact)


@rpc("removefilemsg")
async def remove_file(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        await files.remove_file(conn, caller.colonyid, req.msg)
    return {}


@rpc("createsnapshotmsg")
async def create_snapshot(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    label, name = get_str(req.msg, "label"), require_str(req.msg, "name")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        return await files.create_snapshot(conn, caller.colonyid, caller.colonyname, label, name)


@rpc("getsnapshotmsg")
async def get_snapshot(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        return await files.get_snapshot(conn, caller.colonyid, caller.colonyname, req.msg)


@rpc("getsnapshotsmsg")
async def get_snapshots(ctx: Context, req: Req) -> Any:
    colonyname = require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        return await files.list_snapshots(conn, caller.colonyid, caller.colonyname)


@rpc("removesnapshotmsg")
async def remove_snapshot(ctx: Context, req: Req) -> Any:
    """Not sent by pycolonies 1.0.25; the upstream CLI of today sends it."""
    colonyname = require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        await files.remove_snapshot(conn, caller.colonyid, req.msg)
    return {}


@rpc("removeallsnapshotmsg")
async def remove_all_snapshots(ctx: Context, req: Req) -> Any:
    """Upstream's name for it (no plural 's'); the upstream CLI sends it."""
    colonyname = require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        await files.remove_all_snapshots(conn, caller.colonyid)
    return {}
