"""Blueprint definitions and blueprints: pycolonies 1.0.25 end to end, roles and bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import generate_private_key
from tests.helpers import ColonyEnv, start_another_replica
from tests.pycolonies_sdk import load_current_sdk

KIND = "ExecutorDeployment"


def colonyname(colony: ColonyEnv) -> str:
    return f"colony-{colony.colonyid[:8]}"


def definition(name: str, *, handler: bool = True) -> dict[str, Any]:
    return {
        "kind": "BlueprintDefinition",
        "metadata": {"name": name, "colonyname": "set-by-test"},
        "spec": {
            "group": "compute.colonies.io",
            "version": "v1",
            "names": {"kind": KIND, "listKind": f"{KIND}List", "plural": "executordeployments"},
            "scope": "Namespaced",
            "schema": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "number"},
                    "image": {"type": "string"},
                    "mode": {"type": "string", "enum": ["fast", "safe"]},
                },
                "required": ["image"],
            },
            "handler": {"executorType": "reconciler", "functionName": "reconcile"}
            if handler
            else {},
        },
    }


def blueprint(colony: ColonyEnv, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "kind": KIND,
        "metadata": {"name": name, "colonyname": colonyname(colony), "locationname": "edge"},
        "spec": {"image": "nginx", **spec},
    }


def sdk_session(port: int, colony: ColonyEnv, owner_key: str, member_key: str) -> dict[str, Any]:
    """What a 1.0.25 user does, through the SDK's own calls."""
    sdk = load_current_sdk()
    client = sdk.Colonies("127.0.0.1", port)
    name = colonyname(colony)
    sd = definition("executordeployments")
    sd["metadata"]["colonyname"] = name
    out: dict[str, Any] = {"definition": client.add_blueprint_definition(sd, owner_key)}
    out["definitions"] = client.get_blueprint_definitions(name, member_key)
    out["one_definition"] = client.get_blueprint_definition(name, "executordeployments", owner_key)
    out["added"] = client.add_blueprint(blueprint(colony, "web", replicas=2), member_key)
    out["got"] = client.get_blueprint(name, "web", member_key)
    out["by_kind"] = client.get_blueprints(name, member_key, kind=KIND, location="EDGE")
    out["other_kind"] = client.get_blueprints(name, member_key, kind="Other")
    out["updated"] = client.update_blueprint(blueprint(colony, "web", replicas=3), member_key)
    out["same_spec"] = client.update_blueprint(blueprint(colony, "web", replicas=3), member_key)
    client.update_blueprint_status(name, "web", {"replicas": 3, "ready": True}, member_key)
    out["with_status"] = client.get_blueprint(name, "web", member_key)
    out["reconcile"] = client.reconcile_blueprint(name, "web", member_key, force=True)
    out["history"] = client.get_blueprint_history(out["added"]["blueprintid"], member_key)
    out["history_1"] = client.get_blueprint_history(out["added"]["blueprintid"], member_key, 1)
    try:
        client.remove_blueprint_definition(name, "executordeployments", owner_key)
    except Exception as exc:
        out["in_use"] = str(exc)
    client.remove_blueprint(name, "web", member_key)
    out["after_remove"] = client.get_blueprints(name, member_key)
    client.remove_blueprint_definition(name, "executordeployments", owner_key)
    out["definitions_after"] = client.get_blueprint_definitions(name, owner_key)
    return out


async def test_pycolonies_1_0_25_blueprint_lifecycle(colony: ColonyEnv) -> None:
    server = colony.server
    result = await asyncio.to_thread(
        sdk_session, server.replica.port, colony, colony.colony_prvkey, colony.executor.prvkey
    )
    assert result["definition"]["blueprintdefinitionid"]
    assert result["definition"]["spec"]["handler"]["functionName"] == "reconcile"
    assert [d["metadata"]["name"] for d in result["definitions"]] == ["executordeployments"]
    assert result["one_definition"] == result["definition"]
    added = result["added"]
    assert added["metadata"]["generation"] == 1 and added["spec"]["replicas"] == 2
    assert result["got"] == added
    assert [b["metadata"]["name"] for b in result["by_kind"]] == ["web"]  # location: no case
    assert result["other_kind"] == []
    assert result["updated"]["metadata"]["generation"] == 2
    assert result["updated"]["blueprintid"] == added["blueprintid"]
    assert result["same_spec"]["metadata"]["generation"] == 2  # unchanged spec: no bump
    assert result["with_status"]["status"] == {"replicas": 3, "ready": True}
    assert result["with_status"]["spec"]["replicas"] == 3
    process = result["reconcile"]
    assert process["spec"]["funcname"] == "reconcile"
    assert process["spec"]["conditions"]["executortype"] == "reconciler"
    assert process["spec"]["conditions"]["colonyname"] == colonyname(colony)
    assert process["spec"]["kwargs"] == {"kind": KIND, "blueprintName": "web", "force": True}
    assert process["initiatorid"] == colony.executor.id
    assert process["initiatorname"].startswith("executor-")
    assert [h["changetype"] for h in result["history"]] == ["update", "create"]
    assert [h["generation"] for h in result["history"]] == [2, 1]
    assert len(result["history_1"]) == 1
    assert "still exist" in result["in_use"]
    assert result["after_remove"] == []
    assert result["definitions_after"] == []


