"""Assigns relayed by a follower: served only under the epoch the follower saw, within what
is left of the client's wait, and named by a receipt that every attempt of one request
shares, so that an attempt whose reply was lost is answered with the same claim."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from colonies_ha.api.channel import CHANNEL_PATH
from colonies_ha.api.forward import (
    EPOCH_HEADER,
    FORWARDED_HEADER,
    RECEIPT_HEADER,
    WAIT_LIMIT_HEADER,
)
from colonies_ha.protocol.channel import RequestFrame, decode_replies
from colonies_ha.protocol.channel import encode_request as encode_frame
from colonies_ha.protocol.envelope import Relay, decode_reply, encode_request
from tests.helpers import ColonyEnv

Headers = dict[str, str]


def relay_headers(epoch: object, receipt: str = "receipt-1") -> Headers:
    return {FORWARDED_HEADER: "a-follower", EPOCH_HEADER: str(epoch), RECEIPT_HEADER: receipt}


async def relayed_assign(
    colony: ColonyEnv, prvkey: str, headers: Headers, timeout: int = 1
) -> tuple[int, object]:
    body = encode_request(
        {"msgtype": "assignprocessmsg", "colonyid": colony.colonyid, "timeout": timeout}, prvkey
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{colony.server.url}/api", data=body, headers=headers) as reply,
    ):
        raw = await reply.read()
        try:
            return reply.status, decode_reply(reply.status, raw)
        except Exception as error:
            return reply.status, error


def processid(reply: tuple[int, object]) -> str:
    status, process = reply
    assert status == 200 and isinstance(process, dict), reply
    return str(process["processid"])


async def test_a_retried_relay_gets_the_claim_of_its_earlier_attempt(colony: ColonyEnv) -> None:
    executor = await colony.new_executor()
    first = await executor.submit(colony.spec())
    second = await executor.submit(colony.spec())
    headers = relay_headers(colony.server.replica.ctx.leadership.epoch, "receipt-1")
    claimed = processid(await relayed_assign(colony, executor.prvkey, headers))
    assert claimed == first["processid"]
    # The follower lost the reply and asks again: the same claim, nothing more claimed.
    assert processid(await relayed_assign(colony, executor.prvkey, headers)) == claimed
    assert (await executor.get_process(second["processid"]))["state"] == 0
    # The receipt belongs to its executor: another executor's request claims afresh.
    other = await colony.new_executor()
    assert processid(await relayed_assign(colony, other.prvkey, headers)) == second["processid"]
    # Once the claim is closed it is over: a late attempt claims nothing old.
    await executor.close(claimed, ["done"])
    status, _ = await relayed_assign(colony, executor.prvkey, headers)
    assert status == 404


async def test_concurrent_attempts_of_one_request_claim_one_process(colony: ColonyEnv) -> None:
    """Both attempts long-poll on an empty queue; two processes arrive; one is claimed."""
    executor = await colony.new_executor()
    headers = relay_headers(colony.server.replica.ctx.leadership.epoch, "receipt-2")
    attempts = [
        asyncio.create_task(relayed_assign(colony, executor.prvkey, headers, timeout=10))
        for _ in range(2)
    ]
    submitted = [await executor.submit(colony.spec()) for _ in range(2)]
    claimed = {processid(reply) for reply in await asyncio.gather(*attempts)}
    assert len(claimed) == 1
    states = [(await executor.get_process(p["processid"]))["state"] for p in submitted]
    assert sorted(states) == [0, 1]


async def test_a_relay_waits_no_longer_than_the_client_has_left(colony: ColonyEnv) -> None:
    executor = await colony.new_executor()
    headers = relay_headers(colony.server.replica.ctx.leadership.epoch, "receipt-3")
    headers[WAIT_LIMIT_HEADER] = "0.2"
    started = time.monotonic()
    status, error = await relayed_assign(colony, executor.prvkey, headers, timeout=30)
    assert status == 404, error
    assert time.monotonic() - started < 5  # not the message's 30 s


async def test_a_bad_wait_limit_is_a_clear_400(colony: ColonyEnv) -> None:
    executor = await colony.new_executor()
    headers = relay_headers(colony.server.replica.ctx.leadership.epoch)
    headers[WAIT_LIMIT_HEADER] = "soon"
    status, error = await relayed_assign(colony, executor.prvkey, headers)
    assert status == 400
    assert WAIT_LIMIT_HEADER in str(error)


async def test_a_relay_under_a_stale_epoch_is_refused_and_claims_nothing(
    colony: ColonyEnv,
) -> None:
    executor = await colony.new_executor()
    submitted = await executor.submit(colony.spec())
    stale = colony.server.replica.ctx.leadership.epoch - 1
    status, error = await relayed_assign(colony, executor.prvkey, relay_headers(stale))
    assert status == 503, error
    assert "epoch" in str(error)
    assert (await executor.get_process(submitted["processid"]))["state"] == 0


async def test_a_relay_without_its_epoch_is_a_clear_400(colony: ColonyEnv) -> None:
    executor = await colony.new_executor()
    status, error = await relayed_assign(
        colony, executor.prvkey, {FORWARDED_HEADER: "a-follower", EPOCH_HEADER: "seven"}
    )
    assert status == 400
    assert EPOCH_HEADER in str(error)


# -- the relay channel (GET /relay): the same contract, frames instead of HTTP requests ----


async def channel_replies(
    colony: ColonyEnv, frames: list[RequestFrame]
) -> dict[int, tuple[int, bool, object]]:
    """Send `frames` in one WebSocket message; the replies by frame id, decoded."""
    replies: dict[int, tuple[int, bool, object]] = {}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{colony.server.url}{CHANNEL_PATH}") as ws,
    ):
        await ws.send_bytes(b"".join(encode_frame(f) for f in frames))
        while len(replies) < len(frames):
            for reply in decode_replies(await ws.receive_bytes(timeout=10)):
                try:
                    value: object = decode_reply(reply.status, reply.body)
                except Exception as error:
                    value = error
                replies[reply.ident] = (reply.status, reply.unavailable, value)
    return replies


def assign_frame(
    colony: ColonyEnv, prvkey: str, ident: int, epoch: int, receipt: str
) -> RequestFrame:
    body = encode_request(
        {"msgtype": "assignprocessmsg", "colonyid": colony.colonyid, "timeout": 1}, prvkey
    )
    return RequestFrame(ident, Relay(epoch, receipt, 1.0), body)


async def test_a_channel_serves_each_frame_under_its_epoch_and_receipt(colony: ColonyEnv) -> None:
    executor = await colony.new_executor()
    first = await executor.submit(colony.spec())
    second = await executor.submit(colony.spec())
    epoch = colony.server.replica.ctx.leadership.epoch
    stranger = await colony.new_executor(approve=False)
    replies = await channel_replies(
        colony,
        [
            assign_frame(colony, executor.prvkey, 1, epoch - 1, "channel-1"),  # a stale epoch
            assign_frame(colony, executor.prvkey, 2, epoch, "channel-2"),
            assign_frame(colony, stranger.prvkey, 3, epoch, "channel-3"),  # verified as ever
        ],
    )
    assert replies[1][:2] == (503, False), replies[1]  # not leading under it; nothing claimed
    assert replies[2][0] == 200 and replies[2][2]["processid"] == first["processid"]  # type: ignore[index]
    assert replies[3][0] == 403, replies[3]
    # The reply was lost and the follower asks again, on a new channel: the same claim.
    again = await channel_replies(
        colony, [assign_frame(colony, executor.prvkey, 7, epoch, "channel-2")]
    )
    assert again[7][2]["processid"] == first["processid"]  # type: ignore[index]
    assert (await executor.get_process(second["processid"]))["state"] == 0


async def test_a_malformed_channel_message_closes_the_channel(colony: ColonyEnv) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{colony.server.url}{CHANNEL_PATH}") as ws,
    ):
        await ws.send_bytes(b"\x00\x00\x00\x05\x00\x00\x00\x00[1,2]")  # a header too short
        message = await ws.receive(timeout=10)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == aiohttp.WSCloseCode.UNSUPPORTED_DATA
    assert "id, epoch, receipt, wait limit" in message.extra
