"""Assigns relayed by a follower: served only under the epoch the follower saw, and named by
a receipt so that a claim whose reply was lost can still be delivered."""

from __future__ import annotations

import aiohttp

from colonies_ha.api.forward import EPOCH_HEADER, FORWARDED_HEADER, RECEIPT_HEADER
from colonies_ha.protocol.envelope import decode_reply, encode_request
from colonies_ha.services import processes
from tests.helpers import ColonyEnv

Headers = dict[str, str]


def relay_headers(epoch: object, receipt: str = "receipt-1") -> Headers:
    return {FORWARDED_HEADER: "a-follower", EPOCH_HEADER: str(epoch), RECEIPT_HEADER: receipt}


async def relayed_assign(colony: ColonyEnv, prvkey: str, headers: Headers) -> tuple[int, object]:
    body = encode_request(
        {"msgtype": "assignprocessmsg", "colonyid": colony.colonyid, "timeout": 1}, prvkey
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


async def test_a_committed_relayed_claim_can_be_found_by_its_receipt(colony: ColonyEnv) -> None:
    executor = await colony.new_executor()
    submitted = await executor.submit(colony.spec())
    ctx = colony.server.replica.ctx
    epoch = ctx.leadership.epoch
    status, process = await relayed_assign(
        colony, executor.prvkey, relay_headers(epoch, "receipt-1")
    )
    assert status == 200
    assert isinstance(process, dict) and process["processid"] == submitted["processid"]
    # The follower lost the reply: it finds the same claim, for the same executor only.
    found = await processes.claimed_by_receipt(ctx, "receipt-1", executor.id)
    assert found is not None and found["processid"] == submitted["processid"]
    other = await colony.new_executor()
    assert await processes.claimed_by_receipt(ctx, "receipt-1", other.id) is None
    assert await processes.claimed_by_receipt(ctx, "receipt-2", executor.id) is None
    # Once closed, the claim is over: a late lookup delivers nothing.
    await executor.close(submitted["processid"], ["done"])
    assert await processes.claimed_by_receipt(ctx, "receipt-1", executor.id) is None


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
