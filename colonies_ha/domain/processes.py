"""A new process row from a validated FunctionSpec: pure arithmetic, no I/O."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from colonies_ha.domain.states import AttributeType, ProcessState
from colonies_ha.domain.timeutil import priority_time
from colonies_ha.protocol.crypto import new_object_id

Row = dict[str, Any]


def new_process(
    spec: Row,
    *,
    graphid: str = "",
    waitforparents: bool = False,
    parents: list[str] | None = None,
    children: list[str] | None = None,
    input_values: list[Any] | None = None,
    now_ns: int | None = None,
    initiator: tuple[str, str] = ("", ""),
) -> Row:
    """Every column of a fresh WAITING process, so the reply needs no re-read."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    submitted = datetime.fromtimestamp(now_ns / 1e9, UTC)
    maxwaittime = spec["maxwaittime"]
    return {
        "processid": new_object_id(),
        "initiatorid": initiator[0],
        "initiatorname": initiator[1],
        "colonyid": spec["conditions"]["colonyid"],
        "executortype": spec["conditions"]["executortype"],
        "executorids": spec["conditions"]["executorids"],
        "state": ProcessState.WAITING,
        "isassigned": False,
        "assignedexecutorid": "",
        "prioritytime": priority_time(now_ns, spec["priority"]),
        "submissiontime": submitted,
        "starttime": None,
        "endtime": None,
        "waitdeadline": submitted + timedelta(seconds=maxwaittime) if maxwaittime > 0 else None,
        "execdeadline": None,
        "retries": 0,
        "maxretries": spec["maxretries"],
        "maxexectime": spec["maxexectime"],
        "maxwaittime": maxwaittime,
        "waitforparents": waitforparents,
        "parents": parents or [],
        "children": children or [],
        "processgraphid": graphid,
        "spec": spec,
        "input": input_values or [],
        "output": [],
        "errors": [],
        "attributes": [],
    }


def env_attributes(process: Row) -> list[Row]:
    """A spec's env entries become ENV attributes of the process at submit."""
    return [
        {
            "attributeid": new_object_id(),
            "targetid": process["processid"],
            "targetcolonyid": process["colonyid"],
            "targetprocessgraphid": process["processgraphid"],
            "attributetype": int(AttributeType.ENV),
            "key": key,
            "value": value,
        }
        for key, value in process["spec"]["env"].items()
    ]