async def test_blueprints_start_reconciliation_in_the_colony(colony: ColonyEnv) -> None:
    """Adding submits an immediate reconcile and creates the kind's cron at the location;
    removing the last one there drops the cron and submits a clean-up."""
    sd = definition("executordeployments")
    sd["metadata"]["colonyname"] = colonyname(colony)
    await colony.owner.rpc("addblueprintdefinitionmsg", blueprintdefinition=sd)
    await colony.executor.rpc("addblueprintmsg", blueprint=blueprint(colony, "a"))
    await colony.executor.rpc("addblueprintmsg", blueprint=blueprint(colony, "b"))
    crons = await colony.executor.get_crons(colony.colonyid)
    assert [c["name"] for c in crons] == [f"reconcile-{KIND}-edge"]
    assert crons[0]["interval"] == 60 and crons[0]["waitforprevprocessgraph"]
    waiting = await colony.executor.get_processes(colony.colonyid, 0)
    assert sorted(p["spec"]["funcname"] for p in waiting) == ["reconcile", "reconcile"]
    assert {
        p["spec"]["executortype"]
        if "executortype" in p["spec"]
        else p["spec"]["conditions"]["executortype"]
        for p in waiting
    } == {"reconciler"}

    await colony.executor.rpc("removeblueprintmsg", namespace=colonyname(colony), name="a")
    assert len(await colony.executor.get_crons(colony.colonyid)) == 1  # "b" is still there
    await colony.executor.rpc("removeblueprintmsg", namespace=colonyname(colony), name="b")
    assert await colony.executor.get_crons(colony.colonyid) == []
    waiting = await colony.executor.get_processes(colony.colonyid, 0)
    assert sorted(p["spec"]["funcname"] for p in waiting) == [
        "cleanup",
        "cleanup",
        "reconcile",
        "reconcile",
    ]


async def test_blueprint_roles(colony: ColonyEnv) -> None:
    name = colonyname(colony)
    sd = definition("executordeployments")
    sd["metadata"]["colonyname"] = name
    with pytest.raises(ColoniesError) as refused:  # definitions: the colony owner only
        await colony.executor.rpc("addblueprintdefinitionmsg", blueprintdefinition=sd)
    assert refused.value.status == 403
    await colony.owner.rpc("addblueprintdefinitionmsg", blueprintdefinition=sd)

    stranger = colony.server.client(generate_private_key())
    pending = await colony.new_executor(approve=False)
    for caller in (stranger, pending):
        with pytest.raises(ColoniesError) as refused:
            await caller.rpc("addblueprintmsg", blueprint=blueprint(colony, "x"))
        assert refused.value.status == 403
        with pytest.raises(ColoniesError) as refused:
            await caller.rpc("getblueprintsmsg", namespace=name)
        assert refused.value.status == 403

    # The owner may add and read blueprints, but reconciling and reporting status are for
    # members (executors, users), as upstream.
    await colony.owner.rpc("addblueprintmsg", blueprint=blueprint(colony, "x"))
    for msgtype, fields in (
        ("reconcileblueprintmsg", {"namespace": name, "name": "x"}),
        ("updateblueprintstatusmsg", {"colonyname": name, "blueprintname": "x", "status": {}}),
    ):
        with pytest.raises(ColoniesError) as refused:
            await colony.owner.rpc(msgtype, **fields)
        assert refused.value.status == 403
        await colony.executor.rpc(msgtype, **fields)

    # Another colony's member sees nothing of this colony.
    other = await colony.server.new_colony()
    with pytest.raises(ColoniesError) as refused:
        await other.executor.rpc("getblueprintmsg", namespace=name, name="x")
    assert refused.value.status == 403


