"""Colonies FS metadata and snapshots: pycolonies 1.0.25 calls that need no S3, the add and
remove messages (which the SDK sends only around an S3 transfer) signed by our client from
the SDK's own File model, roles and bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import generate_private_key
from tests.helpers import ColonyEnv
from tests.pycolonies_sdk import load_current_sdk


def colonyname(colony: ColonyEnv) -> str:
    return f"colony-{colony.colonyid[:8]}"


def sdk_file(colony: ColonyEnv, label: str, name: str, checksum: str) -> dict[str, Any]:
    """Exactly the `file` of the SDK's addfilemsg (pycolonies builds it after the upload)."""
    sdk = load_current_sdk()
    s3 = sdk.S3Object(
        server="s3.example",
        port=9000,
        tls=False,
        accesskey="",
        secretkey="",
        region="",
        encryptionkey="",
        encryptionalg="",
        object=f"obj-{checksum}",
        bucket="bucket",
    )
    file = sdk.File(
        fileid="",
        colonyname=colonyname(colony),
        label=label,
        name=name,
        size=len(checksum),
        sequencenr=1,
        checksum=checksum,
        checksumalg="SHA256",
        ref=sdk.Reference(protocol="s3", s3object=s3),
    )
    return file.model_dump(by_alias=True, mode="json")


def sdk_reads(port: int, name: str, key: str, fileid: str) -> dict[str, Any]:
    sdk = load_current_sdk()
    client = sdk.Colonies("127.0.0.1", port)
    out: dict[str, Any] = {}
    out["latest"] = client.get_file(name, key, label="/data", filename="a.txt")
    out["versions"] = client.get_file(name, key, label="/data", filename="a.txt", latest=False)
    out["by_id"] = client.get_file(name, key, fileid=fileid)
    out["files"] = client.get_files("/data", name, key)
    out["labels"] = client.get_file_labels(name, key)
    out["below_data"] = client.get_file_labels(name, key, name="/data")
    out["exact_data"] = client.get_file_labels(name, key, name="/data", exact=True)
    out["exact_absent"] = client.get_file_labels(name, key, name="/dat", exact=True)
    out["snapshot"] = client.create_snapshot(name, "/data/", "snap1", key)
    out["snapshots"] = client.get_snapshots(name, key)
    out["by_name"] = client.get_snapshot_by_name(name, "snap1", key)
    out["snap_by_id"] = client.get_snapshot_by_id(name, out["snapshot"]["snapshotid"], key)
    try:
        client.create_snapshot(name, "/data", "snap1", key)
    except Exception as exc:
        out["taken"] = str(exc)
    return out


async def test_pycolonies_1_0_25_files_and_snapshots(colony: ColonyEnv) -> None:
    member = colony.executor
    a1 = await member.rpc("addfilemsg", file=sdk_file(colony, "/data", "a.txt", "aaa1"))
    a2 = await member.rpc("addfilemsg", file=sdk_file(colony, "/data", "a.txt", "aaa2"))
    b = await member.rpc("addfilemsg", file=sdk_file(colony, "/data/sub", "b.txt", "bbb"))
    await member.rpc("addfilemsg", file=sdk_file(colony, "/other", "c.txt", "ccc"))
    assert a2["sequencenr"] > a1["sequencenr"] and a1["fileid"] != a2["fileid"]
    assert a1["ref"]["s3object"]["object"] == "obj-aaa1"

    name = colonyname(colony)
    out = await asyncio.to_thread(
        sdk_reads, colony.server.replica.port, name, member.prvkey, a1["fileid"]
    )
    assert [f["checksum"] for f in out["latest"]] == ["aaa2"]
    assert [f["checksum"] for f in out["versions"]] == ["aaa2", "aaa1"]
    assert out["by_id"] == [a1]
    assert out["files"] == [
        {"name": "a.txt", "checksum": "aaa2", "size": 4, "s3filename": "obj-aaa2"}
    ]
    assert out["labels"] == [
        {"name": "/data", "files": 2},
        {"name": "/data/sub", "files": 1},
        {"name": "/other", "files": 1},
    ]
    assert [lb["name"] for lb in out["below_data"]] == ["/data", "/data/sub"]
    assert [lb["name"] for lb in out["exact_data"]] == ["/data", "/data/sub"]
    assert out["exact_absent"] == []
    snapshot = out["snapshot"]
    assert snapshot["label"] == "/data" and snapshot["name"] == "snap1"
    assert sorted(snapshot["fileids"]) == sorted([a2["fileid"], b["fileid"]])
    assert out["snapshots"] == [snapshot] and out["by_name"] == snapshot
    assert out["snap_by_id"] == snapshot
    assert "already exists" in out["taken"]

    # Removing: one version by id, all versions by label and name; snapshots by name, all.
    await member.rpc("removefilemsg", colonyname=name, fileid=a1["fileid"])
    left = await member.rpc("getfilemsg", colonyname=name, label="/data", name="a.txt")
    assert [f["fileid"] for f in left] == [a2["fileid"]]
    await member.rpc("removefilemsg", colonyname=name, label="/data", name="a.txt")
    with pytest.raises(ColoniesError) as gone:
        await member.rpc("getfilemsg", colonyname=name, label="/data", name="a.txt", latest=True)
    assert gone.value.status == 404
    await member.rpc("createsnapshotmsg", colonyname=name, label="/other", name="snap2")
    await member.rpc("removesnapshotmsg", colonyname=name, name="snap1")
    assert [s["name"] for s in await member.rpc("getsnapshotsmsg", colonyname=name)] == ["snap2"]
    await member.rpc("removeallsnapshotmsg", colonyname=name)
    assert await member.rpc("getsnapshotsmsg", colonyname=name) == []


