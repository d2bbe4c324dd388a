"""A replica whose database connections die or whose database cannot serve a request in
time: a fresh connection is found without a restart, and what cannot be served is a 503
with Retry-After in the protocol's error envelope, never a 500."""

from __future__ import annotations

import base64
import json
import time

import aiohttp
import psycopg

from colonies_ha.protocol.envelope import encode_request
from colonies_ha.store.db import BOUNDS
from tests.helpers import ColonyEnv


def terminate_backends(database_url: str) -> int:
    """What a replica sees when the network to its database drops: every session ends
    (and has ended when this returns: the backends are waited for, up to 5 s)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_every_pooled_connection_killed_is_replaced_without_a_failed_request(
    colony: ColonyEnv, database_url: str
) -> None:
    executor = colony.executor
    await executor.submit(colony.spec())
    assert terminate_backends(database_url) >= 2  # the pool's and the NOTIFY listener's
    await executor.submit(colony.spec())  # a write: the dead connection is never used
    assert len(await executor.get_processes(colony.colonyid, 0)) == 2
    process = await executor.assign(colony.colonyid, timeout=5)
    await executor.close(process["processid"], ["done"])
    async with aiohttp.ClientSession() as http, http.get(f"{colony.server.url}/ready") as reply:
        assert reply.status == 200


async def test_a_request_the_database_cannot_serve_in_time_is_a_503_with_retry_after(
    colony: ColonyEnv, database_url: str
) -> None:
    spec = colony.spec()
    body = encode_request({"msgtype": "submitfuncspecmsg", "spec": spec}, colony.executor.prvkey)
    with psycopg.connect(database_url) as blocker:  # holds the table until the block ends
        blocker.execute("LOCK TABLE processes IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{colony.server.url}/api", data=body) as reply,
        ):
            status, retry_after, envelope = (
                reply.status,
                reply.headers.get("Retry-After"),
                json.loads(await reply.read()),
            )
        took = time.monotonic() - started
    assert status == 503
    assert retry_after is not None and int(retry_after) >= 1
    assert envelope["error"] is True and envelope["payloadtype"] == "error"
    message = json.loads(base64.b64decode(envelope["payload"]))["message"]
    assert message.startswith("the database is unavailable (canceling statement due to lock")
    assert took < BOUNDS.request, took
    await colony.executor.submit(spec)  # the lock gone, the same request goes through
