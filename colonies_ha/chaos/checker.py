"""Judging a chaos run: invariants over the history and the final database.

Each check returns an `Invariant` with what it looked at and every violation it found,
worded so that the report alone points at the offending process and the ops to read in the
history.  Faults cause errors, retries and redeliveries; none of those is a violation.
A violation is something the design promises never happens: two holders of one attempt, a
lost or stuck process, a close nobody made, a cron slot fired twice, a packed arg used twice
or lost.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from colonies_ha.chaos.history import History, Op
from colonies_ha.chaos.workload import CRON_FUNC, GENERATOR_FUNC, PLAIN_FUNC

CLOCK_SLACK = 0.25  # seconds: history stamps and Postgres now() share the machine's clock
CRON_GAP_RATIO = 0.8  # two firings closer than this share of the interval fired one slot
MAX_LISTED = 8  # violations listed per invariant; the count is always complete
TERMINAL = (2, 3)
STATE_OF_KIND = {"successful": 2, "failed": 3}


@dataclass
class Invariant:
    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass
class FaultGap:
    """How long after one fault the cluster went without a successful assign."""

    index: int
    kind: str
    replica: str
    leader: bool
    at: float
    gap: float | None  # None: no assign succeeded before the run ended


@dataclass
class Snapshot:
    """The database after the run settled, reduced to what the checks need."""

    processes: list[dict[str, Any]]
    graphs: list[dict[str, Any]]
    queued_args: list[str]
    epoch: int = 0  # the fencing epoch: one more per leader that took office


async def read_epoch(database_url: str) -> int:
    conn = await psycopg.AsyncConnection.connect(database_url)
    async with conn:
        cursor = await conn.execute("SELECT epoch FROM leader WHERE id = 1")
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def read_snapshot(database_url: str, colonyid: str, generatorid: str) -> Snapshot:
    conn = await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row)
    async with conn:
        processes = await _fetch(
            conn,
            "SELECT processid, state, assignedexecutorid, retries, processgraphid, maxexectime,"
            " spec->>'funcname' AS funcname, spec->'args' AS args FROM processes"
            " WHERE colonyid = %s",
            colonyid,
        )
        graphs = await _fetch(
            conn,
            "SELECT g.processgraphid, extract(epoch FROM g.submissiontime)::float8 AS submitted,"
            " p.spec->>'funcname' AS funcname, p.spec->'args' AS args"
            " FROM processgraphs g JOIN processes p ON p.processid = g.rootprocessids[1]"
            " WHERE g.colonyid = %s ORDER BY g.submissiontime",
            colonyid,
        )
        queued = await _fetch(
            conn, "SELECT arg FROM generator_args WHERE generatorid = %s ORDER BY seq", generatorid
        )
    epoch = await read_epoch(database_url)
    return Snapshot(processes, graphs, [row["arg"] for row in queued], epoch)


async def _fetch(conn: psycopg.AsyncConnection[Any], query: str, arg: str) -> list[Any]:
    cursor = await conn.execute(query, (arg,))  # type: ignore[arg-type]
    return await cursor.fetchall()


def check(
    history: History, snapshot: Snapshot, *, cron_interval: float, trigger: int
) -> list[Invariant]:
    """Every invariant, in the order the report shows them."""
    return [
        single_holder(history),
        all_terminal(snapshot),
        submits_reconciled(history, snapshot),
        closed_by_assignee(history, snapshot),
        cron_slots_once(snapshot, cron_interval),
        packed_args_once(history, snapshot, trigger),
        abandoned_processes_finish(history, snapshot),
    ]


# -- one holder per attempt -----------------------------------------------------------


def _holds(history: History) -> dict[str, list[Op]]:
    """Successful assigns per process, by the server's start time of the attempt."""
    holds: dict[str, list[Op]] = defaultdict(list)
    for op in history.of("assign"):
        if op["ok"]:
            holds[op["processid"]].append(op)
    for ops in holds.values():
        ops.sort(key=lambda o: o["start"])
    return holds


