"""The process lifecycle: submit, assign (long poll), close, attributes, listings."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

from psycopg.types.json import Jsonb

from colonies_ha.cluster.events import SAFETY_RECHECK_SECONDS, notify_processes
from colonies_ha.domain.errors import BadRequest, Forbidden, NotFound, NotLeader
from colonies_ha.domain.ids import new_object_id
from colonies_ha.domain.processes import new_process
from colonies_ha.domain.specs import with_colony
from colonies_ha.domain.states import ProcessState
from colonies_ha.protocol.envelope import Relay
from colonies_ha.protocol.objects import (
    attribute_json,
    log_json,
    process_json,
    statistics_json,
)
from colonies_ha.services import batches, workflows
from colonies_ha.services.auth import Member
from colonies_ha.services.context import Context
from colonies_ha.services.submission import insert_new_processes
from colonies_ha.store import repo
from colonies_ha.store.db import Conn

Json = dict[str, Any]


async def place(ctx: Context, spec: Json, member: Member) -> Json:
    """A parsed spec made ready to store: its colony named both ways, and the newest
    generation's `executornames` resolved to the executor ids the assign claim matches."""
    spec = with_colony(spec, member.colonyid, member.colonyname)
    names = spec["conditions"].get("executornames")
    if names:
        async with ctx.db.connection() as conn:
            found = await repo.all_rows(
                conn, "executor_ids_by_names", {"colonyid": member.colonyid, "names": names}
            )
        missing = sorted(set(names) - {r["executorname"] for r in found})
        if missing:
            raise BadRequest(
                f"conditions.executornames names no executor of colony "
                f"'{member.colonyname}': {', '.join(missing)}"
            )
        ids = [r["executorid"] for r in found]
        spec["conditions"]["executorids"] = sorted({*spec["conditions"]["executorids"], *ids})
    return spec


async def submit(ctx: Context, spec: Json, initiator: Member | None = None) -> Json:
    """Store a placed spec as a WAITING process; `initiator` is who submitted it."""
    who = (initiator.executorid, initiator.executorname) if initiator else ("", "")
    process = new_process(spec, initiator=who)
    if spec["env"]:  # ENV attributes: several rows, one transaction
        async with ctx.db.transaction() as conn:
            await insert_new_processes(conn, [process])
    else:  # one statement, shared with the submits that arrive meanwhile
        await ctx.batches.submit.run(None, process, partial(batches.submit_batch, ctx))
    return process_json(process)


async def _claim(
    ctx: Context, member: Member, epoch: int | None, receipt: str | None
) -> Json | None:
    """Claim in the next batch of this colony and executor type (see services.batches)."""
    key = batches.ClaimKey(member.colonyid, member.executortype, epoch)
    waiter = batches.Waiter(member.executorid, receipt)
    try:
        row = await ctx.batches.claim.run(key, waiter, partial(batches.claim_batch, ctx))
    except NotLeader:
        if epoch is not None:
            ctx.leadership.lost(epoch)
        raise
    if row is None:
        return None
    if row["processgraphid"]:
        async with ctx.db.connection() as conn:
            await workflows.refresh_state_after(conn, row["processgraphid"])
    return process_json(row)


async def assign(
    ctx: Context, member: Member, wait_seconds: float, relay: Relay | None = None
) -> Json:
    """Hand the best waiting process to `member`, waiting up to `wait_seconds` for one.

    The whole long poll is bound to one fencing epoch: the one a relaying follower saw, or
    ours at the start.  A replica that loses and regains leadership meanwhile does not
    claim for a request whose follower may already have retried elsewhere.
    """
    epoch = ctx.leadership.epoch
    if relay is not None and relay.epoch != epoch:
        raise NotLeader(f"the request was relayed under fencing epoch {relay.epoch}, not ours")
    receipt = relay.receipt if relay is not None else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        if ctx.leadership.epoch != epoch:
            raise NotLeader("leadership changed while the assign was waiting")
        # Take the wake-up signal before looking, so a submit between the look and the
        # wait still wakes us.
        signal = ctx.events.colony_signal(member.colonyid)
        process = await _claim(ctx, member, epoch, receipt)
        if process is not None:
            return process
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise NotFound(
                f"no process for executor type '{member.executortype}' in colony "
                f"{member.colonyid} became available within {wait_seconds:g} s"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), min(remaining, SAFETY_RECHECK_SECONDS))


async def get_process(conn: Conn, processid: str) -> Json:
    row = await repo.get_process(conn, processid)
    if row is None:
        raise NotFound(f"process {processid} does not exist")
    return row


async def _explain_refusal(conn: Conn, processid: str, caller_id: str, action: str) -> None:
    """A compare-and-set on (running, assignee) matched nothing: say exactly why."""
    row = await get_process(conn, processid)
    if row["state"] != ProcessState.RUNNING:
        state = ProcessState(row["state"]).name.lower()
        raise BadRequest(f"process {processid} is {state}, not running; nobody may {action} it")
    raise Forbidden(f"only the executor assigned to process {processid} may {action} it")


