"""Blueprint definitions, blueprints, their history, and the reconciliations they start.

As the newest upstream server does: adding a blueprint whose definition names a handler
creates the periodic reconcile cron of its kind and location (if missing) and submits an
immediate reconcile process; a spec change (or a forced generation) submits another;
removing one submits a cleanup process and drops the cron once its kind has no blueprint
left at that location.  Here each of these happens in the one transaction that changes the
blueprint, so no half of it can be lost.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from psycopg.types.json import Jsonb

from colonies_ha.domain import blueprints as bp
from colonies_ha.domain.errors import BadRequest, Conflict, NotFound
from colonies_ha.domain.ids import new_object_id
from colonies_ha.domain.processes import new_process
from colonies_ha.domain.specs import parse_function_spec, with_colony
from colonies_ha.domain.timeutil import rfc3339, utcnow
from colonies_ha.domain.validation import ColonyRef
from colonies_ha.services import schedules
from colonies_ha.services.auth import Caller
from colonies_ha.services.submission import insert_new_processes
from colonies_ha.store import repo
from colonies_ha.store.db import Conn

log = logging.getLogger(__name__)

Json = dict[str, Any]


def _now() -> str:
    return rfc3339(utcnow())


# -- definitions ------------------------------------------------------------------------


async def add_definition(conn: Conn, colonyid: str, definition: Json) -> Json:
    definition = {**definition, "blueprintdefinitionid": new_object_id()}
    row = await repo.one(
        conn,
        "insert_blueprint_definition",
        {
            "definitionid": definition["blueprintdefinitionid"],
            "colonyid": colonyid,
            "name": definition["metadata"]["name"],
            "kind": definition["spec"]["names"]["kind"],
            "data": Jsonb(definition),
        },
    )
    if row is None:
        raise Conflict(
            f"a blueprint definition named '{definition['metadata']['name']}' already exists "
            f"in colony '{definition['metadata']['colonyname']}'"
        )
    return row["data"]


async def get_definition(conn: Conn, colonyid: str, name: str) -> Json:
    row = await repo.one(conn, "get_blueprint_definition", {"colonyid": colonyid, "name": name})
    if row is None:
        raise NotFound(f"blueprint definition '{name}' not found")
    return row["data"]


async def list_definitions(conn: Conn, colonyid: str) -> list[Json]:
    rows = await repo.all_rows(conn, "list_blueprint_definitions", {"colonyid": colonyid})
    return [r["data"] for r in rows]


async def remove_definition(conn: Conn, caller: Caller, name: str) -> None:
    """Refused (409) while blueprints of its kind exist."""
    params = {"colonyid": caller.colonyid, "name": name}
    if await repo.one(conn, "delete_blueprint_definition", params) is not None:
        return
    definition = await repo.one(conn, "get_blueprint_definition", params)
    if definition is None:
        raise NotFound(f"blueprint definition '{name}' not found in colony '{caller.colonyname}'")
    kind = definition["data"]["spec"]["names"]["kind"]
    count = await repo.one(
        conn, "count_blueprints_of_kind", {"colonyid": caller.colonyid, "kind": kind}
    )
    raise Conflict(
        f"cannot remove blueprint definition '{name}': {count['count'] if count else 0} "
        f"blueprint(s) of kind '{kind}' still exist"
    )


async def _definition_of_kind(conn: Conn, colonyid: str, kind: str) -> Json | None:
    row = await repo.one(conn, "blueprint_definition_of_kind", {"colonyid": colonyid, "kind": kind})
    return None if row is None else row["data"]


async def _checked_definition(conn: Conn, caller: Caller, blueprint: Json) -> Json:
    """The definition of the blueprint's kind (required), whose schema the spec must pass."""
    definition = await _definition_of_kind(conn, caller.colonyid, blueprint["kind"])
    if definition is None:
        raise BadRequest(
            f"BlueprintDefinition for kind '{blueprint['kind']}' not found in colony "
            f"'{caller.colonyname}'"
        )
    bp.validate_against_schema(blueprint["spec"], definition["spec"].get("schema"))
    return definition


# -- blueprints -------------------------------------------------------------------------


def _row_params(blueprint: Json, colonyid: str) -> Json:
    return {
        "blueprintid": blueprint["blueprintid"],
        "colonyid": colonyid,
        "name": blueprint["metadata"]["name"],
        "kind": blueprint["kind"],
        "locationname": blueprint["metadata"].get("locationname", ""),
        "data": Jsonb(blueprint),
    }


