"""Process channels across two replicas on one database, driven by pycolonies 1.0.25:
appended through one replica, read and followed (WebSocket) through the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.embedded_pg import EmbeddedPostgres
from colonies_ha.protocol.crypto import generate_private_key
from colonies_ha.protocol.envelope import decode_reply, encode_request
from tests.helpers import ColonyEnv, ServerEnv, start_another_replica
from tests.integration.test_pubsub import listener_away, until
from tests.pycolonies_sdk import load_current_sdk

Json = dict[str, Any]


def colonyname(colony: ColonyEnv) -> str:
    return f"colony-{colony.colonyid[:8]}"


@pytest.fixture
async def second(colony: ColonyEnv) -> AsyncIterator[ServerEnv]:
    """Another replica on the same database; it leads from now on (assigns go there)."""
    other = await start_another_replica(colony.server)
    try:
        yield other
    finally:
        await other.stop()


def submit_with_channel(port: int, colony: ColonyEnv, key: str) -> str:
    sdk = load_current_sdk()
    spec = sdk.func_spec("talk", [], colonyname(colony), colony.executortype)
    spec.channels = ["chat"]
    return sdk.Colonies("127.0.0.1", port).submit_func_spec(spec, key).processid


def conversation(port1: int, port2: int, colony: ColonyEnv, a_key: str, b_key: str) -> Json:
    """A submits through replica 1; B assigns and talks through replica 2."""
    sdk = load_current_sdk()
    one, two = sdk.Colonies("127.0.0.1", port1), sdk.Colonies("127.0.0.1", port2)
    name = colonyname(colony)
    pid = submit_with_channel(port1, colony, a_key)
    out: Json = {"pid": pid, "assigned": two.assign(name, 10, b_key).processid}
    one.channel_append(pid, "chat", 1, "hello", a_key)
    out["b_reads"] = two.channel_read(pid, "chat", 0, 0, b_key)
    two.channel_append(pid, "chat", 1, "hi back", b_key, in_reply_to=1)
    out["a_reads_after_1"] = one.channel_read(pid, "chat", 1, 0, a_key)
    out["limited"] = one.channel_read(pid, "chat", 0, 1, a_key)
    return out


async def test_channel_conversation_across_replicas(colony: ColonyEnv, second: ServerEnv) -> None:
    sdk = load_current_sdk()
    a, b = colony.executor, await colony.new_executor()
    port1, port2 = colony.server.replica.port, second.replica.port
    out = await asyncio.to_thread(conversation, port1, port2, colony, a.prvkey, b.prvkey)
    pid = out["pid"]
    assert out["assigned"] == pid
    [hello] = out["b_reads"]
    assert hello["payload"] == b"hello" and hello["senderid"] == a.id
    assert hello["sequence"] == 1 and hello["type"] == "data"
    [reply] = out["a_reads_after_1"]
    assert reply["payload"] == b"hi back" and reply["inreplyto"] == 1
    assert reply["senderid"] == b.id
    assert [e["payload"] for e in out["limited"]] == [b"hello"]

    # B follows on replica 2 while A appends on replica 1; the stream stops at "end".
    one = sdk.Colonies("127.0.0.1", port1)
    two = sdk.Colonies("127.0.0.1", port2)
    seen: list[Json] = []

    def collect(entries: list[Json]) -> bool:
        seen.extend(entries)
        return not any(e.get("type") == "end" for e in entries)

    follower = asyncio.create_task(
        asyncio.to_thread(two.subscribe_channel, pid, "chat", b.prvkey, 2, 30, collect)
    )
    await asyncio.to_thread(one.channel_append, pid, "chat", 2, "token 1", a.prvkey)
    await asyncio.to_thread(one.channel_append, pid, "chat", 3, "token 2", a.prvkey)
    await asyncio.to_thread(one.channel_append, pid, "chat", 4, "", a.prvkey, 0, "end")
    await asyncio.wait_for(follower, 30)
    # An empty payload comes as "" (the SDK decodes only non-empty ones, as from upstream).
    assert [e["payload"] or b"" for e in seen] == [b"token 1", b"token 2", b""]
    assert [e["type"] for e in seen] == ["data", "data", "end"]

    # Once the process is closed its channel is gone for new readers and writers.
    await asyncio.to_thread(two.close, pid, ["done"], b.prvkey)
    with pytest.raises(sdk.ColoniesConnectionError, match="not found"):
        await asyncio.to_thread(one.channel_read, pid, "chat", 0, 0, a.prvkey)
    with pytest.raises(sdk.ColoniesError, match="not found"):
        await asyncio.to_thread(two.subscribe_channel, pid, "chat", b.prvkey, 0, 5)


async def test_an_open_stream_drains_before_the_process_closes(
    colony: ColonyEnv, second: ServerEnv
) -> None:
    """Entries appended just before the close reach a follower, which then gets the end of
    the stream at once instead of waiting for its timeout."""
    sdk = load_current_sdk()
    a, b = colony.executor, await colony.new_executor()
    pid = await asyncio.to_thread(submit_with_channel, colony.server.replica.port, colony, a.prvkey)
    b2 = second.client(b.prvkey)
    assert (await b2.rpc("assignprocessmsg", colonyname=colonyname(colony), timeout=10))[
        "processid"
    ] == pid
    two = sdk.Colonies("127.0.0.1", second.replica.port)
    started = time.monotonic()
    follower = asyncio.create_task(
        asyncio.to_thread(two.subscribe_channel, pid, "chat", a.prvkey, 0, 60)
    )
    for seq in (1, 2, 3):
        await b.rpc(
            "channelappendmsg", processid=pid, name="chat", sequence=seq, payload=[48 + seq]
        )
    await b2.close(pid, ["done"])
    entries = await asyncio.wait_for(follower, 60)
    assert [e["payload"] for e in entries] == [b"1", b"2", b"3"]
    assert time.monotonic() - started < 30  # ended by the close, not by its 60 s timeout


async def test_channel_roles_and_bad_input(colony: ColonyEnv, second: ServerEnv) -> None:
    a, b = colony.executor, await colony.new_executor()
    bystander = await colony.new_executor()  # an approved member, but not a party
    pid = await asyncio.to_thread(submit_with_channel, colony.server.replica.port, colony, a.prvkey)
    await second.client(b.prvkey).rpc("assignprocessmsg", colonyname=colonyname(colony), timeout=10)
    stranger = colony.server.client(generate_private_key())
    read = {"processid": pid, "name": "chat", "afterseq": 0, "limit": 0}
    append = {"processid": pid, "name": "chat", "sequence": 1, "payload": [1]}
    for caller in (bystander, stranger, colony.owner):
        for msgtype, fields in (("channelreadmsg", read), ("channelappendmsg", append)):
            with pytest.raises(ColoniesError) as refused:
                await caller.rpc(msgtype, **fields)
            assert refused.value.status == 403, refused.value.message
    cases: list[tuple[dict[str, Any], int]] = [
        ({**append, "name": "undeclared"}, 404),
        ({**append, "processid": "f" * 64}, 404),
        ({**append, "payload": [300]}, 400),
        ({**append, "payload": "%%%"}, 400),
        ({**append, "sequence": "one"}, 400),
        ({key: v for key, v in append.items() if key != "name"}, 400),
    ]
    for fields, status in cases:
        with pytest.raises(ColoniesError) as refused:
            await a.rpc("channelappendmsg", **fields)
        assert refused.value.status == status, (fields, refused.value.message)
    assert await b.rpc("channelreadmsg", **read) == []  # nothing refused was stored

    sdk = load_current_sdk()
    follower = sdk.Colonies("127.0.0.1", second.replica.port)
    with pytest.raises(sdk.ColoniesError, match="not authorized"):
        await asyncio.to_thread(follower.subscribe_channel, pid, "chat", bystander.prvkey, 0, 5)


async def test_a_follower_gets_entries_while_the_notify_listener_is_away(
    colony: ColonyEnv, postgres: EmbeddedPostgres, database_url: str
) -> None:
    """NOTIFY only hurries a follower: with the replica's listener cut off (and kept out),
    an append still reaches it through the re-check."""
    a, b = colony.executor, await colony.new_executor()
    pid = await asyncio.to_thread(submit_with_channel, colony.server.replica.port, colony, a.prvkey)
    await b.rpc("assignprocessmsg", colonyname=colonyname(colony), timeout=10)
    msg = {
        "msgtype": "subscribechannelmsg",
        "processid": pid,
        "name": "chat",
        "afterseq": 0,
        "timeout": 60,
    }
    url = colony.server.url.replace("http", "ws") + "/pubsub"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(encode_request(msg, b.prvkey).decode())
        topics = colony.server.replica.events._topic_signals
        await until(lambda: f"{pid}/chat" in topics)  # it read the empty log and waits
        async with listener_away(postgres, database_url):
            await a.rpc("channelappendmsg", processid=pid, name="chat", sequence=1, payload=[7])
            frame = await ws.receive(timeout=15)
            [entry] = decode_reply(200, frame.data.encode())
            assert entry["payload"] == "Bw==" and entry["senderid"] == a.id
