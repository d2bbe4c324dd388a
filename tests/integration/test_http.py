"""What the raw HTTP surface does with odd, hostile or oversized requests."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from colonies_ha.protocol.envelope import encode_request
from tests.helpers import ColonyEnv, ServerEnv, start_server


async def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/api", data=body, headers=headers or {}) as response,
    ):
        return response.status, json.loads(await response.read())


def error_message(reply: dict) -> str:
    assert reply["error"] is True and reply["payloadtype"] == "error"
    return json.loads(base64.b64decode(reply["payload"]))["message"]


async def test_no_content_type_is_needed(colony: ColonyEnv) -> None:
    body = encode_request(
        {"msgtype": "getcolonymsg", "colonyid": colony.colonyid}, colony.executor.prvkey
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{colony.server.url}/api", data=body, skip_auto_headers=["Content-Type"]
        ) as response,
    ):
        assert response.status == 200
        reply = json.loads(await response.read())
    assert reply["error"] is False and reply["payloadtype"] == "getcolonymsg"
    assert json.loads(base64.b64decode(reply["payload"]))["colonyid"] == colony.colonyid


async def test_tampered_requests_get_error_envelopes(colony: ColonyEnv) -> None:
    good = json.loads(
        encode_request(
            {"msgtype": "getcolonymsg", "colonyid": colony.colonyid}, colony.executor.prvkey
        )
    )
    swapped = dict(good, payloadtype="getcoloniesmsg")
    status, reply = await post(colony.server.url, json.dumps(swapped).encode())
    assert status == 400 and "does not match" in error_message(reply)
    truncated = dict(good, signature=good["signature"][:100])
    status, reply = await post(colony.server.url, json.dumps(truncated).encode())
    assert status == 403 and "65 bytes" in error_message(reply)
    other_payload = {"msgtype": "getcolonymsg", "colonyid": colony.colonyid, "x": 1}
    changed = dict(good, payload=base64.b64encode(json.dumps(other_payload).encode()).decode())
    status, reply = await post(colony.server.url, json.dumps(changed).encode())
    assert status == 403 and "not an executor" in error_message(reply)
    status, reply = await post(colony.server.url, b"{nonsense")
    assert status == 400 and "not valid JSON" in error_message(reply)


@pytest.fixture
async def small_server(database_url: str) -> AsyncIterator[ServerEnv]:
    env = await start_server(database_url, max_body_bytes=4096)
    yield env
    await env.stop()


async def test_oversized_body_gets_413_envelope(small_server: ServerEnv) -> None:
    big = encode_request(
        {"msgtype": "getcoloniesmsg", "pad": "x" * 10_000}, small_server.server_prvkey
    )
    status, reply = await post(small_server.url, big)
    assert status == 413 and "exceeds the limit of 4096" in error_message(reply)
    small = encode_request({"msgtype": "getcoloniesmsg"}, small_server.server_prvkey)
    status, _ = await post(small_server.url, small)
    assert status == 200


async def test_health_and_ready(server: ServerEnv) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/health") as response:
            assert response.status == 200
        async with http.get(f"{server.url}/ready") as response:
            assert response.status == 200
            assert (await response.json())["ready"] is True
