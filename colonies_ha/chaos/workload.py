"""The actors of a chaos run: executors, submitters, a packer and the fault injector.

Fault kinds: a replica SIGKILLed (and restarted) or SIGSTOPped (and resumed), the leader
included; the database primary SIGKILLed with its standby promoted (and a new standby built
where it was), the database restarted, the database paused (SIGSTOP: to every replica, as
if the network to it were lost), and an executor killed while it works on a process (its
process must come back through maxexectime and finish elsewhere); with `--workers` > 1 also
a replica's serving worker SIGKILLed (its primary restarts it), and kills and pauses strike
a replica's whole set of processes (the kill only the primary: its workers must follow).

Every actor talks to a random live replica and records each request, successful or not, in
the history.  Connection errors and 503s are normal under faults: they are recorded and
retried, never judged here.  Delivery is at-least-once: an assign that a leader commits
and then dies before answering leaves the process RUNNING until its `maxexectime`
deadline, when the leader's deadline scan puts it back in the queue (`maxretries=-1`, so
forever).  That is why every spec here carries a short `maxexectime`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from colonies_ha.chaos.history import History
from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.embedded_pg import StreamingPair
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key

T = TypeVar("T")

EXECUTOR_TYPE = "chaos-worker"
SUBMITTER_TYPE = "chaos-submitter"
PLAIN_FUNC = "chaos-job"
CRON_FUNC = "chaos-cron"
GENERATOR_FUNC = "chaos-gen"
ASSIGN_TIMEOUT = 2
CLOSE_ATTEMPTS = 6
RETRY_PAUSE = 0.2
MIN_HEALTHY = 1.0  # seconds every replica runs between the heal of one fault and the next
CALL_ERRORS = (ColoniesError, aiohttp.ClientError, TimeoutError, OSError)
# A refusal that a retry elsewhere cannot change (the close's compare-and-set said no).
DEFINITIVE = frozenset({400, 403, 404})
REPLICA_FAULTS = ("kill", "pause")
DATABASE_FAULTS = ("db-failover", "db-restart", "db-pause")
EXECUTOR_FAULTS = ("executor-kill",)
FAULT_KINDS = (*REPLICA_FAULTS, *DATABASE_FAULTS, *EXECUTOR_FAULTS)
WORKER_FAULTS = ("worker-kill",)  # only for replicas with serving workers
KNOWN_FAULTS = (*FAULT_KINDS, *WORKER_FAULTS)
DATABASE = "database"  # the `replica` a database fault names
WORKING_WAIT = 5.0  # how long the injector looks for an executor in the middle of a process


@dataclass(frozen=True)
class ChaosConfig:
    """Everything a run depends on; the seed fixes the fault schedule and the actors' dice."""

    replicas: int = 3
    workers: int = 1  # processes per replica (`server --workers`)
    duration: float = 60.0
    fault_interval: float = 8.0
    seed: int = 1
    executors: int = 6
    submitters: int = 2
    submit_rate: float = 8.0  # plain submits per second, all submitters together
    pack_rate: float = 2.0  # packed generator args per second
    maxexectime: int = 5
    work_max: float = 0.3  # an executor "works" a uniform 0..work_max seconds
    fail_ratio: float = 0.05  # closes that report failure instead of success
    pause_seconds: float = 3.0  # longer than the election timeout (raftMaxTimeout 1.5 s)
    restart_delay: float = 2.0
    cron_interval: int = 1
    generator_trigger: int = 2
    settle_timeout: float = 60.0
    max_gap: float = 30.0  # no successful assign this long after a fault is a violation
    history_path: Path | None = None
    database_url: str | None = None
    workdir: Path | None = None
    # Which fault kinds to inject, in shuffled rounds so each comes up as often; database
    # faults need the run's own primary+standby (no database_url).
    faults: tuple[str, ...] = FAULT_KINDS
    db_down_seconds: float = 2.0  # a restarted database is down this long


@dataclass
class ColonySetup:
    colonyid: str
    colony_prvkey: str
    executor_keys: list[str]
    submitter_keys: list[str]
    cronid: str = ""
    generatorid: str = ""


