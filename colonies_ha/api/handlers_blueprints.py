"""Handlers for blueprint definitions and blueprints (newest generation, by colony name).

Upstream calls the colony `namespace` in some of these messages and `colonyname` in
others; each handler reads the key its message carries.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain import blueprints as bp
from colonies_ha.domain.timeutil import rfc3339, utcnow
from colonies_ha.domain.validation import (
    get_bool,
    get_int,
    get_str,
    optional_object,
    require_object,
    require_str,
)
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.protocol.objects import process_json
from colonies_ha.services import auth, blueprints
from colonies_ha.services.context import Context
from colonies_ha.store.db import Conn


@contextlib.asynccontextmanager
async def _in_colony(ctx: Context, req: Req, key: str) -> AsyncIterator[tuple[Conn, auth.Caller]]:
    """A connection, once the caller proved a member or the owner of the colony named by
    the message's `key` (upstream says `namespace` in some messages, `colonyname` in
    others)."""
    colonyname = require_str(req.msg, key)
    async with ctx.db.connection() as conn:
        yield conn, await auth.require_membership_or_colony_owner(conn, req.caller_id, colonyname)


@rpc("addblueprintdefinitionmsg")
async def add_definition(ctx: Context, req: Req) -> Any:
    definition = bp.parse_definition(
        require_object(req.msg, "blueprintdefinition"), now=rfc3339(utcnow())
    )
    async with ctx.db.connection() as conn:
        colony = await auth.require_colony_owner_by_name(
            conn, req.caller_id, definition["metadata"]["colonyname"]
        )
        return await blueprints.add_definition(conn, colony["colonyid"], definition)


@rpc("getblueprintdefinitionmsg")
async def get_definition(ctx: Context, req: Req) -> Any:
    name = require_str(req.msg, "name")
    async with _in_colony(ctx, req, "colonyname") as (conn, caller):
        return await blueprints.get_definition(conn, caller.colonyid, name)


@rpc("getblueprintdefinitionsmsg")
async def get_definitions(ctx: Context, req: Req) -> Any:
    async with _in_colony(ctx, req, "colonyname") as (conn, caller):
        return await blueprints.list_definitions(conn, caller.colonyid)


@rpc("removeblueprintdefinitionmsg")
async def remove_definition(ctx: Context, req: Req) -> Any:
    colonyname, name = require_str(req.msg, "namespace"), require_str(req.msg, "name")
    async with ctx.db.connection() as conn:
        colony = await auth.require_colony_owner_by_name(conn, req.caller_id, colonyname)
        owner = auth.Caller(req.caller_id, "", colony["colonyid"], colony["name"])
        await blueprints.remove_definition(conn, owner, name)
    return {}


@rpc("addblueprintmsg")
async def add_blueprint(ctx: Context, req: Req) -> Any:
    blueprint = bp.parse_blueprint(require_object(req.msg, "blueprint"), now=rfc3339(utcnow()))
    async with ctx.db.transaction() as conn:
        caller = await auth.require_membership_or_colony_owner(
            conn, req.caller_id, blueprint["metadata"]["colonyname"]
        )
        return await blueprints.add_blueprint(conn, caller, blueprint)


@rpc("getblueprintmsg")
async def get_blueprint(ctx: Context, req: Req) -> Any:
    name = require_str(req.msg, "name")
    async with _in_colony(ctx, req, "namespace") as (conn, caller):
        return await blueprints.get_blueprint(conn, caller.colonyid, name)


@rpc("getblueprintsmsg")
async def get_blueprints(ctx: Context, req: Req) -> Any:
    kind, location = get_str(req.msg, "kind"), get_str(req.msg, "locationname")
    async with _in_colony(ctx, req, "namespace") as (conn, caller):
        return await blueprints.list_blueprints(conn, caller.colonyid, kind, location)


@rpc("updateblueprintmsg")
async def update_blueprint(ctx: Context, req: Req) -> Any:
    blueprint = bp.parse_blueprint(require_object(req.msg, "blueprint"), now=rfc3339(utcnow()))
    force = get_bool(req.msg, "forcegeneration")
    async with ctx.db.transaction() as conn:
        caller = await auth.require_membership_or_colony_owner(
            conn, req.caller_id, blueprint["metadata"]["colonyname"]
        )
        return await blueprints.update_blueprint(conn, caller, blueprint, force=force)


@rpc("removeblueprintmsg")
async def remove_blueprint(ctx: Context, req: Req) -> Any:
    colonyname, name = require_str(req.msg, "namespace"), require_str(req.msg, "name")
    async with ctx.db.transaction() as conn:
        caller = await auth.require_membership_or_colony_owner(conn, req.caller_id, colonyname)
        await blueprints.remove_blueprint(conn, caller, name)
    return {}


@rpc("getblueprinthistorymsg")
async def get_history(ctx: Context, req: Req) -> Any:
    blueprintid = require_str(req.msg, "blueprintid")
    limit = get_int(req.msg, "limit", low=0)
    async with ctx.db.connection() as conn:
        blueprint = await blueprints.blueprint_by_id(conn, blueprintid)
        await auth.require_membership_or_colony_owner(
            conn, req.caller_id, blueprint["metadata"]["colonyname"]
        )
        return await blueprints.history(conn, blueprintid, limit)


@rpc("updateblueprintstatusmsg")
async def update_status(ctx: Context, req: Req) -> Any:
    """Reconcilers report what they found; members only (the owner key is not one)."""
    colonyname, name = require_str(req.msg, "colonyname"), require_str(req.msg, "blueprintname")
    status = optional_object(req.msg, "status")
    async with ctx.db.connection() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        await blueprints.set_status(conn, caller.colonyid, name, status)
    return {}


@rpc("reconcileblueprintmsg")
async def reconcile(ctx: Context, req: Req) -> Any:
    """Members only, as upstream; the reply is the reconcile process."""
    colonyname, name = require_str(req.msg, "namespace"), require_str(req.msg, "name")
    force = get_bool(req.msg, "force")
    async with ctx.db.transaction() as conn:
        caller = await auth.require_member_caller(conn, req.caller_id, colonyname)
        process = await blueprints.reconcile(conn, caller, name, force=force)
    return process_json(process)
