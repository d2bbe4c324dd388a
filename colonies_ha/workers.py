"""More than one core per replica: serving workers beside the primary process (`--workers N`).

The primary is an ordinary Replica (Raft, fencing epoch, scans, HTTP) whose API socket has
SO_REUSEPORT, plus a relay port only it binds.  It starts N - 1 workers: processes with their
own pool, LISTEN hub and the same aiohttp app on the same API port, so the kernel spreads new
connections over all N.  A worker never takes an epoch nor runs scans: its Leadership
(cluster/primary.py) follows the primary's; while the primary leads, a worker claims under
the primary's epoch (fenced in the database like any claim), otherwise its assigns go
through the Forwarder to the leader's relay URL, like a follower replica's.  A worker gets
its settings as one JSON line on stdin, says "ready" on stdout once it serves, and exits when
its stdin closes or, by PR_SET_PDEATHSIG, the moment the primary dies.  The primary restarts
a worker that dies, and kills (then restarts) one whose event loop stops answering its pings
on that pipe: a blocked worker keeps its share of the port's new connections, which would
hang.  Each worker hands the primary its metrics every second (POST /local/metrics on the
relay port), so /metrics answers for every process of the replica whichever one it reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from colonies_ha.api.app import build_app
from colonies_ha.api.local import METRICS_PUSH_PATH, PROCESS_HEADER
from colonies_ha.api.metrics_endpoint import local_snapshot
from colonies_ha.cluster.events import EventHub
from colonies_ha.cluster.primary import PrimaryLeadership
from colonies_ha.config import ServerConfig
from colonies_ha.embedded_pg import pdeathsig_preexec
from colonies_ha.services.context import Context
from colonies_ha.store.db import Database

log = logging.getLogger(__name__)

READY_LINE = b"ready\n"
PING_LINE, PONG_LINE = b"ping\n", b"pong\n"  # after "ready": the primary asks, the worker answers
PING_PERIOD = 2.0  # at most; shorter when the silence limit is below twice this
START_TIMEOUT = 60.0  # for a worker to say it serves
STOP_TIMEOUT = 15.0  # after SIGTERM, then SIGKILL
RESTART_PAUSE = 0.5  # doubled after each crash, up to MAX_RESTART_PAUSE
MAX_RESTART_PAUSE = 10.0
STABLE_AFTER = 30.0  # a worker that ran this long restarts without the accumulated pause
METRICS_PUSH_PERIOD = 1.0  # how stale a worker's part of the replica's /metrics may be


class WorkerFailed(RuntimeError):
    """A worker exited or stayed silent before it served."""


class WorkerSupervisor:
    """Starts `config.workers - 1` serving workers, restarts those that die, stops them."""

    def __init__(self, config: ServerConfig, *, port: int, primary_url: str) -> None:
        # The API port as bound (it may have been 0); pools were sized per process already.
        settings = dataclasses.asdict(dataclasses.replace(config, port=port))
        self._spec: dict[str, Any] = {"config": settings, "primary_url": primary_url}
        self._count = config.workers - 1
        self._silence_limit = config.worker_silence_limit
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._keepers: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes.values() if p.returncode is None]

    async def start(self) -> None:
        """Returns once every worker serves."""
        await asyncio.gather(*(self._spawn(slot) for slot in range(self._count)))
        self._keepers = [
            asyncio.create_task(self._keep(slot), name=f"worker-{slot}")
            for slot in range(self._count)
        ]
        log.info("%d serving workers: pids %s", self._count, self.pids)

    async def stop(self) -> None:
        self._stopping = True
        for process in self._processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes.values():
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning(
                    "worker %d ignored SIGTERM for %.0f s; killing it", process.pid, STOP_TIMEOUT
                )
                process.kill()
                await process.wait()
        for keeper in self._keepers:
            keeper.cancel()
        await asyncio.gather(*self._keepers, return_exceptions=True)

    async def _spawn(self, slot: int) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "colonies_ha",
            "--log-level",
            logging.getLevelName(logging.getLogger().getEffectiveLevel()),
            "serve-worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=pdeathsig_preexec(signal.SIGKILL),
        )
        self._processes[slot] = process
        assert process.stdin is not None and process.stdout is not None
        spec = json.dumps({**self._spec, "process": f"worker-{slot + 1}"}).encode()
        process.stdin.write(spec + b"\n")  # kept open: its end tells the worker to go
        await process.stdin.drain()
        try:
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            line = b""
        if line != READY_LINE:
            if process.returncode is None:
                process.kill()
            raise WorkerFailed(f"worker {slot} (pid {process.pid}) did not start; see its log")

    async def _watch(self, slot: int) -> int:
        """The exit code of the slot's worker, killed first if it falls silent."""
        process = self._processes[slot]
        pinger = asyncio.create_task(self._ping(slot, process))
        try:
            return await process.wait()
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)

    async def _ping(self, slot: int, process: asyncio.subprocess.Process) -> None:
        """Ping the worker's event loop; kill the worker once an answer is overdue."""
        assert process.stdin is not None and process.stdout is not None
        period = min(PING_PERIOD, self._silence_limit / 2)
        while process.returncode is None and not self._stopping:
            await asyncio.sleep(period)
            try:
                process.stdin.write(PING_LINE)
                await process.stdin.drain()
                async with asyncio.timeout(self._silence_limit):
                    answer = await process.stdout.readline()
            except TimeoutError:
                if self._stopping or process.returncode is not None:
                    return
                log.error(
                    "!!! serving worker %d (pid %d) left a ping unanswered for %.1f s; "
                    "killing it !!!",
                    slot,
                    process.pid,
                    self._silence_limit,
                )
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                return
            except ConnectionError:
                return  # its stdin is gone: it is exiting, and wait() will say so
            if answer != PONG_LINE:
                return  # end of its stdout: the same

    async def _keep(self, slot: int) -> None:
        """Restart the slot's worker whenever it dies, pausing longer after each quick death."""
        pause = RESTART_PAUSE
        while True:
            started = time.monotonic()
            code = await self._watch(slot)
            if self._stopping:
                return
            if time.monotonic() - started > STABLE_AFTER:
                pause = RESTART_PAUSE
            log.error(
                "!!! serving worker %d (pid %d) exited with code %s; restarting it in %.1f s !!!",
                slot,
                self._processes[slot].pid,
                code,
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RESTART_PAUSE)
            try:
                await self._spawn(slot)
            except WorkerFailed as exc:
                log.error("%s; trying again", exc)
            else:
                log.warning("serving worker %d restarted: pid %d", slot, self._processes[slot].pid)


