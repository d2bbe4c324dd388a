"""Database rows rendered as the exact JSON objects of the Colonies protocol."""

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
        "state": row["state"],
        "requirefuncreg": row["requirefuncreg"],
        "commissiontime": rfc3339(row["commissiontime"]),
        "lastheardfromtime": rfc3339(row["lastheardfromtime"]),
        "location": {"long": row["location_long"], "lat": row["location_lat"]},
    }


def function_json(row: Row) -> Row:
    return {
        "functionid": row["functionid"],
        "executorid": row["executorid"],
        "colonyid": row["colonyid"],
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