async def test_blueprint_bad_input(colony: ColonyEnv) -> None:
    name = colonyname(colony)
    sd = definition("executordeployments", handler=False)
    sd["metadata"]["colonyname"] = name
    await colony.owner.rpc("addblueprintdefinitionmsg", blueprintdefinition=sd)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("addblueprintdefinitionmsg", {"blueprintdefinition": sd}, 409, "already exists"),
        ("addblueprintmsg", {"blueprint": {**blueprint(colony, "y"), "kind": ""}}, 400, "kind"),
        (
            "addblueprintmsg",
            {"blueprint": blueprint(colony, "y", replicas="two")},
            400,
            "'replicas' must be a number",
        ),
        ("addblueprintmsg", {"blueprint": blueprint(colony, "y", mode="slow")}, 400, "one of"),
        (
            "addblueprintmsg",
            {"blueprint": {**blueprint(colony, "y"), "spec": {}}},
            400,
            "'image' is missing",
        ),
        (
            "addblueprintmsg",
            {"blueprint": {**blueprint(colony, "y"), "kind": "Unknown"}},
            400,
            "BlueprintDefinition for kind 'Unknown' not found",
        ),
        ("addblueprintmsg", {"blueprint": "nope"}, 400, "JSON object"),
        ("getblueprintmsg", {"namespace": name, "name": "missing"}, 404, "not found"),
        ("getblueprintmsg", {"namespace": "no-such-colony", "name": "x"}, 404, "does not exist"),
        ("updateblueprintmsg", {"blueprint": blueprint(colony, "missing")}, 404, "not found"),
        ("removeblueprintmsg", {"namespace": name, "name": "missing"}, 404, "not found"),
        ("getblueprinthistorymsg", {"blueprintid": "nope"}, 404, "not found"),
        ("removeblueprintdefinitionmsg", {"namespace": name, "name": "missing"}, 404, "not found"),
    ]
    await colony.executor.rpc("addblueprintmsg", blueprint=blueprint(colony, "z", replicas=1))
    cases.append(("addblueprintmsg", {"blueprint": blueprint(colony, "z")}, 409, "already exists"))
    cases.append(("reconcileblueprintmsg", {"namespace": name, "name": "z"}, 400, "no handler"))
    for msgtype, fields, status, words in cases:
        caller = colony.owner if "definition" in msgtype else colony.executor
        with pytest.raises(ColoniesError) as refused:
            await caller.rpc(msgtype, **fields)
        assert refused.value.status == status, (msgtype, refused.value.message)
        assert words in refused.value.message, (msgtype, refused.value.message)
    # Nothing of the refused requests was stored.
    stored = await colony.executor.rpc("getblueprintsmsg", namespace=name)
    assert [b["metadata"]["name"] for b in stored] == ["z"]


async def test_every_replica_serves_what_another_stored(colony: ColonyEnv) -> None:
    """Blueprints, files and snapshots live in PostgreSQL: a second replica on the same
    database answers for what the first one stored."""
    name = colonyname(colony)
    sd = definition("executordeployments")
    sd["metadata"]["colonyname"] = name
    await colony.owner.rpc("addblueprintdefinitionmsg", blueprintdefinition=sd)
    added = await colony.executor.rpc("addblueprintmsg", blueprint=blueprint(colony, "web"))
    file = {
        "colonyname": name,
        "label": "/l",
        "name": "f",
        "size": 1,
        "checksum": "c",
        "checksumalg": "SHA256",
        "ref": {"protocol": "s3", "s3object": {"object": "o", "bucket": "b"}},
    }
    stored = await colony.executor.rpc("addfilemsg", file=file)
    await colony.executor.rpc("createsnapshotmsg", colonyname=name, label="/l", name="s")
    other = await start_another_replica(colony.server)
    try:
        member = other.client(colony.executor.prvkey)
        assert await member.rpc("getblueprintmsg", namespace=name, name="web") == added
        assert await member.rpc("getfilemsg", colonyname=name, fileid=stored["fileid"]) == [stored]
        snapshot = await member.rpc("getsnapshotmsg", colonyname=name, name="s")
        assert snapshot["fileids"] == [stored["fileid"]]
    finally:
        await other.stop()
