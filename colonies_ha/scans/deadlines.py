"""Deadline scan: requeue or fail runs past maxexectime, fail waits past maxwaittime."""

from __future__ import annotations

from colonies_ha.cluster.events import notify_processes
from colonies_ha.domain.states import MAX_EXEC_TIME_EXCEEDED, MAX_WAIT_TIME_EXCEEDED
from colonies_ha.services import workflows
from colonies_ha.services.context import Context
from colonies_ha.store import repo


async def sweep_deadlines(ctx: Context, epoch: int) -> int:
    """Fenced passes over expired processes; returns how many processes changed."""
    async with ctx.db.fenced_transaction(epoch) as conn:
        requeued = await repo.all_rows(conn, "requeue_expired_runs")
        failed = await repo.all_rows(conn, "fail_expired_runs", {"message": MAX_EXEC_TIME_EXCEEDED})
        failed += await repo.all_rows(
            conn, "fail_expired_waits", {"message": MAX_WAIT_TIME_EXCEEDED}
        )
        changed = requeued + failed
        await notify_processes(conn, changed)
        expired_members = await repo.all_rows(conn, "expired_graph_members")
    ctx.metrics.deadline_resets.inc(len(requeued))
    ctx.metrics.deadline_failures.inc(len(failed))
    if graphids := sorted({row["processgraphid"] for row in requeued} - {""}):
        async with ctx.db.connection() as conn:
            for graphid in graphids:
                await workflows.refresh_state_after(conn, graphid)
    for member in expired_members:
        in_graph = await _fail_graph_member(
            ctx, epoch, member["processid"], member["processgraphid"]
        )
        ctx.metrics.deadline_failures.inc(sum(1 for row in in_graph if row["state"] == 3))
        changed += in_graph
    return len(changed)


async def _fail_graph_member(ctx: Context, epoch: int, processid: str, graphid: str) -> list:
    """Graph lock first, then the member, then the rest of its graph: one fenced step."""
    async with ctx.db.fenced_transaction(epoch) as conn:
        await repo.one(conn, "lock_processgraph", {"processgraphid": graphid})
        row = await repo.one(
            conn,
            "fail_process_if_expired",
            {
                "processid": processid,
                "exec_message": MAX_EXEC_TIME_EXCEEDED,
                "wait_message": MAX_WAIT_TIME_EXCEEDED,
            },
        )
        if row is None:  # closed or reassigned meanwhile: the compare-and-set kept it
            return []
        changed = [row, *await workflows.after_member_finished(conn, graphid, row)]
        await notify_processes(conn, changed)
        return changed