async def serve_worker(spec: dict[str, Any], on_serving: Callable[[], None] | None = None) -> None:
    """A worker's life: serve the API port until SIGTERM or the primary's pipe closes
    (`on_serving` runs once it serves)."""
    config = ServerConfig(**spec["config"])
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)  # a terminal's Ctrl-C: the primary decides
    lifeline = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lifeline), sys.stdin)
    db = Database(
        config.database_url, min_size=config.process_pool_min, max_size=config.process_pool_max
    )
    await db.open(run_migrations=False)  # the primary migrated before it started us
    events = EventHub(config.database_url)
    leadership = PrimaryLeadership(spec["primary_url"])
    runner: web.AppRunner | None = None
    try:
        await events.start()
        await leadership.start()
        ctx = Context(db, events, leadership, config.server_id, config.node_name)
        runner = web.AppRunner(
            build_app(ctx, max_body_bytes=config.max_body_bytes),
            access_log=None,
            handle_signals=False,
        )
        await runner.setup()
        await web.TCPSite(runner, config.host, config.port, reuse_port=True).start()
        if on_serving is not None:
            on_serving()
        sys.stdout.buffer.write(READY_LINE)
        sys.stdout.buffer.flush()
        ctx.metrics.primary_url = spec["primary_url"]  # it answers /metrics for all of us
        pushing = asyncio.create_task(_push_metrics(ctx, spec["primary_url"], spec["process"]))
        primary_gone = asyncio.create_task(_answer_pings(lifeline))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({primary_gone, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if primary_gone.done():
            log.warning("the primary process closed our pipe; worker %d exits", os.getpid())
        for task in (primary_gone, stopped, pushing):
            task.cancel()
    finally:
        if runner is not None:
            await runner.cleanup()
        await leadership.stop()
        with contextlib.suppress(Exception):
            await events.stop()
        await db.close()


async def _push_metrics(ctx: Context, primary_url: str, process: str) -> None:
    """Hand the primary this worker's metrics every METRICS_PUSH_PERIOD, for its /metrics."""
    timeout = aiohttp.ClientTimeout(total=METRICS_PUSH_PERIOD * 2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            ctx.metrics.snapshot = local_snapshot(ctx, ctx.metrics.snapshot)
            try:
                async with session.post(
                    f"{primary_url}{METRICS_PUSH_PATH}",
                    data=ctx.metrics.render(),
                    headers={PROCESS_HEADER: process},
                ) as reply:
                    if reply.status != 204:
                        log.warning("the primary refused our metrics: %d", reply.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.debug("could not hand our metrics to the primary: %r", exc)
            await asyncio.sleep(METRICS_PUSH_PERIOD)


async def _answer_pings(lifeline: asyncio.StreamReader) -> None:
    """Answer the primary's pings until it closes our stdin (it stopped, or died)."""
    while line := await lifeline.readline():
        if line == PING_LINE:
            sys.stdout.buffer.write(PONG_LINE)
            sys.stdout.buffer.flush()


def read_spec() -> dict[str, Any]:
    """The one JSON line the primary writes to a worker's stdin."""
    line = sys.stdin.buffer.readline()
    if not line:
        raise WorkerFailed("no settings on stdin: serve-worker is started by `server --workers`")
    spec: dict[str, Any] = json.loads(line)
    return spec
