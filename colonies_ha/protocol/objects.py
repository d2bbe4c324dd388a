"""Database rows rendered as the JSON objects of the Colonies protocol.

One object serves both generations: it carries the 2023 keys (colonyid, executorid) and the
newest generation's (colonyname, executorname, initiatorid, ...) side by side.  A request
such as getprocessmsg names no colony, so the server cannot tell which SDK asks; each SDK
reads the keys it knows (1.0.17+ validate with pydantic, which ignores the others).
"""

from __future__ import annotations

from typing import Any

from colonies_ha.domain.timeutil import rfc3339

Row = dict[str, Any]


def colony_json(row: Row) -> Row:
    return {"colonyid": row["colonyid"], "name": row["name"]}


def executor_json(row: Row) -> Row:
    return {
        "executorid": row["executorid"],
        "executortype": row["executortype"],
        "executorname": row["executorname"],
        "colonyid": row["colonyid"],
        "colonyname": row.get("colonyname", ""),
        "state": row["state"],
        "requirefuncreg": row["requirefuncreg"],
        "commissiontime": rfc3339(row["commissiontime"]),
        "lastheardfromtime": rfc3339(row["lastheardfromtime"]),
        "location": {"long": row["location_long"], "lat": row["location_lat"]},
        "locationname": "",
        "capabilities": {"hardware": [], "software": []},
        "allocations": {"projects": {}},
    }


def function_json(row: Row) -> Row:
    return {
        "functionid": row["functionid"],
        "executorid": row["executorid"],
        "colonyid": row["colonyid"],
        "executorname": row.get("executorname", ""),
        "executortype": row.get("executortype", ""),
        "colonyname": row.get("colonyname", ""),
        "funcname": row["funcname"],
        "desc": row["descr"],
        "counter": row["counter"],
        "minwaittime": row["minwaittime"],
        "maxwaittime": row["maxwaittime"],
        "minexectime": row["minexectime"],
        "maxexectime": row["maxexectime"],
        "avgwaittime": row["avgwaittime"],
        "avgexectime": row["avgexectime"],
        "args": row["args"],
    }


def attribute_json(row: Row) -> Row:
    return {
        "attributeid": row["attributeid"],
        "targetid": row["targetid"],
        "targetcolonyid": row["targetcolonyid"],
        "targetprocessgraphid": row["targetprocessgraphid"],
        "attributetype": row["attributetype"],
        "key": row["key"],
        "value": row["value"],
    }


def process_json(row: Row) -> Row:
    return {
        "processid": row["processid"],
        "initiatorid": row.get("initiatorid", ""),
        "initiatorname": row.get("initiatorname", ""),
        "assignedexecutorid": row["assignedexecutorid"],
        "isassigned": row["isassigned"],
        "state": row["state"],
        "prioritytime": row["prioritytime"],
        "submissiontime": rfc3339(row["submissiontime"]),
        "starttime": rfc3339(row["starttime"]),
        "endtime": rfc3339(row["endtime"]),
        "waitdeadline": rfc3339(row["waitdeadline"]),
        "execdeadline": rfc3339(row["execdeadline"]),
        "retries": row["retries"],
        "attributes": row.get("attributes") or [],
        "spec": row["spec"],
        "waitforparents": row["waitforparents"],
        "parents": list(row["parents"]),
        "children": list(row["children"]),
        "processgraphid": row["processgraphid"],
        "in": row["input"],
        "out": row["output"],
        "errors": row["errors"],
    }


STATISTICS_FIELDS = (
    "colonies",
    "executors",
    "waitingprocesses",
    "runningprocesses",
    "successfulprocesses",
    "failedprocesses",
    "waitingworkflows",
    "runningworkflows",
    "successfulworkflows",
    "failedworkflows",
)


def statistics_json(row: Row) -> Row:
    return {name: int(row[name]) for name in STATISTICS_FIELDS}


def user_json(row: Row) -> Row:
    return {
        "colonyname": row["colonyname"],
        "userid": row["userid"],
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
    }


def log_json(row: Row) -> Row:
    return {
        "processid": row["processid"],
        "colonyname": row["colonyname"],
        "executorname": row["executorname"],
        "message": row["message"],
        "timestamp": row["ts"],
    }