async def close(
    ctx: Context,
    caller_id: str,
    processid: str,
    *,
    output: list[Any] | None = None,
    errors: list[str] | None = None,
) -> None:
    successful = errors is None
    state = ProcessState.SUCCESSFUL if successful else ProcessState.FAILED
    request = batches.CloseRequest(processid, caller_id, state, output, errors)
    if await ctx.batches.close.run(None, request, partial(batches.close_batch, ctx)):
        return
    # A graph member, or a close the compare-and-set refused: on its own, under the graph
    # lock, with the reason of a refusal.
    async with ctx.db.transaction() as conn:
        graphid = await workflows.lock_graph_of(conn, processid)
        if successful:
            params = {"processid": processid, "executorid": caller_id, "out": Jsonb(output or [])}
            row = await repo.one(conn, "close_successful", params)
        else:
            params = {"processid": processid, "executorid": caller_id, "errors": Jsonb(errors)}
            row = await repo.one(conn, "close_failed", params)
        if row is None:
            await _explain_refusal(conn, processid, caller_id, "close")
        assert row is not None
        # The close statement also recorded the function run and queued its NOTIFY.
        if graphid:
            changed = await workflows.after_member_finished(conn, graphid, row)
            await notify_processes(conn, changed)


async def release_runs_of(conn: Conn, executorid: str) -> list[str]:
    """Inside the transaction that rejects or removes an executor: its running processes go
    back to the queue for the colony's other executors.  Returns their graphs, whose state
    the caller refreshes after the commit (graph lock first, as the deadline scan does)."""
    released = await repo.all_rows(conn, "requeue_runs_of_executor", {"executorid": executorid})
    await notify_processes(conn, released)
    return sorted({row["processgraphid"] for row in released} - {""})


async def add_attribute(conn: Conn, caller_id: str, attribute: Json) -> Json:
    row = await repo.one(
        conn,
        "add_attribute_as_assignee",
        {**attribute, "attributeid": new_object_id(), "executorid": caller_id},
    )
    if row is None:
        await _explain_refusal(conn, attribute["targetid"], caller_id, "add attributes to")
    assert row is not None
    return attribute_json(row)


async def get_attribute(conn: Conn, attributeid: str) -> Json:
    row = await repo.one(conn, "get_attribute", {"attributeid": attributeid})
    if row is None:
        raise NotFound(f"attribute {attributeid} does not exist")
    return row


async def list_processes(
    conn: Conn, colonyid: str, state: int, count: int, executortype: str = ""
) -> list[Json]:
    params = {"colonyid": colonyid, "state": state, "count": count, "executortype": executortype}
    rows = await repo.all_rows(conn, "list_processes", params)
    return [process_json(r) for r in rows]


async def process_history(
    conn: Conn, colonyid: str, executorid: str, seconds: int, state: int
) -> list[Json]:
    rows = await repo.all_rows(
        conn,
        "process_history",
        {"colonyid": colonyid, "executorid": executorid, "seconds": seconds, "state": state},
    )
    return [process_json(r) for r in rows]


async def delete_process(conn: Conn, processid: str) -> None:
    await repo.run(conn, "delete_process", {"processid": processid})


async def delete_all_processes(conn: Conn, colonyid: str, state: int = -1) -> None:
    """Every process of the colony, or (state >= 0) those in one state."""
    await repo.run(conn, "delete_all_processes", {"colonyid": colonyid, "state": state})


async def list_processes_any(conn: Conn, colonyid: str, filters: Json) -> list[Json]:
    """The newest generation's listing: state -1 is any, plus graph/initiator/label."""
    rows = await repo.all_rows(conn, "list_processes_any", {"colonyid": colonyid, **filters})
    return [process_json(r) for r in rows]


async def set_output(conn: Conn, caller_id: str, processid: str, output: list[Any]) -> None:
    params = {"processid": processid, "executorid": caller_id, "out": Jsonb(output)}
    if await repo.one(conn, "set_output", params) is None:
        await _explain_refusal(conn, processid, caller_id, "set the output of")


async def add_log(conn: Conn, caller_id: str, processid: str, message: str, ts: int) -> None:
    params = {"processid": processid, "executorid": caller_id, "message": message, "ts": ts}
    if await repo.one(conn, "insert_log", params) is None:
        await _explain_refusal(conn, processid, caller_id, "add logs to")


async def process_logs(conn: Conn, processid: str, since: int, count: int) -> list[Json]:
    params = {"processid": processid, "since": since, "count": count}
    return [log_json(r) for r in await repo.all_rows(conn, "logs_of_process", params)]


async def executor_logs(
    conn: Conn, colonyid: str, executorname: str, since: int, count: int
) -> list[Json]:
    params = {"colonyid": colonyid, "executorname": executorname, "since": since, "count": count}
    return [log_json(r) for r in await repo.all_rows(conn, "logs_of_executor", params)]


async def statistics(conn: Conn, colonyid: str | None) -> Json:
    if colonyid is None:
        row = await repo.one(conn, "global_statistics")
    else:
        row = await repo.one(conn, "colony_statistics", {"colonyid": colonyid})
    assert row is not None
    return statistics_json(row)
