"""PgQueuer and procrastinate doing the same work as colonies_ha, on the same PostgreSQL.

The workload is the one of `benchmarks.load.drain_jobs`: `concurrency` producers enqueue
`jobs` trivial jobs one call per job while a consumer running `concurrency` jobs at a time
dequeues and completes them; the time is from the first enqueue until every job is
complete.  Each library runs as its documented worker with psycopg 3 (the driver
colonies_ha uses), in its own database:

* PgQueuer: `QueueManager.run` in single-item mode (`batch_size=1`, one job per dequeue,
  as a colonies_ha assign hands out one process) and, as `pgqueuer_batched`, with batches
  of concurrency/2; `max_concurrent_tasks = concurrency` (at least twice the batch, its
  smallest legal cap); the run ends when the last job's handler has returned and the
  worker has flushed its completion buffer.
* procrastinate: `run_worker_async(concurrency=…)` with LISTEN/NOTIFY; done when the
  database shows every job `succeeded`.

Each library's worker runs in a child process, its producers in the benchmark process;
colonies_ha likewise has its server in one process and its clients in another.  Neither
library signs requests nor goes through HTTP: they are libraries talking to PostgreSQL
directly, which is what the comparison shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from datetime import timedelta
from typing import Any

import psycopg

Ready = Any  # a multiprocessing Event


def _split(jobs: int, parts: int) -> list[int]:
    return [jobs // parts + (i < jobs % parts) for i in range(parts)]


async def _pgqueuer_consumer(
    dsn: str, jobs: int, concurrency: int, ready: Ready, *, batched: bool = False
) -> float:
    from pgqueuer import PsycopgDriver, Queries, QueueManager  # noqa: PLC0415 - optional

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        manager = QueueManager(Queries(PsycopgDriver(conn)))
        done = 0

        @manager.entrypoint("noop")
        async def noop(job: object) -> None:
            nonlocal done
            done += 1
            if done >= jobs:
                manager.shutdown.set()

        batch = max(1, concurrency // 2) if batched else 1
        ready.set()
        await manager.run(
            dequeue_timeout=timedelta(seconds=1),
            batch_size=batch,
            max_concurrent_tasks=max(concurrency, 2 * batch),
            log_aggregation_interval=timedelta(0),
        )
    return time.time()


async def _pgqueuer_producers(dsn: str, jobs: int, concurrency: int) -> None:
    from pgqueuer import PsycopgDriver, Queries  # noqa: PLC0415 - optional

    async def produce(count: int) -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            queries = Queries(PsycopgDriver(conn))
            for _ in range(count):
                await queries.enqueue("noop", None)

    await asyncio.gather(*(produce(n) for n in _split(jobs, concurrency)))


async def _pgqueuer_install(dsn: str) -> None:
    from pgqueuer import PsycopgDriver, Queries  # noqa: PLC0415 - optional

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await Queries(PsycopgDriver(conn)).install()


def _procrastinate_app(dsn: str, concurrency: int) -> Any:
    from procrastinate import App, PsycopgConnector  # noqa: PLC0415 - optional

    app = App(connector=PsycopgConnector(conninfo=dsn, min_size=2, max_size=concurrency + 4))

    @app.task(name="noop", queue="bench")
    async def noop() -> None:
        return None

    return app


async def _procrastinate_consumer(dsn: str, jobs: int, concurrency: int, ready: Ready) -> float:
    app = _procrastinate_app(dsn, concurrency)
    async with (
        app.open_async(),
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as watcher,
    ):
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=["bench"],
                concurrency=concurrency,
                wait=True,
                install_signal_handlers=False,
                fetch_job_polling_interval=1.0,
            )
        )
        ready.set()
        while True:
            cur = await watcher.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            )
            row = await cur.fetchone()
            if row is not None and row[0] >= jobs:
                break
            if worker.done():
                worker.result()
                raise RuntimeError("the procrastinate worker stopped early")
            await asyncio.sleep(0.01)
        finished = time.time()
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    return finished


async def _procrastinate_producers(dsn: str, jobs: int, concurrency: int) -> None:
    app = _procrastinate_app(dsn, concurrency)
    async with app.open_async():
        task = app.tasks["noop"]

        async def produce(count: int) -> None:
            for _ in range(count):
                await task.defer_async()

        await asyncio.gather(*(produce(n) for n in _split(jobs, concurrency)))


async def _procrastinate_install(dsn: str) -> None:
    app = _procrastinate_app(dsn, 1)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def _pgqueuer_batched_consumer(dsn: str, jobs: int, concurrency: int, ready: Ready) -> float:
    return await _pgqueuer_consumer(dsn, jobs, concurrency, ready, batched=True)


# "pgqueuer" is its single-item mode (batch_size 1: one job per dequeue, as colonies_ha's
# protocol hands out one process per assign); "pgqueuer_batched" dequeues concurrency/2.
_CONSUMERS = {
    "pgqueuer": _pgqueuer_consumer,
    "procrastinate": _procrastinate_consumer,
    "pgqueuer_batched": _pgqueuer_batched_consumer,
}
_PRODUCERS = {
    "pgqueuer": _pgqueuer_producers,
    "procrastinate": _procrastinate_producers,
    "pgqueuer_batched": _pgqueuer_producers,
}
_INSTALL = {
    "pgqueuer": _pgqueuer_install,
    "procrastinate": _procrastinate_install,
    "pgqueuer_batched": _pgqueuer_install,
}
SYSTEMS = tuple(_CONSUMERS)


def _consumer_process(system: str, dsn: str, jobs: int, concurrency: int, io: Any) -> None:
    """Child process: the library's worker, reporting the wall time the last job finished."""
    for noisy in ("pgqueuer", "procrastinate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ready, results = io
    try:
        results.put(asyncio.run(_CONSUMERS[system](dsn, jobs, concurrency, ready)))
    except BaseException as exc:
        ready.set()
        results.put(f"{type(exc).__name__}: {exc}")


async def peer_jobs(system: str, dsn: str, jobs: int, concurrency: int) -> float:
    """Seconds from the first enqueue until `jobs` jobs are complete, for `system`.

    The worker runs in a child process (as it would in production, beside the programs
    that enqueue), so it does not share a core's GIL with the producers.
    """
    await _INSTALL[system](dsn)
    mp = multiprocessing.get_context("spawn")
    ready, results = mp.Event(), mp.Queue()
    child = mp.Process(
        target=_consumer_process, args=(system, dsn, jobs, concurrency, (ready, results))
    )
    child.start()
    try:
        await asyncio.to_thread(ready.wait, 60)
        start = time.time()
        await _PRODUCERS[system](dsn, jobs, concurrency)
        outcome = await asyncio.to_thread(results.get, True, 600)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    if isinstance(outcome, str):
        raise RuntimeError(f"{system} worker failed: {outcome}")
    return float(outcome) - start
