"""Handlers for process channels: append and read over /api, follow over /pubsub."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from colonies_ha.api.dispatch import rpc
from colonies_ha.domain.channels import decode_payload
from colonies_ha.domain.validation import get_int, get_str, require_str
from colonies_ha.protocol.envelope import SignedRequest as Req
from colonies_ha.protocol.envelope import encode_reply
from colonies_ha.services import channels
from colonies_ha.services.context import Context

SUBSCRIBE_CHANNEL = "subscribechannelmsg"
DEFAULT_FOLLOW_SECONDS = 30  # upstream's default when the timeout is 0
MAX_FOLLOW_SECONDS = 3600


@rpc("channelappendmsg")
async def channel_append(ctx: Context, req: Req) -> Any:
    entry = channels.Append(
        processid=require_str(req.msg, "processid"),
        name=require_str(req.msg, "name"),
        sequence=get_int(req.msg, "sequence"),
        inreplyto=get_int(req.msg, "inreplyto"),
        payload=decode_payload(req.msg.get("payload")),
        type=get_str(req.msg, "payloadtype"),
    )
    await channels.append(ctx, req.caller_id, entry)
    return {}


@rpc("channelreadmsg")
async def channel_read(ctx: Context, req: Req) -> Any:
    return await channels.read(
        ctx,
        req.caller_id,
        _ref(req),
        get_int(req.msg, "afterseq"),
        get_int(req.msg, "limit"),
    )


def _ref(req: Req) -> channels.Ref:
    return channels.Ref(require_str(req.msg, "processid"), require_str(req.msg, "name"))


async def follow_channel(ctx: Context, ws: web.WebSocketResponse, req: Req) -> None:
    """subscribechannelmsg on /pubsub: batches of entries as they come, then an empty
    batch when the timeout passes or the process finishes (pycolonies stops on it)."""
    timeout = get_int(req.msg, "timeout", low=0) or DEFAULT_FOLLOW_SECONDS

    async def send(entries: list[Any]) -> None:
        await ws.send_str(encode_reply(SUBSCRIBE_CHANNEL, entries).decode())

    await channels.follow(
        ctx,
        req.caller_id,
        _ref(req),
        get_int(req.msg, "afterseq"),
        timeout=min(timeout, MAX_FOLLOW_SECONDS),
        send=send,
    )
    await send([])
