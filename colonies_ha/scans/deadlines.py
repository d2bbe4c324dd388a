"""Deadline scan: requeue or fail runs past maxexectime, fail waits past maxwaittime."""

from __future__ import annotations

from colonies_ha.cluster.events import notify_processes
from colonies_ha.domain.states import MAX_EXEC_TIME_EXCEEDED, MAX_WAIT_TIME_EXCEEDED
from colonies_ha.services.context import Context
from colonies_ha.store import repo


async def sweep_deadlines(ctx: Context, epoch: int) -> int:
    """One fenced pass; returns how many processes it changed."""
    async with ctx.db.fenced_transaction(epoch) as conn:
        requeued = await repo.all_rows(conn, "requeue_expired_runs")
        failed = await repo.all_rows(conn, "fail_expired_runs", {"message": MAX_EXEC_TIME_EXCEEDED})
        failed += await repo.all_rows(
            conn, "fail_expired_waits", {"message": MAX_WAIT_TIME_EXCEEDED}
        )
        await notify_processes(conn, requeued + failed)
    return len(requeued) + len(failed)