def error_text(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    text = f"{exc.__class__.__name__}: {exc}"[:160]
    return f"{status} {text}" if status is not None else text


def error_status(exc: BaseException) -> int | None:
    return getattr(exc, "status", None) if isinstance(exc, ColoniesError) else None


def parse_time(text: str) -> float:
    """Unix seconds of an RFC 3339 time from the wire (0 for Go's zero time)."""
    if text.startswith("0001-"):
        return 0.0
    return datetime.fromisoformat(text).timestamp()


class Workload:
    """Shared state of the actors: the cluster, the HTTP session, the history, the stop flags."""

    def __init__(
        self,
        cluster: Cluster,
        http: aiohttp.ClientSession,
        history: History,
        config: ChaosConfig,
        database: StreamingPair | None = None,
    ) -> None:
        self.cluster = cluster
        self.http = http
        self.history = history
        self.config = config
        self.database = database
        self.setup: ColonySetup | None = None
        self.stop_load = asyncio.Event()  # submitters, packer, fault injector
        self.stop_executors = asyncio.Event()
        self.faulted: ReplicaProcess | None = None
        self.executor_tasks: dict[int, asyncio.Task[None]] = {}
        self.retired_executors: list[asyncio.Task[None]] = []
        self.working: dict[int, dict[str, Any]] = {}  # executor index -> the process it works on
        self.someone_working = asyncio.Event()  # set while `working` is not empty
        self._round: list[str] = []

    # -- plumbing ---------------------------------------------------------------------

    def live(self) -> list[ReplicaProcess]:
        """Replicas new requests go to, as behind a health-checked load balancer: not the one
        under a fault.  Requests already sent to it when it froze still hang until SIGCONT."""
        return [r for r in self.cluster.replicas if r.alive and r is not self.faulted]

    def client(self, replica: ReplicaProcess, key: str) -> ColoniesClient:
        return ColoniesClient(replica.url, key, session=self.http)

    async def retry(
        self, rng: random.Random, key: str, call: Callable[[ColoniesClient], Awaitable[T]]
    ) -> T:
        """Setup and teardown calls (no fault is running): any live replica, until one answers."""
        deadline = time.monotonic() + 60
        while True:
            replica = rng.choice(self.live())
            try:
                return await call(self.client(replica, key))
            except CALL_ERRORS:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(RETRY_PAUSE)

    def colony(self) -> ColonySetup:
        assert self.setup is not None, "create_colony() first"
        return self.setup

    # -- setup ------------------------------------------------------------------------

    async def create_colony(self) -> ColonySetup:
        """A colony, its executors and submitters, one interval cron and one generator."""
        config, rng = self.config, random.Random(f"{self.config.seed}-setup")
        colony_prvkey = generate_private_key()
        colonyid = id_of_private_key(colony_prvkey)
        owner = self.cluster.server_prvkey
        await self.retry(rng, owner, lambda c: c.add_colony(colonyid, "chaos"))
        executor_keys = [generate_private_key() for _ in range(config.executors)]
        submitter_keys = [generate_private_key() for _ in range(max(config.submitters, 1))]
        for role, keys in ((EXECUTOR_TYPE, executor_keys), (SUBMITTER_TYPE, submitter_keys)):
            for index, key in enumerate(keys):
                await self._add_member(rng, colony_prvkey, role, index, key)
        setup = ColonySetup(colonyid, colony_prvkey, executor_keys, submitter_keys)
        self.setup = setup  # the embedded workflows below name the colony
        member = submitter_keys[0]
        cron = await self.retry(
            rng,
            member,
            lambda c: c.add_cron(
                colonyid, "chaos-cron", self.workflow(CRON_FUNC), interval=config.cron_interval
            ),
        )
        generator = await self.retry(
            rng,
            member,
            lambda c: c.add_generator(
                colonyid, "chaos-gen", self.workflow(GENERATOR_FUNC), config.generator_trigger
            ),
        )
        setup.cronid, setup.generatorid = cron["cronid"], generator["generatorid"]
        self.history.record(
            "setup",
            colonyid=colonyid,
            cronid=setup.cronid,
            generatorid=setup.generatorid,
            executors=[id_of_private_key(k) for k in executor_keys],
            config={k: str(v) for k, v in vars(config).items()},
        )
        return setup

    async def _add_member(
        self, rng: random.Random, colony_key: str, kind: str, index: int, key: str
    ) -> None:
        """An approved executor of `kind`; the colony's own key signs (its id is the colony)."""
        colonyid, executorid = id_of_private_key(colony_key), id_of_private_key(key)
        name = f"{kind}-{index}"
        await self.retry(
            rng, colony_key, lambda c: c.add_executor(executorid, colonyid, kind, name)
        )
        await self.retry(rng, colony_key, lambda c: c.approve_executor(executorid))

    def spec(self, funcname: str, args: list[Any] | None = None) -> dict[str, Any]:
        return function_spec(
            self.colony().colonyid,
            EXECUTOR_TYPE,
            funcname,
            args=args,
            maxexectime=self.config.maxexectime,
            maxretries=-1,
        )

    def workflow(self, funcname: str) -> str:
        """The one-node workflow a cron or generator starts, as the JSON string they carry."""
        return json.dumps([self.spec(funcname)])

    # -- executors --------------------------------------------------------------------

    def start_executors(self) -> None:
        for index in range(self.config.executors):
            self.start_executor(index)

    def start_executor(self, index: int, life: int = 0) -> None:
        self.executor_tasks[index] = asyncio.create_task(
            self.run_executor(index, life), name=f"executor-{index}"
        )

    async def stop_all_executors(self) -> None:
        self.stop_executors.set()
        tasks = [*self.executor_tasks.values(), *self.retired_executors]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run_executor(self, index: int, life: int = 0) -> None:
        """Assign, work a little, close (retrying the close elsewhere), until told to stop."""
        key = self.colony().executor_keys[index]
        name, rng = f"e{index}", random.Random(f"{self.config.seed}-e{index}-{life}")
        while not self.stop_executors.is_set():
            process = await self._assign(name, key, rng)
            if process is None:
                continue
            self.working[index] = process  # an executor-kill fault strikes here
            self.someone_working.set()
            try:
                await asyncio.sleep(rng.uniform(0, self.config.work_max))
            finally:
                self.working.pop(index, None)
                if not self.working:
                    self.someone_working.clear()
            kind = "failed" if rng.random() < self.config.fail_ratio else "successful"
            await self._close(name, key, rng, process, kind)

    async def _assign(self, name: str, key: str, rng: random.Random) -> dict[str, Any] | None:
        live = self.live()
        if not live:
            await asyncio.sleep(RETRY_PAUSE)
            return None
        replica, t0 = rng.choice(live), time.time()
        try:
            process = await self.client(replica, key).assign(self.colony().colonyid, ASSIGN_TIMEOUT)
        except CALL_ERRORS as exc:
            status = error_status(exc)
            self.history.record(
                "assign", ok=False, executor=name, replica=replica.name, t0=t0,
                empty=status == 404, error=error_text(exc),
            )  # fmt: skip
            if status != 404:
                await asyncio.sleep(RETRY_PAUSE)
            return None
        self.history.record(
            "assign", ok=True, executor=name, replica=replica.name, t0=t0,
            processid=process["processid"], retries=process["retries"],
            start=parse_time(process["starttime"]), maxexectime=process["spec"]["maxexectime"],
            funcname=process["spec"]["funcname"],
        )  # fmt: skip
        return process

    async def _close(
        self, name: str, key: str, rng: random.Random, process: dict[str, Any], kind: str
    ) -> None:
        processid = process["processid"]
        deadline = parse_time(process["starttime"]) + process["spec"]["maxexectime"]
        for attempt in range(CLOSE_ATTEMPTS):
            replica, t0 = rng.choice(self.live() or self.cluster.replicas), time.time()
            client = self.client(replica, key)
            try:
                if kind == "successful":
                    await client.close(processid, [name])
                else:
                    await client.fail(processid, [f"{name} fails on purpose"])
            except CALL_ERRORS as exc:
                self.history.record(
                    "close", ok=False, executor=name, replica=replica.name, t0=t0,
                    processid=processid, retries=process["retries"], kind=kind,
                    attempt=attempt, error=error_text(exc),
                )  # fmt: skip
                if error_status(exc) in DEFINITIVE or time.time() > deadline:
                    return
                await asyncio.sleep(RETRY_PAUSE)
                continue
            self.history.record(
                "close", ok=True, executor=name, replica=replica.name, t0=t0,
                processid=processid, retries=process["retries"], kind=kind, attempt=attempt,
            )  # fmt: skip
            return

    # -- submitters and the packer ------------------------------------------------------

    async def run_submitter(self, index: int) -> None:
        """Plain submits at a steady pace, each with a marker of its own to find it by."""
        key = self.colony().submitter_keys[index]
        rng = random.Random(f"{self.config.seed}-s{index}")
        period = max(self.config.submitters, 1) / max(self.config.submit_rate, 0.01)
        sequence = 0
        while not self.stop_load.is_set():
            marker = f"s{index}-{sequence}"
            sequence += 1
            replica, t0 = rng.choice(self.live() or self.cluster.replicas), time.time()
            try:
                reply = await self.client(replica, key).submit(self.spec(PLAIN_FUNC, [marker]))
                self.history.record(
                    "submit", ok=True, marker=marker, replica=replica.name, t0=t0,
                    processid=reply["processid"],
                )  # fmt: skip
            except CALL_ERRORS as exc:
                self.history.record(
                    "submit", ok=False, marker=marker, replica=replica.name, t0=t0,
                    error=error_text(exc),
                )  # fmt: skip
            await asyncio.sleep(rng.uniform(0.5, 1.5) * period)

    async def run_packer(self) -> None:
        """Unique args into the generator; a retried pack gets a new arg, never the same one."""
        setup = self.colony()
        rng = random.Random(f"{self.config.seed}-p")
        period = 1 / max(self.config.pack_rate, 0.01)
        sequence = 0
        while not self.stop_load.is_set():
            arg = f"pack-{sequence}"
            sequence += 1
            replica, t0 = rng.choice(self.live() or self.cluster.replicas), time.time()
            try:
                await self.client(replica, setup.submitter_keys[0]).pack_generator(
                    setup.generatorid, arg
                )
                self.history.record("pack", ok=True, arg=arg, replica=replica.name, t0=t0)
            except CALL_ERRORS as exc:
                self.history.record(
                    "pack", ok=False, arg=arg, replica=replica.name, t0=t0, error=error_text(exc)
                )
            await asyncio.sleep(rng.uniform(0.5, 1.5) * period)

    async def remove_cron(self) -> None:
        """Stop new firings so the run can drain; the cron's past firings stay to be checked."""
        setup = self.colony()
        rng = random.Random(f"{self.config.seed}-end")
        await self.retry(rng, setup.submitter_keys[0], lambda c: c.delete_cron(setup.cronid))
        self.history.record("cron_deleted", cronid=setup.cronid)

    # -- faults -----------------------------------------------------------------------

    async def run_faults(self) -> None:
        """One fault at a time (3 replicas keep a quorum of 2), each healed before the next."""
        rng = random.Random(self.config.seed)
        index, last = 0, time.monotonic()
        while True:
            due = last + rng.uniform(0.75, 1.25) * self.config.fault_interval
            if await _wait(self.stop_load, max(due - time.monotonic(), MIN_HEALTHY)):
                return
            last = time.monotonic()
            await self.inject(rng, index)
            index += 1

    def next_kind(self, rng: random.Random) -> str:
        """Shuffled rounds over the configured kinds: every kind comes up once a round."""
        if not self._round:
            kinds = list(self.config.faults)
            rng.shuffle(kinds)
            self._round = kinds
        return self._round.pop()

    async def inject(self, rng: random.Random, index: int) -> None:
        """One fault of the next kind, healed before returning."""
        kind = self.next_kind(rng)
        if kind in REPLICA_FAULTS or kind in WORKER_FAULTS:
            await self._replica_fault(rng, index, kind)
        elif kind in DATABASE_FAULTS:
            await self._database_fault(index, kind)
        else:
            await self._executor_fault(rng, index)

    async def _replica_fault(self, rng: random.Random, index: int, kind: str) -> None:
        """Kill -9 (restart later) or SIGSTOP (SIGCONT later) one replica, or kill -9 one of
        its serving workers (its primary restarts it); first the leader."""
        leader = await self.leader_name()
        wants_leader = index == 0 or rng.random() < 0.5
        names = [r.name for r in self.cluster.replicas]
        others = [n for n in names if n != leader]
        target_name = leader if wants_leader and leader else rng.choice(others)
        target = next(r for r in self.cluster.replicas if r.name == target_name)
        self.faulted = target
        if kind == "kill":
            self.cluster.kill(target)
        elif kind == "worker-kill":
            self.cluster.kill_worker(target, rng)
        else:
            self.cluster.pause(target)
        self.history.record(
            "fault", kind=kind, replica=target.name, leader=target.name == leader, index=index
        )
        if kind == "worker-kill":
            await asyncio.sleep(self.config.restart_delay)  # its primary restarts it
            self.history.record("heal", kind="respawn", replica=target.name, index=index)
        elif kind == "kill":
            await asyncio.sleep(self.config.restart_delay)
            self.cluster.start(target)
            self.history.record("heal", kind="restart", replica=target.name, index=index)
        else:
            await asyncio.sleep(self.config.pause_seconds)
            self.cluster.resume(target)
            self.history.record("heal", kind="resume", replica=target.name, index=index)
        self.faulted = None

    async def _database_fault(self, index: int, kind: str) -> None:
        """Fail the primary over to its standby, restart it, or pause it (a lost network).

        The launcher's calls block (a promotion, a base backup), so they run on a thread
        while the actors keep going.
        """
        pair = self.database
        assert pair is not None, "database faults need the run's own primary and standby"
        self.history.record("fault", kind=kind, replica=DATABASE, leader=False, index=index)
        if kind == "db-failover":
            await asyncio.to_thread(pair.fail_over)
            self.history.record("heal", kind="promoted", replica=DATABASE, index=index)
            await asyncio.to_thread(pair.rebuild_standby)
            self.history.record("heal", kind="standby-rebuilt", replica=DATABASE, index=index)
        elif kind == "db-restart":
            await asyncio.to_thread(pair.primary.restart, self.config.db_down_seconds)
            self.history.record("heal", kind="restarted", replica=DATABASE, index=index)
        else:
            pair.primary.pause()
            try:
                await asyncio.sleep(self.config.pause_seconds)
            finally:
                pair.primary.resume()
            self.history.record("heal", kind="resume", replica=DATABASE, index=index)

    async def _executor_fault(self, rng: random.Random, index: int) -> None:
        """Kill an executor in the middle of a process; a new one takes its place later.

        Its process stays RUNNING until its maxexectime passes; then the deadline scan puts
        it back in the queue and another executor finishes it (`abandoned_processes`).
        """
        if not self.working:
            await _wait(self.someone_working, WORKING_WAIT)
        if not self.working:
            return
        victim = rng.choice(sorted(self.working))
        process = self.working[victim]
        task = self.executor_tasks.pop(victim)
        task.cancel()
        self.retired_executors.append(task)
        self.history.record(
            "fault", kind="executor-kill", replica=f"e{victim}", leader=False, index=index,
            processid=process["processid"], retries=process["retries"],
        )  # fmt: skip
        await asyncio.sleep(self.config.restart_delay)
        self.start_executor(victim, life=index + 1)
        self.history.record("heal", kind="restart", replica=f"e{victim}", index=index)

    async def leader_name(self) -> str | None:
        """The replica most live replicas name as leader (None when they do not know)."""
        try:
            views = await asyncio.wait_for(self.cluster.leaders(self.http), 5)
        except TimeoutError:
            return None
        named = [v for v in views.values() if v]
        if not named:
            return None
        address = max(set(named), key=named.count)
        return next((r.name for r in self.cluster.replicas if r.raft_address == address), None)

    def heal_all(self) -> None:
        """Whatever the injector left behind: every replica and the database running."""
        if self.database is not None:
            if self.database.primary.running:
                self.database.primary.resume()
            else:
                self.database.primary.start()
        for replica in self.cluster.replicas:
            if replica.alive:
                self.cluster.resume(replica)
            else:
                self.cluster.start(replica)


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` unless `event` is set first; True when it was."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True
