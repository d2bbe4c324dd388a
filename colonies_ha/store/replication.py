"""Whether an acknowledged commit survives the promotion of a standby.

It does when the primary waits for a synchronous standby before it acknowledges a commit:
`synchronous_standby_names` names at least one standby, one is connected and synchronous,
and the sessions' `synchronous_commit` is `on` or `remote_apply` (our sessions raise `off`
and `local` to `on`, see store/db.py; `remote_write` survives the loss of the primary but
not of both hosts' memory at once).  Otherwise a failover can lose acknowledged claims,
closes and fencing-epoch bumps.  See docs/database-failover.md.
"""

from __future__ import annotations

from typing import Any

from colonies_ha.store.db import Database

DURABLE_LEVELS = ("on", "remote_apply")


def replication_problems(settings: dict[str, Any]) -> list[str]:
    """What makes acknowledged commits unsafe across a failover (empty: nothing)."""
    problems: list[str] = []
    if settings["in_recovery"]:
        problems.append("the database URL reaches a standby in recovery, not the primary")
    if not (settings["synchronous_standby_names"] or "").strip():
        problems.append(
            "synchronous_standby_names is empty: the primary replicates asynchronously (or "
            "has no standby), so commits acknowledged just before it fails can be missing "
            "on a promoted standby"
        )
    elif int(settings["sync_standbys"]) == 0:
        problems.append(
            "no synchronous standby is connected (pg_stat_replication shows none; a role "
            "without pg_monitor may not see it): commits wait until one is"
        )
    level = settings["synchronous_commit"]
    if level not in DURABLE_LEVELS:
        problems.append(f"synchronous_commit is '{level}', not 'on' or 'remote_apply'")
    return problems


async def check_replication(db: Database) -> list[str]:
    return replication_problems(await db.replication_settings())
