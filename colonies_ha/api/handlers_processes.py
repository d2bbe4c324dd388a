"""Handlers for processes: submit, assign, close, attributes, listings and deletion."""

from __future__ import annotations

import time
from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.specs import parse_function_spec
from colonies_ha.domain.states import AttributeType
from colonies_ha.domain.validation import (
    get_count,
    get_int,
    get_list,
    get_state,
    get_str,
    get_str_list,
    optional_id,
    require_id,
    require_object,
    require_str,
)
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.protocol.objects import attribute_json, process_json
from colonies_ha.services import auth, processes
from colonies_ha.services.context import Context

MAX_ASSIGN_TIMEOUT = 3600


@rpc("submitfuncspecmsg")
async def submit_function_spec(ctx: Context, req: Req) -> Any:
    spec = parse_function_spec(req.msg.get("spec"))
    await auth.require_member_coalesced(ctx, req.caller_id, spec["conditions"]["colonyid"])
    return await processes.submit(ctx, spec)


@rpc("assignprocessmsg", leader_only=True)
async def assign_process(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    timeout = get_int(req.msg, "timeout", default=0, high=MAX_ASSIGN_TIMEOUT)
    if timeout <= 0:
        raise BadRequest("assignprocessmsg needs a timeout of at least 1 second")
    member = await auth.require_member_coalesced(ctx, req.caller_id, colonyid)
    wait_seconds: float = timeout
    if req.relay is not None and req.relay.wait_limit is not None:
        wait_seconds = min(wait_seconds, req.relay.wait_limit)  # what the client has left
    started = time.perf_counter()
    process = await processes.assign(ctx, member, wait_seconds, req.relay)
    ctx.metrics.assign_wait_seconds.observe(time.perf_counter() - started)
    return process


@rpc("getprocessmsg")
async def get_process(ctx: Context, req: Req) -> Any:
    processid = require_id(req.msg, "processid")
    async with ctx.db.connection() as conn:
        row = await processes.get_process(conn, processid)
        await auth.require_member(conn, req.caller_id, row["colonyid"])
    return process_json(row)


@rpc("getprocessesmsg")
async def get_processes(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    count, state = get_count(req.msg), get_state(req.msg)
    # executortype: a colonies_ha extension (the dashboard's filter); upstream has none.
    executortype = get_str(req.msg, "executortype")
    async with ctx.db.connection() as conn:
        await auth.require_member_or_owner(conn, req.caller_id, colonyid)
        return await processes.list_processes(conn, colonyid, state, count, executortype)


@rpc("getprocesshistmsg")
async def get_process_history(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    executorid = optional_id(req.msg, "executorid")
    seconds = get_int(req.msg, "seconds", default=60, low=0)
    state = get_state(req.msg)
    async with ctx.db.connection() as conn:
        await auth.require_member_or_owner(conn, req.caller_id, colonyid)
        return await processes.process_history(conn, colonyid, executorid, seconds, state)


@rpc("deleteprocessmsg")
async def delete_process(ctx: Context, req: Req) -> Any:
    processid = require_id(req.msg, "processid")
    async with ctx.db.connection() as conn:
        row = await processes.get_process(conn, processid)
        await auth.require_member(conn, req.caller_id, row["colonyid"])
        await processes.delete_process(conn, processid)
    return {}


@rpc("deleteallprocessesmsg")
async def delete_all_processes(ctx: Context, req: Req) -> Any:
    colonyid = require_id(req.msg, "colonyid")
    async with ctx.db.connection() as conn:
        await auth.require_colony_owner(conn, req.caller_id, colonyid)
        await processes.delete_all_processes(conn, colonyid)
    return {}


@rpc("closesuccessfulmsg")
async def close_successful(ctx: Context, req: Req) -> Any:
    processid = require_id(req.msg, "processid")
    output = get_list(req.msg, "out")
    await processes.close(ctx, req.caller_id, processid, output=output)
    ctx.metrics.processes_closed.labels("successful").inc()
    return {}


@rpc("closefailedmsg")
async def close_failed(ctx: Context, req: Req) -> Any:
    processid = require_id(req.msg, "processid")
    errors = get_str_list(req.msg, "errors")
    await processes.close(ctx, req.caller_id, processid, errors=errors)
    ctx.metrics.processes_closed.labels("failed").inc()
    return {}


@rpc("addattributemsg")
async def add_attribute(ctx: Context, req: Req) -> Any:
    raw = require_object(req.msg, "attribute")
    attribute = {
        "targetid": require_id(raw, "targetid"),
        "key": require_str(raw, "key"),
        "value": get_str(raw, "value"),
        "attributetype": get_int(
            raw, "attributetype", default=int(AttributeType.OUT), low=0, high=3
        ),
    }
    async with ctx.db.connection() as conn:
        return await processes.add_attribute(conn, req.caller_id, attribute)


@rpc("getattributemsg")
async def get_attribute(ctx: Context, req: Req) -> Any:
    attributeid = require_id(req.msg, "attributeid")
    async with ctx.db.connection() as conn:
        row = await processes.get_attribute(conn, attributeid)
        await auth.require_member(conn, req.caller_id, row["targetcolonyid"])
    return attribute_json(row)
