"""Assign latency against 1k … 1M waiting processes, and the loader that makes the queue.

The loader: a million signed submits would take longer than the whole benchmark budget,
so deep queues are bulk-loaded in SQL.  One process is first submitted through the API
and used as the template: the loader copies every column of that row (spec, executor
type, colony, deadlines) and only gives each copy a fresh random 64-hex processid and a
later priority time, in one `INSERT … SELECT generate_series(…)` per level.  The rows are
therefore exactly what `submitfuncspecmsg` stores; the partial queue index, the primary
key and the other indexes are maintained as for real submits.  VACUUM ANALYZE follows each
load so that the planner sees the table as it would after autovacuum.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import psycopg

from benchmarks.env import Colony
from benchmarks.load import summary_ms
from colonies_ha.client import ColoniesClient, function_spec

# Copies of the template row; `processid` and `prioritytime` differ per copy.
LOAD_SQL = """
INSERT INTO processes (processid, colonyid, executortype, executorids, state, prioritytime,
                       submissiontime, waitdeadline, maxretries, maxexectime, maxwaittime,
                       waitforparents, parents, children, processgraphid, spec, input)
SELECT encode(sha256((t.processid || g::text || random()::text)::bytea), 'hex'),
       t.colonyid, t.executortype, t.executorids, 0, t.prioritytime + g,
       t.submissiontime, t.waitdeadline, t.maxretries, t.maxexectime, t.maxwaittime,
       false, '{}', '{}', '', t.spec, t.input
FROM processes t, generate_series(1, %(count)s) AS g
WHERE t.processid = %(template)s
"""

WAITING_SQL = """
SELECT count(*) AS n FROM processes
WHERE colonyid = %(colonyid)s AND state = 0 AND NOT waitforparents
"""


async def _load(dsn: str, template: str, count: int) -> float:
    start = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(LOAD_SQL, {"count": count, "template": template})  # type: ignore[arg-type]
        await conn.execute("VACUUM ANALYZE processes")
    return time.perf_counter() - start


async def _waiting(dsn: str, colonyid: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(WAITING_SQL, {"colonyid": colonyid})  # type: ignore[arg-type]
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def queue_depth(
    session: aiohttp.ClientSession,
    url: str,
    dsn: str,
    colony: Colony,
    *,
    depths: list[int],
    assigns: int,
    on_level: Callable[[str], None] = lambda _: None,
) -> list[dict[str, Any]]:
    """For each depth (ascending): top the queue up, then time `assigns` sequential assigns
    by one executor (each closed right away, untimed)."""
    client = ColoniesClient(url, colony.executor_keys[0], session=session)
    spec = function_spec(colony.colonyid, colony.executortype, "noop")
    results = []
    for depth in depths:
        on_level(f"queue depth {depth:,}: loading")
        template = (await client.submit(spec))["processid"]
        missing = depth - await _waiting(dsn, colony.colonyid)
        load_seconds = await _load(dsn, template, max(missing, 0)) if missing > 0 else 0.0
        waiting = await _waiting(dsn, colony.colonyid)
        on_level(f"queue depth {depth:,}: assigning")
        latencies = []
        for _ in range(assigns):
            start = time.perf_counter()
            process = await client.assign(colony.colonyid, 10)
            latencies.append(time.perf_counter() - start)
            await client.close(process["processid"], [])
        results.append(
            {
                "depth": depth,
                "waiting_at_start": waiting,
                "load_seconds": load_seconds,
                "assigns": assigns,
                "assign_ms": summary_ms(latencies),
            }
        )
    return results
