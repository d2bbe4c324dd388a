"""Handlers for Colonies FS file metadata and snapshots: members of the colony only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.validation import get_bool, get_str, require_str
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.services import auth, files
from colonies_ha.services.context import Context
from colonies_ha.store.db import Conn


@contextlib.asynccontextmanager
async def _as_member(
    ctx: Context, req: Req, colonyname: str = ""
) -> AsyncIterator[tuple[Conn, auth.Caller]]:
    """A connection, once the caller proved a member of the colony (the message's
    `colonyname` unless given)."""
    colonyname = colonyname or require_str(req.msg, "colonyname")
    async with ctx.db.connection() as conn:
        yield conn, await auth.require_member_caller(conn, req.caller_id, colonyname)


@rpc("addfilemsg")
async def add_file(ctx: Context, req: Req) -> Any:
    file = files.require_file(req.msg)
    async with _as_member(ctx, req, file["colonyname"]) as (conn, caller):
        return await files.add_file(conn, caller.colonyid, file)


@rpc("getfilemsg")
async def get_file(ctx: Context, req: Req) -> Any:
    async with _as_member(ctx, req) as (conn, caller):
        return await files.get_file(conn, caller.colonyid, caller.colonyname, req.msg)


@rpc("getfilesmsg")
async def get_files(ctx: Context, req: Req) -> Any:
    label = get_str(req.msg, "label")
    async with _as_member(ctx, req) as (conn, caller):
        return await files.list_label(conn, caller.colonyid, label)


@rpc("getfilelabelsmsg")
async def get_file_labels(ctx: Context, req: Req) -> Any:
    name, exact = get_str(req.msg, "name"), get_bool(req.msg, "exact")
    async with _as_member(ctx, req) as (conn, caller):
        return await files.labels(conn, caller.colonyid, name, exact)


@rpc("removefilemsg")
async def remove_file(ctx: Context, req: Req) -> Any:
    async with _as_member(ctx, req) as (conn, caller):
        await files.remove_file(conn, caller.colonyid, req.msg)
    return {}


@rpc("createsnapshotmsg")
async def create_snapshot(ctx: Context, req: Req) -> Any:
    label, name = get_str(req.msg, "label"), require_str(req.msg, "name")
    async with _as_member(ctx, req) as (conn, caller):
        return await files.create_snapshot(conn, caller.colonyid, caller.colonyname, label, name)


@rpc("getsnapshotmsg")
async def get_snapshot(ctx: Context, req: Req) -> Any:
    async with _as_member(ctx, req) as (conn, caller):
        return await files.get_snapshot(conn, caller.colonyid, caller.colonyname, req.msg)


@rpc("getsnapshotsmsg")
async def get_snapshots(ctx: Context, req: Req) -> Any:
    async with _as_member(ctx, req) as (conn, caller):
        return await files.list_snapshots(conn, caller.colonyid, caller.colonyname)


@rpc("removesnapshotmsg")
async def remove_snapshot(ctx: Context, req: Req) -> Any:
    """Not sent by pycolonies 1.0.25; the upstream CLI of today sends it."""
    async with _as_member(ctx, req) as (conn, caller):
        await files.remove_snapshot(conn, caller.colonyid, req.msg)
    return {}


@rpc("removeallsnapshotmsg")
async def remove_all_snapshots(ctx: Context, req: Req) -> Any:
    """Upstream's name for it (no plural 's'); the upstream CLI sends it."""
    async with _as_member(ctx, req) as (conn, caller):
        await files.remove_all_snapshots(conn, caller.colonyid)
    return {}