async def add_blueprint(conn: Conn, caller: Caller, blueprint: Json) -> Json:
    """Store it, record its history, and start its reconciliation; call in a transaction."""
    definition = await _checked_definition(conn, caller, blueprint)
    blueprint = {**blueprint, "blueprintid": new_object_id()}
    row = await repo.one(conn, "insert_blueprint", _row_params(blueprint, caller.colonyid))
    if row is None:
        raise Conflict(
            f"blueprint with name '{blueprint['metadata']['name']}' already exists in colony "
            f"'{caller.colonyname}'"
        )
    await _record_history(conn, caller, blueprint, "create")
    executortype, funcname = bp.handler_of(definition)
    if executortype and funcname:
        await _ensure_reconcile_cron(conn, caller, blueprint, executortype, funcname)
        await _submit_reconcile(conn, caller, blueprint, executortype, funcname)
    return blueprint


async def get_blueprint(conn: Conn, colonyid: str, name: str, *, lock: bool = False) -> Json:
    row = await repo.one(
        conn, "lock_blueprint" if lock else "get_blueprint", {"colonyid": colonyid, "name": name}
    )
    if row is None:
        raise NotFound(f"blueprint '{name}' not found")
    return row["data"]


async def list_blueprints(conn: Conn, colonyid: str, kind: str, locationname: str) -> list[Json]:
    params = {"colonyid": colonyid, "kind": kind, "locationname": locationname}
    return [r["data"] for r in await repo.all_rows(conn, "list_blueprints", params)]


async def update_blueprint(conn: Conn, caller: Caller, blueprint: Json, *, force: bool) -> Json:
    """Replace spec/status/metadata; a changed spec (or `force`) bumps the generation,
    is recorded in the history and starts a reconciliation.  Call in a transaction."""
    name = blueprint["metadata"]["name"]
    try:
        old = await get_blueprint(conn, caller.colonyid, name, lock=True)
    except NotFound:
        raise NotFound(f"blueprint '{name}' not found in colony '{caller.colonyname}'") from None
    definition = await _checked_definition(conn, caller, blueprint)
    changed = bp.spec_changed(old, blueprint) or force
    metadata = {
        **blueprint["metadata"],
        "generation": old["metadata"]["generation"] + (1 if changed else 0),
        "createdAt": old["metadata"]["createdAt"],
    }
    for key in ("lastReconciliationProcess", "lastReconciliationTime"):
        if key in old["metadata"]:
            metadata[key] = old["metadata"][key]
    updated = {**blueprint, "blueprintid": old["blueprintid"], "metadata": metadata}
    await repo.one(conn, "update_blueprint", _row_params(updated, caller.colonyid))
    if changed:
        await _record_history(conn, caller, updated, "update")
        executortype, funcname = bp.handler_of(definition)
        if executortype and funcname:
            await _submit_reconcile(conn, caller, updated, executortype, funcname)
    return updated


async def remove_blueprint(conn: Conn, caller: Caller, name: str) -> None:
    """Remove it; drop its kind's cron at its location if it was the last one there, and
    hand the clean-up to the kind's handler.  Call in a transaction."""
    row = await repo.one(conn, "delete_blueprint", {"colonyid": caller.colonyid, "name": name})
    if row is None:
        raise NotFound(f"blueprint '{name}' not found")
    kind, location = row["kind"], row["locationname"]
    left = await repo.one(
        conn,
        "count_blueprints_at_location",
        {"colonyid": caller.colonyid, "kind": kind, "locationname": location},
    )
    if left is not None and left["count"] == 0:
        await repo.run(
            conn,
            "delete_cron_by_name",
            {"colonyid": caller.colonyid, "name": bp.reconcile_cron_name(kind, location)},
        )
    executortype, _ = bp.handler_of(await _definition_of_kind(conn, caller.colonyid, kind))
    if executortype:
        kwargs = {"blueprintName": name, "kind": kind}
        spec = bp.reconcile_function_spec(
            caller.colonyname, executortype, "cleanup", kwargs, location
        )
        await _submit(conn, caller, spec)


async def set_status(conn: Conn, colonyid: str, name: str, status: Json) -> None:
    params = {"colonyid": colonyid, "name": name, "status": Jsonb(status)}
    if await repo.run(conn, "set_blueprint_status", params) == 0:
        raise NotFound(f"blueprint '{name}' not found")


async def blueprint_by_id(conn: Conn, blueprintid: str) -> Json:
    row = await repo.one(conn, "get_blueprint_by_id", {"blueprintid": blueprintid})
    if row is None:
        raise NotFound(f"blueprint {blueprintid} not found")
    return row["data"]