async def test_file_roles(colony: ColonyEnv) -> None:
    """Members only: not the colony's owner key (as upstream), not strangers, not another
    colony's members; a file id of another colony is not found."""
    name = colonyname(colony)
    added = await colony.executor.rpc("addfilemsg", file=sdk_file(colony, "/x", "f", "sum"))
    other = await colony.server.new_colony()
    stranger = colony.server.client(generate_private_key())
    pending = await colony.new_executor(approve=False)
    for caller in (colony.owner, stranger, pending, other.executor):
        for msgtype, fields in (
            ("addfilemsg", {"file": sdk_file(colony, "/x", "g", "s")}),
            ("getfilesmsg", {"colonyname": name, "label": "/x"}),
            ("getfilelabelsmsg", {"colonyname": name}),
            ("removefilemsg", {"colonyname": name, "fileid": added["fileid"]}),
            ("createsnapshotmsg", {"colonyname": name, "label": "/x", "name": "s"}),
            ("getsnapshotsmsg", {"colonyname": name}),
        ):
            with pytest.raises(ColoniesError) as refused:
                await caller.rpc(msgtype, **fields)
            assert refused.value.status == 403, (msgtype, refused.value.message)
    other_name = colonyname(other)
    with pytest.raises(ColoniesError) as missing:
        await other.executor.rpc("getfilemsg", colonyname=other_name, fileid=added["fileid"])
    assert missing.value.status == 404
    assert await colony.executor.rpc("getfilemsg", colonyname=name, fileid=added["fileid"])


async def test_file_bad_input(colony: ColonyEnv) -> None:
    name = colonyname(colony)
    good = sdk_file(colony, "/x", "f", "sum")
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("addfilemsg", {}, 400),
        ("addfilemsg", {"file": {**good, "size": "big"}}, 400),
        ("addfilemsg", {"file": {**good, "name": ""}}, 400),
        ("addfilemsg", {"file": {**good, "colonyname": "no-such-colony"}}, 404),
        ("addfilemsg", {"file": {**good, "ref": {"s3object": {"port": 70000}}}}, 400),
        ("getfilemsg", {"colonyname": name, "label": "/x"}, 400),
        ("getfilemsg", {"colonyname": name, "fileid": "unknown"}, 404),
        ("removefilemsg", {"colonyname": name}, 400),
        ("getsnapshotmsg", {"colonyname": name, "snapshotid": "", "name": ""}, 400),
        ("getsnapshotmsg", {"colonyname": name, "name": "missing"}, 404),
        ("createsnapshotmsg", {"colonyname": name, "label": "/x", "name": ""}, 400),
        ("removesnapshotmsg", {"colonyname": name}, 400),
        ("getfilelabelsmsg", {"colonyname": name, "exact": "yes"}, 400),
    ]
    for msgtype, fields, status in cases:
        with pytest.raises(ColoniesError) as refused:
            await colony.executor.rpc(msgtype, **fields)
        assert refused.value.status == status, (msgtype, fields, refused.value.message)
    assert await colony.executor.rpc("getfilelabelsmsg", colonyname=name) == []
