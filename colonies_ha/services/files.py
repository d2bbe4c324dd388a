"""Colonies FS metadata: file versions under labels, and snapshots of a label.

The bytes live in S3, which the SDK talks to directly; the server keeps only where they
are (`ref`), their size and checksum.  A file is immutable: adding one with a (label,
name) that exists adds a newer version (a higher `sequencenr`).
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from colonies_ha.domain.errors import BadRequest, Conflict, NotFound
from colonies_ha.domain.ids import new_object_id
from colonies_ha.domain.timeutil import rfc3339
from colonies_ha.domain.validation import (
    get_bool,
    get_int,
    get_str,
    optional_object,
    require_object,
    require_str,
)
from colonies_ha.store import repo
from colonies_ha.store.db import Conn

Json = dict[str, Any]
_S3_TEXT = ("server", "accesskey", "secretkey", "region", "encryptionkey", "encryptionalg")


def parse_file(raw: Json) -> Json:
    """A File of addfilemsg; the colony is checked by the caller, the id and sequence
    number and time are the server's."""
    ref = optional_object(raw, "ref")
    s3 = optional_object(ref, "s3object")
    s3object: Json = {key: get_str(s3, key) for key in _S3_TEXT}
    s3object["port"] = get_int(s3, "port", low=0, high=65535)
    s3object["tls"] = get_bool(s3, "tls")
    s3object["object"] = get_str(s3, "object")
    s3object["bucket"] = get_str(s3, "bucket")
    return {
        "colonyname": require_str(raw, "colonyname"),
        "label": require_str(raw, "label"),
        "name": require_str(raw, "name"),
        "size": get_int(raw, "size", low=0),
        "checksum": get_str(raw, "checksum"),
        "checksumalg": get_str(raw, "checksumalg"),
        "ref": {"protocol": get_str(ref, "protocol"), "s3object": s3object},
    }


def file_json(row: Json, colonyname: str) -> Json:
    return {
        "fileid": row["fileid"],
        "colonyname": colonyname,
        "label": row["label"],
        "name": row["name"],
        "size": row["size"],
        "sequencenr": row["sequencenr"],
        "checksum": row["checksum"],
        "checksumalg": row["checksumalg"],
        "ref": row["ref"],
        "added": rfc3339(row["added"]),
    }


def _like_prefix(text: str) -> str:
    """`text` as a literal LIKE prefix: its wildcards match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def add_file(conn: Conn, colonyid: str, file: Json) -> Json:
    params = {**file, "fileid": new_object_id(), "colonyid": colonyid, "ref": Jsonb(file["ref"])}
    row = await repo.one(conn, "insert_file", params)
    assert row is not None
    return file_json(row, file["colonyname"])


async def get_file(conn: Conn, colonyid: str, colonyname: str, msg: Json) -> list[Json]:
    """By id, else by label and name: the newest version, or all (newest first)."""
    fileid, label, name = get_str(msg, "fileid"), get_str(msg, "label"), get_str(msg, "name")
    if fileid:
        row = await repo.one(conn, "get_file", {"colonyid": colonyid, "fileid": fileid})
        rows = [] if row is None else [row]
    elif label and name:
        params = {"colonyid": colonyid, "label": label, "name": name}
        rows = await repo.all_rows(conn, "get_file_versions", params)
        if get_bool(msg, "latest"):
            rows = rows[:1]
    else:
        raise BadRequest("getfilemsg needs a fileid, or a label and a name")
    if not rows:
        raise NotFound("no such file in the colony")
    return [file_json(r, colonyname) for r in rows]


async def list_label(conn: Conn, colonyid: str, label: str) -> list[Json]:
    """The newest version of each file under one label (FileData, as sync uses it)."""
    rows = await repo.all_rows(
        conn, "latest_files_in_label", {"colonyid": colonyid, "label": label}
    )
    return [
        {
            "name": r["name"],
            "checksum": r["checksum"],
            "size": r["size"],
            "s3filename": r["ref"].get("s3object", {}).get("object", ""),
        }
        for r in rows
    ]


async def labels(conn: Conn, colonyid: str, name: str, exact: bool) -> list[Json]:
    params = {"colonyid": colonyid, "prefix": _like_prefix(name), "label": name, "exact": exact}
    rows = await repo.all_rows(conn, "file_labels", params)
    return [{"name": r["name"], "files": r["files"]} for r in rows]


async def remove_file(conn: Conn, colonyid: str, msg: Json) -> None:
    """By id (one version), else every version of a label and name; silent if absent."""
    fileid, label, name = get_str(msg, "fileid"), get_str(msg, "label"), get_str(msg, "name")
    if fileid:
        await repo.run(conn, "delete_file", {"colonyid": colonyid, "fileid": fileid})
    elif label and name:
        params = {"colonyid": colonyid, "label": label, "name": name}
        await repo.run(conn, "delete_file_versions", params)
    else:
        raise BadRequest("removefilemsg needs a fileid, or a label and a name")


# -- snapshots --------------------------------------------------------------------------


def snapshot_json(row: Json, colonyname: str) -> Json:
    return {
        "snapshotid": row["snapshotid"],
        "colonyname": colonyname,
        "label": row["label"],
        "name": row["name"],
        "fileids": list(row["fileids"]),
        "added": rfc3339(row["added"]),
    }


async def create_snapshot(
    conn: Conn, colonyid: str, colonyname: str, label: str, name: str
) -> Json:
    label = label.removesuffix("/")
    row = await repo.one(
        conn,
        "insert_snapshot",
        {
            "snapshotid": new_object_id(),
            "colonyid": colonyid,
            "label": label,
            "sublabels": _like_prefix(label) + "/%",
            "name": name,
        },
    )
    if row is None:
        raise Conflict(f"snapshot with name '{name}' in colony '{colonyname}' already exists")
    return snapshot_json(row, colonyname)


async def get_snapshot(conn: Conn, colonyid: str, colonyname: str, msg: Json) -> Json:
    snapshotid, name = get_str(msg, "snapshotid"), get_str(msg, "name")
    if snapshotid:
        row = await repo.one(
            conn, "get_snapshot_by_id", {"colonyid": colonyid, "snapshotid": snapshotid}
        )
    elif name:
        row = await repo.one(conn, "get_snapshot_by_name", {"colonyid": colonyid, "name": name})
    else:
        raise BadRequest("getsnapshotmsg needs a snapshotid or a name")
    if row is None:
        raise NotFound(f"snapshot '{snapshotid or name}' not found in colony '{colonyname}'")
    return snapshot_json(row, colonyname)


async def list_snapshots(conn: Conn, colonyid: str, colonyname: str) -> list[Json]:
    rows = await repo.all_rows(conn, "list_snapshots", {"colonyid": colonyid})
    return [snapshot_json(r, colonyname) for r in rows]


async def remove_snapshot(conn: Conn, colonyid: str, msg: Json) -> None:
    """By id, else by name; silent if absent (as upstream)."""
    snapshotid, name = get_str(msg, "snapshotid"), get_str(msg, "name")
    if not snapshotid and not name:
        raise BadRequest("removesnapshotmsg needs a snapshotid or a name")
    params = {"colonyid": colonyid, "snapshotid": snapshotid, "name": "" if snapshotid else name}
    await repo.run(conn, "delete_snapshot", params)


async def remove_all_snapshots(conn: Conn, colonyid: str) -> None:
    await repo.run(conn, "delete_all_snapshots", {"colonyid": colonyid})


def require_file(msg: Json) -> Json:
    return parse_file(require_object(msg, "file"))
