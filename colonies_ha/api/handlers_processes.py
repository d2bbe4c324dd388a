"""Handlers for processes: submit, assign, close, output, logs, attributes, listings and
removal, for both protocol generations (colonyid: 2023, colonyname: the newest)."""

from __future__ import annotations

import time
from typing import Any

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.errors import BadRequest
from colonies_ha.domain.specs import parse_function_spec
from colonies_ha.domain.states import AttributeType
from colonies_ha.domain.validation import (
    ColonyRef,
    colony_ref,
    get_any_state,
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
from colonies_ha.services import auth, colonies, processes
from colonies_ha.services.context import Context

MAX_ASSIGN_TIMEOUT = 3600
MAX_LOG_MESSAGE = 64 * 1024


@rpc("submitfuncspecmsg")
async def submit_function_spec(ctx: Context, req: Req) -> Any:
    spec = parse_function_spec(req.msg.get("spec"))
    colony = ColonyRef(spec["conditions"]["colonyid"], spec["conditions"]["colonyname"])
    member = await auth.require_submitter_by_ref(ctx, req.caller_id, colony)
    spec = await processes.place(ctx, spec, member)
    return await processes.submit(ctx, spec, member)


@rpc("assignprocessmsg", leader_only=True)
async def assign_process(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    timeout = get_int(req.msg, "timeout", default=0, high=MAX_ASSIGN_TIMEOUT)
    if timeout <= 0:
        raise BadRequest("assignprocessmsg needs a timeout of at least 1 second")
    member = await auth.require_assignee_by_ref(ctx, req.caller_id, colony)
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
        await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
    return process_json(row)


@rpc("getprocessesmsg")
async def get_processes(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    count = get_count(req.msg)
    # executortype: in the newest generation; in 2023 a colonies_ha extension (dashboard).
    executortype = get_str(req.msg, "executortype")
    if colony.current:
        filters = {
            "count": count,
            "state": get_any_state(req.msg),
            "executortype": executortype,
            "processgraphid": get_str(req.msg, "processgraphid"),
            "initiator": get_str(req.msg, "initiator"),
            "label": get_str(req.msg, "label"),
        }
        async with ctx.db.connection() as conn:
            colonyid = await auth.require_reader_by_ref(conn, req.caller_id, colony)
            return await processes.list_processes_any(conn, colonyid, filters)
    state = get_state(req.msg)
    async with ctx.db.connection() as conn:
        colonyid = await auth.require_reader_by_ref(conn, req.caller_id, colony)
        return await processes.list_processes(conn, colonyid, state, count, executortype)


@rpc("getprocesshistmsg")
async def get_process_history(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    executorid = optional_id(req.msg, "executorid")
    seconds = get_int(req.msg, "seconds", default=60, low=0)
    state = get_state(req.msg)
    async with ctx.db.connection() as conn:
        colonyid = await auth.require_reader_by_ref(conn, req.caller_id, colony)
        return await processes.process_history(conn, colonyid, executorid, seconds, state)


@rpc("deleteprocessmsg")
@rpc("removeprocessmsg")
async def delete_process(ctx: Context, req: Req) -> Any:
    processid = require_id(req.msg, "processid")
    async with ctx.db.connection() as conn:
        row = await processes.get_process(conn, processid)
        await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
        await processes.delete_process(conn, processid)
    return {}


@rpc("deleteallprocessesmsg")
@rpc("removeallprocessesmsg")
async def delete_all_processes(ctx: Context, req: Req) -> Any:
    colony = colony_ref(req.msg)
    state = get_any_state(req.msg) if colony.current else -1
    async with ctx.db.connection() as conn:
        row = await auth.require_owner_by_ref(conn, req.caller_id, colony)
        await processes.delete_all_processes(conn, row["colonyid"], state)
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


@rpc("setoutputmsg")
async def set_output(ctx: Context, req: Req) -> Any:
    """The assignee replaces the output of its running process (before closing it)."""
    processid = require_id(req.msg, "processid")
    output = get_list(req.msg, "out")
    async with ctx.db.connection() as conn:
        await processes.set_output(conn, req.caller_id, processid, output)
    return {}


@rpc("addlogmsg")
async def add_log(ctx: Context, req: Req) -> Any:
    """The assignee of a running process appends a log line to it."""
    processid = require_id(req.msg, "processid")
    message = get_str(req.msg, "message")
    if len(message) > MAX_LOG_MESSAGE:
        raise BadRequest(f"a log message may be at most {MAX_LOG_MESSAGE} characters")
    async with ctx.db.connection() as conn:
        await processes.add_log(conn, req.caller_id, processid, message, time.time_ns())
    return {}


@rpc("getlogsmsg")
async def get_logs(ctx: Context, req: Req) -> Any:
    """A process's log (processid), or an executor's: by colonyname + executorname (1.0.16+)
    or by executorid (1.0.12-1.0.15)."""
    count = get_count(req.msg)
    since = get_int(req.msg, "since", default=0)
    processid = optional_id(req.msg, "processid")
    executorid = optional_id(req.msg, "executorid")
    async with ctx.db.connection() as conn:
        if processid:
            row = await processes.get_process(conn, processid)
            await auth.require_member_by_id(conn, req.caller_id, row["colonyid"])
            return await processes.process_logs(conn, processid, since, count)
        if executorid:
            executor = await colonies.executor_in_colony(conn, executorid)
            colonyid, executorname = executor["colonyid"], executor["executorname"]
            await auth.require_member_by_id(conn, req.caller_id, colonyid)
        else:
            colonyname = require_str(req.msg, "colonyname")
            executorname = require_str(req.msg, "executorname")
            colonyid = (await auth.require_membership(conn, req.caller_id, colonyname)).colonyid
        return await processes.executor_logs(conn, colonyid, executorname, since, count)


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
        await auth.require_member_by_id(conn, req.caller_id, row["targetcolonyid"])
    return attribute_json(row)
