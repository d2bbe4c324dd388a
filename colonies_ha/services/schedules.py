"""Generators (packed args start workflows) and crons (time starts workflows)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from colonies_ha.domain.errors import BadRequest, NotFound
from colonies_ha.domain.schedule import generator_batches, next_run
from colonies_ha.domain.specs import parse_workflow_spec, with_colony
from colonies_ha.domain.states import ProcessState
from colonies_ha.domain.timeutil import rfc3339, utcnow
from colonies_ha.protocol.crypto import new_object_id
from colonies_ha.services import workflows
from colonies_ha.store import repo
from colonies_ha.store.db import Conn

Json = dict[str, Any]
CHECKER_PERIOD_MS = 1000


def parse_embedded_workflow(text: str, colonyid: str, colonyname: str = "") -> list[Json]:
    """Generators and crons carry their workflow as a JSON string; check it on the way in.
    The colony is the generator's or cron's, whatever the text names (id or name)."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise BadRequest("the workflowspec must be a JSON string of a workflow spec") from exc
    if isinstance(raw, list):  # a bare list of function specs, as the CLI files are
        raw = {"functionspecs": raw}
    if not isinstance(raw, dict):
        raise BadRequest("the workflowspec must describe a JSON object")
    _, specs = parse_workflow_spec({**raw, "colonyid": colonyid, "colonyname": ""})
    return [with_colony(s, colonyid, colonyname) for s in specs]


async def _embedded_workflow(conn: Conn, row: Json) -> list[Json]:
    """The stored workflow of a generator or cron row, with its colony's name."""
    colony = await repo.get_colony(conn, row["colonyid"])
    name = colony["name"] if colony else ""
    return parse_embedded_workflow(row["workflowspec"], row["colonyid"], name)


# -- generators -----------------------------------------------------------------------


def generator_json(row: Json) -> Json:
    return {
        "generatorid": row["generatorid"],
        "colonyid": row["colonyid"],
        "colonyname": row.get("colonyname", ""),
        "name": row["name"],
        "workflowspec": row["workflowspec"],
        "trigger": row["trigger"],
        "lastrun": rfc3339(row["lastrun"]),
        "queuesize": int(row["queuesize"]),
        "checkerperiod": row["checkerperiod"],
    }


async def add_generator(conn: Conn, generator: Json, colonyname: str = "") -> Json:
    parse_embedded_workflow(generator["workflowspec"], generator["colonyid"])
    row = await repo.one(conn, "insert_generator", {**generator, "generatorid": new_object_id()})
    if row is None:
        raise BadRequest(f"a generator named '{generator['name']}' already exists in the colony")
    return generator_json({**row, "colonyname": colonyname})


async def get_generator(conn: Conn, generatorid: str) -> Json:
    row = await repo.one(conn, "get_generator", {"generatorid": generatorid})
    if row is None:
        raise NotFound(f"generator {generatorid} does not exist")
    return row


async def resolve_generator(conn: Conn, colonyid: str, name: str) -> Json:
    row = await repo.one(conn, "resolve_generator", {"colonyid": colonyid, "name": name})
    if row is None:
        raise NotFound(f"no generator named '{name}' in colony {colonyid}")
    return generator_json(row)


async def list_generators(
    conn: Conn, colonyid: str, count: int, colonyname: str = ""
) -> list[Json]:
    rows = await repo.all_rows(conn, "list_generators", {"colonyid": colonyid, "count": count})
    return [generator_json({**r, "colonyname": colonyname}) for r in rows]


async def pack(conn: Conn, generatorid: str, arg: str) -> None:
    await repo.run(conn, "pack_generator_arg", {"generatorid": generatorid, "arg": arg})


async def delete_generator(conn: Conn, generatorid: str) -> None:
    await repo.run(conn, "delete_generator", {"generatorid": generatorid})


async def trigger_generator(conn: Conn, generatorid: str) -> int:
    """Start ⌊queued/trigger⌋ workflows from the queue; call inside a fenced transaction."""
    generator = await repo.one(conn, "lock_generator", {"generatorid": generatorid})
    if generator is None:  # deleted, or another scanner holds it right now
        return 0
    row = await repo.one(conn, "get_generator", {"generatorid": generatorid})
    assert row is not None
    trigger = generator["trigger"]
    batches = generator_batches(int(row["queuesize"]), trigger)
    if batches == 0:
        return 0
    args = await repo.all_rows(
        conn, "take_generator_args", {"generatorid": generatorid, "count": batches * trigger}
    )
    args.sort(key=lambda a: a["seq"])
    specs = await _embedded_workflow(conn, generator)
    for batch in range(batches):
        chunk = [a["arg"] for a in args[batch * trigger : (batch + 1) * trigger]]
        await workflows.submit_workflow(conn, generator["colonyid"], specs, root_args=chunk)
    await repo.run(conn, "generator_ran", {"generatorid": generatorid})
    return batches


