"""Storing fresh processes: the one path shared by submits, workflows, generators and crons."""

from __future__ import annotations

from typing import Any

from colonies_ha.cluster.events import notify_processes
from colonies_ha.domain.processes import env_attributes
from colonies_ha.protocol.objects import attribute_json
from colonies_ha.store import repo
from colonies_ha.store.db import Conn


async def insert_new_processes(conn: Conn, processes: list[dict[str, Any]]) -> None:
    """Store processes with their ENV attributes; they are announced at commit."""
    for process in processes:
        await repo.insert_process(conn, process)
        attributes = [await repo.insert_attribute(conn, a) for a in env_attributes(process)]
        process["attributes"] = [attribute_json(a) for a in attributes]
    await notify_processes(conn, processes)
