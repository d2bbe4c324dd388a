"""WebSocket subscriptions on /pubsub: pycolonies `wait()`, streams, refusals, replicas."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

import aiohttp
import psycopg
import pytest
from psycopg import sql

from colonies_ha.client import ColoniesClient
from colonies_ha.cluster.events import LISTENER_NAME
from colonies_ha.domain.errors import ColoniesError
from colonies_ha.embedded_pg import EmbeddedPostgres
from colonies_ha.protocol.crypto import generate_private_key
from colonies_ha.protocol.envelope import decode_reply
from colonies_ha.replica import Replica
from tests.helpers import ColonyEnv, start_another_replica
from tests.integration.test_colonies_executors import refused
from tests.pycolonies_sdk import Colonies

Json = dict[str, Any]


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll a cheap in-process condition (e.g. the subscription is registered)."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


def subscribers(replica: Replica) -> int:
    return len(replica.events._subscribers)


async def run_to_success(executor: ColoniesClient, colonyid: str, out: list[Any]) -> Json:
    process = await executor.assign(colonyid, 5)
    await executor.close(process["processid"], out)
    return process


async def first(stream: AsyncIterator[Json]) -> Json | None:
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        async for item in stream:
            return item
    return None


async def test_pycolonies_wait_returns_when_the_process_succeeds(colony: ColonyEnv) -> None:
    replica = colony.server.replica
    process = await colony.executor.submit(colony.spec())
    sdk = Colonies("127.0.0.1", replica.port)
    waiter = asyncio.create_task(asyncio.to_thread(sdk.wait, process, 30, colony.executor.prvkey))
    await until(lambda: subscribers(replica) == 1)
    await run_to_success(colony.executor, colony.colonyid, ["done"])
    result = await asyncio.wait_for(waiter, 10)
    assert result["processid"] == process["processid"]
    assert result["state"] == 2 and result["out"] == ["done"]
    await until(lambda: subscribers(replica) == 0)


async def test_subscribing_to_a_finished_process_answers_at_once(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec())
    await run_to_success(colony.executor, colony.colonyid, [1])
    got = await asyncio.wait_for(
        colony.executor.subscribe_process(process["processid"], colony.executortype, 2, 600), 5
    )
    assert got is not None and got["state"] == 2 and got["out"] == [1]
    sdk = Colonies("127.0.0.1", colony.server.replica.port)
    waited = await asyncio.wait_for(
        asyncio.to_thread(sdk.wait, process, 600, colony.executor.prvkey), 5
    )
    assert waited["state"] == 2


async def test_a_failed_process_ends_a_wait_for_success(colony: ColonyEnv) -> None:
    replica = colony.server.replica
    process = await colony.executor.submit(colony.spec())
    waiter = asyncio.create_task(
        colony.executor.subscribe_process(process["processid"], colony.executortype, 2, 600)
    )
    await until(lambda: subscribers(replica) == 1)
    await colony.executor.assign(colony.colonyid, 5)
    await colony.executor.fail(process["processid"], ["boom"])
    got = await asyncio.wait_for(waiter, 10)
    assert got is not None and got["state"] == 3 and got["errors"] == ["boom"]


async def test_waiting_for_running_sees_the_assignment(colony: ColonyEnv) -> None:
    replica = colony.server.replica
    process = await colony.executor.submit(colony.spec())
    waiter = asyncio.create_task(
        colony.executor.subscribe_process(process["processid"], colony.executortype, 1, 600)
    )
    await until(lambda: subscribers(replica) == 1)
    await colony.executor.assign(colony.colonyid, 5)
    got = await asyncio.wait_for(waiter, 10)
    assert got is not None and got["state"] == 1
    assert got["assignedexecutorid"] == colony.executor.id


async def test_subscribe_processes_streams_every_matching_process(colony: ColonyEnv) -> None:
    replica = colony.server.replica
    other = await colony.server.new_colony()
    received: list[Json] = []

    async def collect() -> None:
        stream = colony.executor.subscribe_processes(colony.executortype, 2, 60)
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for process in stream:
                received.append(process)
                if len(received) == 3:
                    return

    collector = asyncio.create_task(collect())
    await until(lambda: subscribers(replica) == 1)
    await other.executor.submit(other.spec())  # another colony: must not be streamed
    await run_to_success(other.executor, other.colonyid, ["theirs"])
    submitted = [await colony.executor.submit(colony.spec(args=[i])) for i in range(3)]
    for i in range(3):
        await run_to_success(colony.executor, colony.colonyid, [i])
    await asyncio.wait_for(collector, 10)
    assert sorted(p["processid"] for p in received) == sorted(p["processid"] for p in submitted)
    assert all(p["state"] == 2 for p in received)
    assert sorted(p["out"][0] for p in received) == [0, 1, 2]


async def test_refusals_arrive_as_error_frames(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec())
    pid, kind = process["processid"], colony.executortype
    stranger = colony.server.client(generate_private_key())
    outsider = (await colony.server.new_colony()).executor
    await refused(stranger.subscribe_process(pid, kind, 2, 5), 403, "not an executor")
    await refused(outsider.subscribe_process(pid, kind, 2, 5), 403, "not an executor")
    await refused(first(stranger.subscribe_processes(kind, 2, 5)), 403, "not an executor")
    await refused(colony.owner.subscribe_process(pid, kind, 2, 5), 403, "not an executor")
    await refused(colony.executor.subscribe_process("f" * 64, kind, 2, 5), 404, "does not exist")
    await refused(colony.executor.subscribe_process(pid, kind, 2, 0), 400, "timeout")
    await refused(colony.executor.subscribe_process(pid, kind, 7, 5), 400, "state")


async def test_the_colony_owner_may_follow_its_colony_stream(colony: ColonyEnv) -> None:
    """Its owner lists the colony's processes anyway (getprocessesmsg); the dashboard's
    colony-key pages follow them live through this stream."""
    streamed = asyncio.create_task(first(colony.owner.subscribe_processes("", 0, 30)))
    await until(lambda: subscribers(colony.server.replica) == 1)
    submitted = await colony.executor.submit(colony.spec())
    got = await asyncio.wait_for(streamed, 10)
    assert got is not None and got["processid"] == submitted["processid"]
    other = await colony.server.new_colony()
    theirs = other.owner.subscribe_processes("", 0, 5, colony=colony.colonyid)
    await refused(first(theirs), 403, "not an executor")


async def test_a_bad_envelope_gets_a_400_frame_then_the_socket_closes(colony: ColonyEnv) -> None:
    url = colony.server.url.replace("http", "ws", 1) + "/pubsub"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as socket:
        await socket.send_str("not json")
        frame = await socket.receive(timeout=5)
        with pytest.raises(ColoniesError) as info:
            decode_reply(200, frame.data.encode())
        assert info.value.status == 400
        assert (await socket.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE


async def test_a_client_that_leaves_ends_its_subscription(colony: ColonyEnv) -> None:
    replica = colony.server.replica
    process = await colony.executor.submit(colony.spec())
    waiter = asyncio.create_task(
        colony.executor.subscribe_process(process["processid"], colony.executortype, 2, 3600)
    )
    await until(lambda: subscribers(replica) == 1)
    waiter.cancel()
    await until(lambda: subscribers(replica) == 0)


async def test_the_socket_closes_at_the_timeout(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec())
    started = time.monotonic()
    got = await colony.executor.subscribe_process(process["processid"], colony.executortype, 2, 1)
    assert got is None
    assert 0.9 <= time.monotonic() - started < 5
    assert await first(colony.executor.subscribe_processes(colony.executortype, 2, 1)) is None
    await until(lambda: subscribers(colony.server.replica) == 0)


async def test_a_change_through_another_replica_reaches_the_subscriber(
    colony: ColonyEnv,
) -> None:
    first_replica = colony.server.replica
    process = await colony.executor.submit(colony.spec())
    second = await start_another_replica(colony.server)
    try:
        waiter = asyncio.create_task(
            colony.executor.subscribe_process(process["processid"], colony.executortype, 2, 60)
        )
        await until(lambda: subscribers(first_replica) == 1)
        # The second replica now holds the fencing epoch, so it does the leader-only work.
        via_second = second.client(colony.executor.prvkey)
        await run_to_success(via_second, colony.colonyid, ["from-second"])
        got = await asyncio.wait_for(waiter, 10)
        assert got is not None and got["state"] == 2 and got["out"] == ["from-second"]
    finally:
        await second.stop()


async def test_stopping_the_server_closes_subscriptions(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec())
    second = await start_another_replica(colony.server)
    try:
        subscriber = second.client(colony.executor.prvkey)
        waiter = asyncio.create_task(
            subscriber.subscribe_process(process["processid"], colony.executortype, 2, 3600)
        )
        await until(lambda: subscribers(second.replica) == 1)
        started = time.monotonic()
        await second.replica.stop()
        assert time.monotonic() - started < 5
        assert await asyncio.wait_for(waiter, 5) is None
    finally:
        for client in second.clients:
            await client.aclose()


async def test_a_stream_gets_what_changed_while_the_listener_was_away(
    colony: ColonyEnv, postgres: EmbeddedPostgres, database_url: str
) -> None:
    """The replica's LISTEN connection is killed and kept out (the database refuses new
    connections) while a process is submitted through the pool's open connections: its
    NOTIFY reaches nobody.  Once the listener is back, the stream still gets the process."""
    stream = colony.executor.subscribe_processes(colony.executortype, 0, 60)
    streamed = asyncio.create_task(first(stream))
    await until(lambda: subscribers(colony.server.replica) == 1)
    async with listener_away(postgres, database_url):
        submitted = await colony.executor.submit(colony.spec())
        assert not streamed.done()  # no listener: nothing can have told the stream
    got = await asyncio.wait_for(streamed, 15)
    assert got is not None
    assert got["processid"] == submitted["processid"] and got["state"] == 0


async def test_a_state_change_in_the_gap_reaches_the_stream_too(
    colony: ColonyEnv, postgres: EmbeddedPostgres, database_url: str
) -> None:
    """The same for an assign (an UPDATE, stamped by the database's trigger)."""
    submitted = await colony.executor.submit(colony.spec())
    submitted_at = await state_change_time(database_url, submitted["processid"])
    stream = colony.executor.subscribe_processes(colony.executortype, 1, 60)
    streamed = asyncio.create_task(first(stream))
    await until(lambda: subscribers(colony.server.replica) == 1)
    async with listener_away(postgres, database_url):
        assert (await colony.executor.assign(colony.colonyid, 5))["processid"] == (
            submitted["processid"]
        )
        assert not streamed.done()
    got = await asyncio.wait_for(streamed, 15)
    assert got is not None
    assert got["processid"] == submitted["processid"] and got["state"] == 1
    assert await state_change_time(database_url, submitted["processid"]) > submitted_at


async def state_change_time(database_url: str, processid: str) -> Any:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "SELECT statechangetime FROM processes WHERE processid = %s", (processid,)
        )
        row = await cur.fetchone()
    assert row is not None
    return row[0]


@contextlib.asynccontextmanager
async def listener_away(postgres: EmbeddedPostgres, database_url: str) -> AsyncIterator[None]:
    """The replica's NOTIFY listener is cut off and cannot reconnect inside the block."""
    dbname = urlparse(database_url).path.lstrip("/")
    allow = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as admin:
        await admin.execute(allow.format(sql.Identifier(dbname), sql.SQL("false")))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = %s",
                (dbname, LISTENER_NAME),
            )
            await until_async(lambda: listeners(admin, dbname), lambda n: n == 0)
            yield
        finally:
            await admin.execute(allow.format(sql.Identifier(dbname), sql.SQL("true")))


async def listeners(admin: psycopg.AsyncConnection[Any], dbname: str) -> int:
    cur = await admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
        (dbname, LISTENER_NAME),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def until_async(
    probe: Callable[[], Awaitable[int]], done: Callable[[int], bool], within: float = 10.0
) -> None:
    async with asyncio.timeout(within):
        while True:
            if done(await probe()):
                return
            await asyncio.sleep(0.02)
