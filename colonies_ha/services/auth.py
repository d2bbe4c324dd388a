"""Who may do what: the three roles of the protocol, checked in this one place.

Server owner: holds the key whose id the server is configured with.  Colony owner: holds
the colony's key (the colony id is that key's id).  Member: an approved executor of the
colony.  Assignee rules are compare-and-set conditions in the store, not checks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from colonies_ha.domain.errors import Forbidden, NotFound
from colonies_ha.domain.states import ExecutorState
from colonies_ha.services import batches
from colonies_ha.services.context import Context
from colonies_ha.store import repo
from colonies_ha.store.db import Conn


@dataclass(frozen=True, slots=True)
class Member:
    executorid: str
    colonyid: str
    executortype: str


def require_server_owner(caller_id: str, server_id: str) -> None:
    if not server_id or caller_id != server_id:
        raise Forbidden("only the server owner may do this; the request was not signed by its key")


async def require_colony_owner(conn: Conn, caller_id: str, colonyid: str) -> None:
    if caller_id != colonyid:
        raise Forbidden(f"only the owner of colony {colonyid} may do this")
    if await repo.get_colony(conn, colonyid) is None:
        raise NotFound(f"colony {colonyid} does not exist")


async def require_member(conn: Conn, caller_id: str, colonyid: str) -> Member:
    executor = await repo.get_executor(conn, caller_id)
    _check_membership(executor, caller_id, colonyid)
    assert executor is not None
    return Member(executor["executorid"], executor["colonyid"], executor["executortype"])


async def require_member_coalesced(ctx: Context, caller_id: str, colonyid: str) -> Member:
    """require_member on the hot path (submit, assign): the executor lookup shares one
    statement with the concurrent requests' lookups (see services.coalesce)."""
    executor = await ctx.batches.executor.run(None, caller_id, partial(batches.executor_batch, ctx))
    _check_membership(executor, caller_id, colonyid)
    assert executor is not None
    return Member(executor["executorid"], executor["colonyid"], executor["executortype"])


def _check_membership(executor: dict[str, Any] | None, caller_id: str, colonyid: str) -> None:
    if executor is None or executor["colonyid"] != colonyid:
        raise Forbidden(f"the caller {caller_id} is not an executor of colony {colonyid}")
    if executor["state"] == ExecutorState.PENDING:
        raise Forbidden(f"executor {caller_id} is not approved yet by the colony owner")
    if executor["state"] == ExecutorState.REJECTED:
        raise Forbidden(f"executor {caller_id} was rejected by the colony owner")


async def require_member_or_owner(conn: Conn, caller_id: str, colonyid: str) -> None:
    if caller_id == colonyid:
        await require_colony_owner(conn, caller_id, colonyid)
        return
    await require_member(conn, caller_id, colonyid)


async def require_member_any_state_or_owner(conn: Conn, caller_id: str, colonyid: str) -> None:
    """getexecutors: an executor may list its colony even before it is approved."""
    if caller_id == colonyid:
        await require_colony_owner(conn, caller_id, colonyid)
        return
    executor = await repo.get_executor(conn, caller_id)
    if executor is None or executor["colonyid"] != colonyid:
        raise Forbidden(f"the caller {caller_id} is not an executor of colony {colonyid}")


async def require_own_colony_member(conn: Conn, caller_id: str, colonyid: str = "") -> Member:
    """For messages that name no colony: the caller's own colony (or the one given)."""
    if colonyid:
        return await require_member(conn, caller_id, colonyid)
    executor = await repo.get_executor(conn, caller_id)
    if executor is None:
        raise Forbidden(f"the caller {caller_id} is not an executor of any colony")
    return await require_member(conn, caller_id, executor["colonyid"])


async def require_own_colony_member_or_owner(conn: Conn, caller_id: str, colonyid: str = "") -> str:
    """A colony stream (subscribeprocessesmsg): its members, and its owner, who may list the
    same processes anyway (getprocessesmsg).  Returns the colony: the one given, else the
    owner's own or the executor's."""
    if colonyid in ("", caller_id) and await repo.get_colony(conn, caller_id) is not None:
        return caller_id  # the caller signed with the colony's own key
    return (await require_own_colony_member(conn, caller_id, colonyid)).colonyid
