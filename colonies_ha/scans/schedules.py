"""Leader-only scans that start workflows: generator triggers and cron firings."""

from __future__ import annotations

from colonies_ha.services import schedules
from colonies_ha.services.context import Context
from colonies_ha.store import repo


async def trigger_generators(ctx: Context, epoch: int) -> int:
    """Each generator with a full batch, in its own fenced transaction."""
    async with ctx.db.connection() as conn:
        due = await repo.all_rows(conn, "generators_due")
    started = 0
    for generator in due:
        async with ctx.db.fenced_transaction(epoch) as conn:
            started += await schedules.trigger_generator(conn, generator["generatorid"])
    return started


async def fire_crons(ctx: Context, epoch: int) -> int:
    """Schedule new crons, then fire each due slot in its own fenced transaction."""
    async with ctx.db.fenced_transaction(epoch) as conn:
        changed = await schedules.schedule_new_crons(conn)
        due = await repo.all_rows(conn, "crons_due")
    for cron in due:
        async with ctx.db.fenced_transaction(epoch) as conn:
            fired = await schedules.fire_cron(
                conn, cron["cronid"], due=cron["nextrun"], manual=False
            )
            changed += fired is not None
    return changed