def _first_close(history: History) -> dict[tuple[str, str, int], Op]:
    """(process, executor, retries) -> that executor's first close request of that attempt."""
    closes: dict[tuple[str, str, int], Op] = {}
    for op in history.of("close"):
        closes.setdefault((op["processid"], op["executor"], op["retries"]), op)
    return closes


def _acked_close(history: History) -> dict[str, Op]:
    return {op["processid"]: op for op in history.of("close") if op["ok"]}


def single_holder(history: History) -> Invariant:
    """No attempt handed out twice; a new attempt only after the last one's deadline."""
    inv = Invariant("no process attempt held by two executors at once")
    closes, acked = _first_close(history), _acked_close(history)
    for processid, ops in _holds(history).items():
        inv.checked += len(ops)
        seen = Counter(op["retries"] for op in ops)
        for retries, count in seen.items():
            if count > 1:
                who = [o["executor"] for o in ops if o["retries"] == retries]
                inv.violations.append(
                    f"{processid} attempt retries={retries} assigned {count} times: {who}"
                )
        for first, second in itertools.pairwise(ops):
            problem = _overlap(first, second, closes, acked.get(processid))
            if problem:
                inv.violations.append(f"{processid}: {problem}")
    return inv


def _overlap(
    first: Op, second: Op, closes: dict[tuple[str, str, int], Op], acked: Op | None
) -> str | None:
    """Why `second` was handed out while `first` was still legitimately held, if it was."""
    close = closes.get((first["processid"], first["executor"], first["retries"]))
    if acked is not None and acked["t"] < second["start"] - CLOCK_SLACK:
        return (
            f"assigned to {second['executor']} at {second['start']:.3f} after "
            f"{acked['executor']}'s close was acknowledged at {acked['t']:.3f}"
        )
    held_until = first["start"] + first["maxexectime"]
    if close is not None:
        held_until = min(held_until, close["t0"])
    if second["start"] < held_until - CLOCK_SLACK:
        return (
            f"{first['executor']} held it from {first['start']:.3f} until {held_until:.3f} "
            f"(maxexectime {first['maxexectime']} s) but {second['executor']} was assigned it "
            f"at {second['start']:.3f}"
        )
    return None


# -- nothing lost, nothing stuck ------------------------------------------------------


def all_terminal(snapshot: Snapshot) -> Invariant:
    inv = Invariant("every submitted process reaches a terminal state")
    inv.checked = len(snapshot.processes)
    stuck = [p for p in snapshot.processes if p["state"] not in TERMINAL]
    for process in stuck[:MAX_LISTED]:
        inv.violations.append(
            f"{process['processid']} ({process['funcname']}) still in state {process['state']} "
            f"(assignee '{process['assignedexecutorid'][:12]}', retries {process['retries']})"
        )
    if len(stuck) > MAX_LISTED:
        inv.violations.append(f"... and {len(stuck) - MAX_LISTED} more not terminal")
    states = Counter(p["state"] for p in snapshot.processes)
    inv.note = f"{states[2]} successful, {states[3]} failed, {len(stuck)} not terminal"
    return inv


def submits_reconciled(history: History, snapshot: Snapshot) -> Invariant:
    """Acknowledged submits exist exactly once; unacknowledged ones at most once."""
    inv = Invariant("every acknowledged submit is in the database, once")
    attempts = {op["marker"]: op for op in history.of("submit")}
    found: dict[str, list[str]] = defaultdict(list)
    for process in snapshot.processes:
        if process["funcname"] == PLAIN_FUNC:
            marker = (process["args"] or [None])[0]
            found[str(marker)].append(process["processid"])
    inv.checked = len(attempts)
    for marker, ids in found.items():
        if marker not in attempts:
            inv.violations.append(f"{ids} carry marker {marker!r} that no submit sent")
        elif len(ids) > 1:
            inv.violations.append(f"submit {marker} created {len(ids)} processes: {ids}")
    for marker, op in attempts.items():
        if op["ok"] and found.get(marker) != [op["processid"]]:
            inv.violations.append(
                f"submit {marker} acknowledged {op['processid']} but the database has "
                f"{found.get(marker, [])}"
            )
    lost_replies = sum(1 for op in attempts.values() if not op["ok"] and op["marker"] in found)
    inv.note = f"{lost_replies} unacknowledged submits took effect anyway"
    return inv