async def history(conn: Conn, blueprintid: str, limit: int) -> list[Json]:
    rows = await repo.all_rows(
        conn, "blueprint_history", {"blueprintid": blueprintid, "limit": limit or None}
    )
    return [_history_json(r) for r in rows]


def _history_json(row: Json) -> Json:
    entry = {
        "historyid": row["historyid"],
        "blueprintid": row["blueprintid"],
        "kind": row["kind"],
        "namespace": row["namespace"],
        "name": row["name"],
        "generation": row["generation"],
        "spec": row["spec"],
        "timestamp": rfc3339(row["timestamp"]),
        "changedby": row["changedby"],
        "changetype": row["changetype"],
    }
    if row["status"]:
        entry["status"] = row["status"]
    return entry


async def reconcile(conn: Conn, caller: Caller, name: str, *, force: bool) -> Json:
    """Submit a reconcile process for one blueprint now; `force` bumps its generation
    first and tells the reconciler.  Returns the process.  Call in a transaction."""
    blueprint = await get_blueprint(conn, caller.colonyid, name, lock=force)
    if force:
        blueprint["metadata"]["generation"] += 1
        await repo.one(conn, "update_blueprint", _row_params(blueprint, caller.colonyid))
    definition = await _definition_of_kind(conn, caller.colonyid, blueprint["kind"])
    executortype, funcname = bp.handler_of(definition)
    if not executortype:
        raise BadRequest("the blueprint has no handler with an executor type defined")
    if not funcname:
        raise BadRequest("the blueprint has no handler with a function name defined")
    return await _submit_reconcile(conn, caller, blueprint, executortype, funcname, force=force)


# -- what a change starts ---------------------------------------------------------------


async def _record_history(conn: Conn, caller: Caller, blueprint: Json, change: str) -> None:
    await repo.run(
        conn,
        "insert_blueprint_history",
        {
            "historyid": new_object_id(),
            "blueprintid": blueprint["blueprintid"],
            "colonyid": caller.colonyid,
            "kind": blueprint["kind"],
            "namespace": caller.colonyname,
            "name": blueprint["metadata"]["name"],
            "generation": blueprint["metadata"]["generation"],
            "spec": Jsonb(blueprint["spec"]),
            "status": Jsonb(blueprint["status"]) if blueprint.get("status") else None,
            "changedby": caller.id,
            "changetype": change,
        },
    )


async def _ensure_reconcile_cron(
    conn: Conn, caller: Caller, blueprint: Json, executortype: str, funcname: str
) -> None:
    """One cron per kind and location reconciles them all every minute, after the
    previous run finished; an existing one is kept."""
    location = blueprint["metadata"].get("locationname", "")
    spec = bp.reconcile_function_spec(
        caller.colonyname, executortype, funcname, {"kind": blueprint["kind"]}, location
    )
    workflow = json.dumps(
        {"colonyname": caller.colonyname, "colonyid": caller.colonyid, "functionspecs": [spec]}
    )
    schedules.parse_embedded_workflow(workflow, caller.colonyid, caller.colonyname)
    await repo.one(
        conn,
        "insert_cron",
        {
            "cronid": new_object_id(),
            "colonyid": caller.colonyid,
            "name": bp.reconcile_cron_name(blueprint["kind"], location),
            "cronexpression": "",
            "interval": bp.RECONCILE_CRON_INTERVAL,
            "random": False,
            "workflowspec": workflow,
            "waitforprevprocessgraph": True,
        },
    )  # no row: the kind's cron at this location exists already


async def _submit_reconcile(
    conn: Conn,
    caller: Caller,
    blueprint: Json,
    executortype: str,
    funcname: str,
    *,
    force: bool = False,
) -> Json:
    kwargs: Json = {"kind": blueprint["kind"], "blueprintName": blueprint["metadata"]["name"]}
    if force:
        kwargs["force"] = True
    spec = bp.reconcile_function_spec(
        caller.colonyname,
        executortype,
        funcname,
        kwargs,
        blueprint["metadata"].get("locationname", ""),
    )
    return await _submit(conn, caller, spec)


async def _submit(conn: Conn, caller: Caller, raw_spec: Json) -> Json:
    """A process started on the caller's behalf (its initiator), stored with the change."""
    colony = ColonyRef(caller.colonyid, caller.colonyname)
    spec = with_colony(
        parse_function_spec(raw_spec, colony=colony), caller.colonyid, caller.colonyname
    )
    location = raw_spec["conditions"].get("locationname", "")
    if location:  # where the reconciler must run; the newest SDK ignores what it lacks
        spec["conditions"]["locationname"] = location
    process = new_process(spec, initiator=(caller.id, caller.name))
    await insert_new_processes(conn, [process])
    return process