# -- crons ----------------------------------------------------------------------------


def cron_json(row: Json) -> Json:
    return {
        "cronid": row["cronid"],
        "colonyid": row["colonyid"],
        "colonyname": row.get("colonyname", ""),
        "name": row["name"],
        "cronexpression": row["cronexpression"],
        "interval": row["interval"],
        "random": row["random"],
        "nextrun": rfc3339(row["nextrun"]),
        "lastrun": rfc3339(row["lastrun"]),
        "workflowspec": row["workflowspec"],
        "prevprocessgraphid": row["prevprocessgraphid"],
        "waitforprevprocessgraph": row["waitforprevprocessgraph"],
        "checkerperiod": CHECKER_PERIOD_MS,
    }


async def add_cron(conn: Conn, cron: Json, colonyname: str = "") -> Json:
    parse_embedded_workflow(cron["workflowspec"], cron["colonyid"])
    row = await repo.one(conn, "insert_cron", {**cron, "cronid": new_object_id()})
    if row is None:
        raise BadRequest(f"a cron named '{cron['name']}' already exists in the colony")
    return cron_json({**row, "colonyname": colonyname})


async def get_cron(conn: Conn, cronid: str) -> Json:
    row = await repo.one(conn, "get_cron", {"cronid": cronid})
    if row is None:
        raise NotFound(f"cron {cronid} does not exist")
    return row


async def list_crons(conn: Conn, colonyid: str, count: int, colonyname: str = "") -> list[Json]:
    rows = await repo.all_rows(conn, "list_crons", {"colonyid": colonyid, "count": count})
    return [cron_json({**r, "colonyname": colonyname}) for r in rows]


async def delete_cron(conn: Conn, cronid: str) -> None:
    await repo.run(conn, "delete_cron", {"cronid": cronid})


def _next_after(cron: Json, moment: datetime) -> datetime:
    return next_run(cron["cronexpression"], cron["interval"], moment, jitter=cron["random"])


async def schedule_new_crons(conn: Conn) -> int:
    """The first scan after adding a cron only decides when it fires first."""
    scheduled = 0
    for cron in await repo.all_rows(conn, "crons_to_schedule"):
        scheduled += await repo.run(
            conn,
            "schedule_cron",
            {"cronid": cron["cronid"], "nextrun": _next_after(cron, utcnow())},
        )
    return scheduled


async def fire_cron(conn: Conn, cronid: str, *, due: datetime | None, manual: bool) -> Json | None:
    """Start the cron's workflow for slot `due` (or now, when `manual`); exactly once.

    The row lock keeps racing scanners out; the compare-and-set on nextrun in the same
    transaction as the submitted workflow makes the slot fire once even if a lock is lost.
    """
    cron = await repo.one(conn, "lock_cron_wait" if manual else "lock_cron", {"cronid": cronid})
    if cron is None or (not manual and cron["nextrun"] != due):
        return None
    previous = cron["prevprocessgraphid"]
    previous_graph = None
    if previous:
        previous_graph = await repo.one(conn, "get_processgraph", {"processgraphid": previous})
    finished = (ProcessState.SUCCESSFUL, ProcessState.FAILED)
    if (
        not manual
        and cron["waitforprevprocessgraph"]
        and previous_graph is not None
        and previous_graph["state"] not in finished
    ):
        return None  # hold this slot until the previous run has finished
    root_input: list[Any] = []
    if previous_graph is not None:
        outputs = await repo.one(conn, "graph_leaf_outputs", {"processgraphid": previous})
        root_input = list(outputs["outputs"]) if outputs else []
    specs = await _embedded_workflow(conn, cron)
    graph = await workflows.submit_workflow(conn, cron["colonyid"], specs, root_input=root_input)
    nextrun = cron["nextrun"] if manual else _next_after(cron, max(utcnow(), due or utcnow()))
    row = await repo.one(
        conn,
        "cron_fired",
        {
            "cronid": cronid,
            "nextrun": nextrun,
            "graphid": graph["processgraphid"],
            "due": cron["nextrun"],
        },
    )
    assert row is not None  # we hold the row lock
    return cron_json(row)
