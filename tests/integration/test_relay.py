"""Assigns relayed by a follower: served only under the epoch the follower saw, within what
is left of the client's wait, and named by a receipt that every attempt of one request
shares, so that an attempt whose reply was lost is answered with the same claim."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from colonies_ha.api.forward import (
    EPOCH_HEADER,
    FORWARDED_HEADER,
    RECEIPT_HEADER,
    WAIT_LIMIT_HEADER,
)
from colonies_ha.protocol.envelope import decode_reply, encode_request
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