def closed_by_assignee(history: History, snapshot: Snapshot) -> Invariant:
    """A terminal process was closed, the way the database says, by the executor it names."""
    inv = Invariant("terminal processes closed by their assignee")
    executors = _executor_names(history)
    attempted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    acked: dict[str, list[Op]] = defaultdict(list)
    for op in history.of("close"):
        attempted[op["processid"]].add((op["executor"], op["kind"]))
        if op["ok"]:
            acked[op["processid"]].append(op)
    for process in snapshot.processes:
        if process["state"] not in TERMINAL:
            continue
        inv.checked += 1
        problem = _close_problem(process, executors, attempted, acked)
        if problem:
            inv.violations.append(f"{process['processid']}: {problem}")
    return inv


def _executor_names(history: History) -> dict[str, str]:
    """Executor id -> the name (e0, e1, ...) the history uses."""
    setup = next(history.of("setup"), None)
    ids = setup["executors"] if setup else []
    return {executorid: f"e{index}" for index, executorid in enumerate(ids)}


def _close_problem(
    process: dict[str, Any],
    executors: dict[str, str],
    attempted: dict[str, set[tuple[str, str]]],
    acked: dict[str, list[Op]],
) -> str | None:
    processid, state = process["processid"], process["state"]
    assignee = executors.get(process["assignedexecutorid"], process["assignedexecutorid"])
    oks = acked.get(processid, [])
    if len(oks) > 1:
        return f"closed {len(oks)} times with success: {[o['executor'] for o in oks]}"
    if oks and (oks[0]["executor"] != assignee or STATE_OF_KIND[oks[0]["kind"]] != state):
        return (
            f"{oks[0]['executor']}'s {oks[0]['kind']} close was acknowledged but the database "
            f"has state {state} by {assignee}"
        )
    kinds = {kind for who, kind in attempted.get(processid, set()) if who == assignee}
    if not any(STATE_OF_KIND[kind] == state for kind in kinds):
        return f"state {state} with assignee {assignee}, who never sent such a close"
    return None


def abandoned_processes_finish(history: History, snapshot: Snapshot) -> Invariant:
    """A process whose executor was killed mid-work is handed out again and finishes."""
    inv = Invariant("processes of killed executors finish elsewhere")
    state = {p["processid"]: p["state"] for p in snapshot.processes}
    holds = _holds(history)
    for fault in history.of("fault"):
        if fault["kind"] != "executor-kill":
            continue
        inv.checked += 1
        processid, retries = fault["processid"], fault["retries"]
        again = [op for op in holds.get(processid, []) if op["retries"] > retries]
        if not again and state.get(processid) not in TERMINAL:
            inv.violations.append(
                f"{processid}, abandoned by {fault['replica']} at attempt retries={retries}, "
                f"was never assigned again and is in state {state.get(processid)}"
            )
        elif state.get(processid) not in TERMINAL:
            inv.violations.append(f"{processid} was assigned again but never finished")
    inv.note = f"{inv.checked} executors killed mid-process"
    return inv


# -- crons and generators -------------------------------------------------------------


