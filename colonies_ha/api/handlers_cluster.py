"""getclustermsg: the replicas, which one leads, and under which term and epoch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from colonies_ha.api.dispatch import rpc
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.services import auth
from colonies_ha.services.context import Context
from colonies_ha.store import repo


def _node(name: str, raft_address: str, api_url: str) -> dict[str, Any]:
    api = urlsplit(api_url) if api_url else None
    raft_host, _, raft_port = raft_address.rpartition(":")
    return {
        "name": name,
        "host": api.hostname if api else raft_host,
        "port": api.port if api else 0,
        "apiport": api.port if api else 0,
        "raftaddress": raft_address,
        "raftport": int(raft_port) if raft_port.isdigit() else 0,
        "apiurl": api_url,
    }


@rpc("getclustermsg")
async def get_cluster(ctx: Context, req: Req) -> Any:
    auth.require_server_owner(req.caller_id, ctx.server_id)
    status = ctx.leadership.status()
    async with ctx.db.connection() as conn:
        replicas = {r["raft_address"]: r for r in await repo.all_rows(conn, "get_replicas")}
        leader_row = await repo.one(conn, "get_leader")
    nodes = []
    for member in status["members"]:
        row = replicas.get(member)
        nodes.append(
            _node(row["node_name"] if row else member, member, row["api_url"] if row else "")
        )
    leader = next((n for n in nodes if n["raftaddress"] == status["leader"]), None)
    return {
        "nodes": nodes,
        "leader": leader or {},
        "term": status["term"],
        "epoch": leader_row["epoch"] if leader_row else 0,
        "state": status["state"],
    }