def cron_slots_once(snapshot: Snapshot, interval: float) -> Invariant:
    inv = Invariant("each cron slot fired once")
    firings = [g for g in snapshot.graphs if g["funcname"] == CRON_FUNC]
    inv.checked = len(firings)
    gaps = []
    for earlier, later in itertools.pairwise(firings):
        gap = later["submitted"] - earlier["submitted"]
        gaps.append(gap)
        if gap < CRON_GAP_RATIO * interval:
            inv.violations.append(
                f"graphs {earlier['processgraphid']} and {later['processgraphid']} fired "
                f"{gap:.3f} s apart (interval {interval:g} s)"
            )
    if gaps:
        inv.note = f"{len(firings)} firings, gaps {min(gaps):.2f}..{max(gaps):.2f} s"
    return inv


def packed_args_once(history: History, snapshot: Snapshot, trigger: int) -> Invariant:
    """Acked args used exactly once (or still queued); unacked at most once; whole batches."""
    inv = Invariant("each packed arg used once")
    packs = {op["arg"]: op for op in history.of("pack")}
    used: Counter[str] = Counter()
    for graph in snapshot.graphs:
        if graph["funcname"] != GENERATOR_FUNC:
            continue
        args = [str(a) for a in graph["args"] or []]
        used.update(args)
        if len(args) != trigger:
            inv.violations.append(
                f"workflow {graph['processgraphid']} got {len(args)} args, trigger is {trigger}"
            )
    used.update(snapshot.queued_args)
    inv.checked = len(packs)
    if len(snapshot.queued_args) >= trigger:
        inv.violations.append(f"{len(snapshot.queued_args)} args left queued (trigger {trigger})")
    for arg, count in used.items():
        if arg not in packs:
            inv.violations.append(f"arg {arg!r} used but never packed")
        elif count > 1:
            inv.violations.append(f"arg {arg!r} used {count} times")
    missing = [arg for arg, op in packs.items() if op["ok"] and used[arg] == 0]
    for arg in missing[:MAX_LISTED]:
        inv.violations.append(f"acknowledged arg {arg!r} is in no workflow and not queued")
    workflows = sum(1 for g in snapshot.graphs if g["funcname"] == GENERATOR_FUNC)
    inv.note = f"{workflows} workflows, {len(snapshot.queued_args)} args still queued"
    return inv


# -- availability ---------------------------------------------------------------------


def failover_gaps(history: History) -> list[FaultGap]:
    """Per fault: the time to the next successful assign reply, by any executor."""
    assigned = sorted(op["t"] for op in history.of("assign") if op["ok"])
    gaps = []
    for fault in history.of("fault"):
        after = next((t for t in assigned if t > fault["t"]), None)
        gaps.append(
            FaultGap(
                index=fault["index"],
                kind=fault["kind"],
                replica=fault["replica"],
                leader=fault["leader"],
                at=fault["t"],
                gap=None if after is None else after - fault["t"],
            )
        )
    return gaps


def longest_assign_gap(history: History) -> tuple[float, float]:
    """(gap, when) of the longest stretch of the load phase without a successful assign."""
    phases = {op["name"]: op["t"] for op in history.of("phase")}
    start, end = phases.get("load", 0.0), phases.get("settle", float("inf"))
    assigned = (op["t"] for op in history.of("assign") if op["ok"] and start < op["t"] < end)
    times = [start, *sorted(assigned)]
    if len(times) < 2:
        return 0.0, start
    gap, before = max((b - a, a) for a, b in itertools.pairwise(times))
    return gap, before - start


def availability(gaps: list[FaultGap], max_gap: float) -> Invariant:
    """Liveness: after every fault some executor was assigned work within `max_gap`."""
    inv = Invariant(f"an assign succeeds within {max_gap:g} s of each fault")
    inv.checked = len(gaps)
    for gap in gaps:
        if gap.gap is None or gap.gap > max_gap:
            took = "never" if gap.gap is None else f"after {gap.gap:.2f} s"
            inv.violations.append(f"fault #{gap.index} ({gap.kind} {gap.replica}): {took}")
    measured = [g.gap for g in gaps if g.gap is not None]
    if measured:
        inv.note = f"max {max(measured):.2f} s, median {statistics.median(measured):.2f} s"
    return inv
