"""Who may do what: the roles of both protocol generations, checked in this one place.

Server owner: holds the key whose id the server is configured with.  Colony owner: holds
the colony's key (the colony id is that key's id).  Member: an approved executor of the
colony (2023, addressed by colony id); in the newest generation (addressed by colony name)
also a user of the colony.  Assignee rules are compare-and-set conditions in the store, not
checks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from colonies_ha.domain.errors import Forbidden, NotFound
from colonies_ha.domain.states import ExecutorState
from colonies_ha.domain.validation import ColonyRef
from colonies_ha.services import batches
from colonies_ha.services.context import Context
from colonies_ha.store import repo
from colonies_ha.store.db import Conn


@dataclass(frozen=True, slots=True)
class Member:
    """A caller admitted to a colony.  For a user, `executorid` is the user's id, the type
    is empty and `executorname` is the user's name (the newest generation's initiator)."""

    executorid: str
    colonyid: str
    executortype: str
    colonyname: str = ""
    executorname: str = ""
    is_user: bool = False


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
    return _member_of(executor, caller_id, colonyid)


async def require_member_coalesced(ctx: Context, caller_id: str, colonyid: str) -> Member:
    """require_member on the hot path (submit, assign): the executor lookup shares one
    statement with the concurrent requests' lookups (see services.coalesce)."""
    executor = await ctx.batches.executor.run(None, caller_id, partial(batches.executor_batch, ctx))
    return _member_of(executor, caller_id, colonyid)


def _member_of(executor: dict[str, Any] | None, caller_id: str, colonyid: str) -> Member:
    _check_membership(executor, caller_id, colonyid)
    assert executor is not None
    return Member(
        executor["executorid"],
        executor["colonyid"],
        executor["executortype"],
        colonyname=executor["colonyname"],
        executorname=executor["executorname"],
    )


def _check_membership(executor: dict[str, Any] | None, caller_id: str, colonyid: str) -> None:
    if executor is None or executor["colonyid"] != colonyid:
        raise Forbidden(f"the caller {caller_id} is not an executor of colony {colonyid}")
    if executor["state"] == ExecutorState.PENDING:
        raise Forbidden(f"executor {caller_id} is not approved yet by the colony owner")
    if executor["state"] == ExecutorState.REJECTED:
        raise Forbidden(f"executor {caller_id} was rejected by the colony owner")


def require_own_function(caller_id: str, executorid: str, action: str) -> None:
    """Functions belong to the executor that registered them: only it may add or remove
    them (`action` is "register" or "delete"), in both generations."""
    if executorid != caller_id:
        whose = "functions for itself" if action == "register" else "its own functions"
        raise Forbidden(f"an executor may only {action} {whose}")


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


# -- the newest generation: colonies addressed by name ----------------------------------


async def colony_by_name(conn: Conn, colonyname: str) -> dict[str, Any]:
    """The colony row (colonyid, name) of a colony name, or NotFound."""
    if not colonyname:
        raise NotFound("no colony name was given")
    row = await repo.one(conn, "get_colony_by_name", {"colonyname": colonyname})
    if row is None:
        raise NotFound(f"colony with name '{colonyname}' does not exist")
    return row


async def require_colony_owner_by_name(conn: Conn, caller_id: str, colonyname: str) -> dict:
    """Signed with the colony's own key; returns the colony row."""
    colony = await colony_by_name(conn, colonyname)
    if caller_id != colony["colonyid"]:
        raise Forbidden(f"only the owner of colony '{colonyname}' may do this")
    return colony


async def require_membership(
    conn: Conn, caller_id: str, colonyname: str, *, approved: bool = True
) -> Member:
    """Upstream's membership: an executor of the colony (approved, unless `approved` is
    False) or a user of the colony.  The colony's owner key is neither."""
    params = {"caller": caller_id, "colonyname": colonyname, "colonyid": ""}
    row = await repo.one(conn, "membership", params)
    if row is None:
        raise NotFound(f"colony with name '{colonyname}' does not exist")
    return _admit(row, caller_id, approved=approved)


async def require_member_by_id(conn: Conn, caller_id: str, colonyid: str) -> Member:
    """Membership as above, for messages that name a process (getprocessmsg, addlogmsg,
    ...): both generations send them, and a 2023 executor passes exactly as before."""
    params = {"caller": caller_id, "colonyname": "", "colonyid": colonyid}
    row = await repo.one(conn, "membership", params)
    if row is None:
        raise NotFound(f"colony {colonyid} does not exist")
    return _admit(row, caller_id, approved=True)


def _admit(row: dict[str, Any], caller_id: str, *, approved: bool) -> Member:
    name = row["colonyname"]
    if row["executorid"] is not None and (not approved or row["state"] == ExecutorState.APPROVED):
        return Member(
            row["executorid"],
            row["colonyid"],
            row["executortype"],
            colonyname=name,
            executorname=row["executorname"],
        )
    if row["userid"] is not None:
        return Member(
            row["userid"],
            row["colonyid"],
            "",
            colonyname=name,
            executorname=row["username"],
            is_user=True,
        )
    if row["executorid"] is not None:
        _check_membership({**row, "colonyid": row["colonyid"]}, caller_id, row["colonyid"])
    raise Forbidden(
        f"access denied: the caller {caller_id} is not an executor or user of colony '{name}'"
    )


# -- either generation: the colony named by id (2023 rules) or by name (newest rules) ----


async def require_member_by_ref(conn: Conn, caller_id: str, colony: ColonyRef) -> Member:
    """Reading: a 2023 approved executor, or a newest-generation member."""
    if colony.current:
        return await require_membership(conn, caller_id, colony.colonyname)
    return await require_member(conn, caller_id, colony.colonyid)


async def require_submitter_by_ref(ctx: Context, caller_id: str, colony: ColonyRef) -> Member:
    """Submitting: a 2023 approved executor, or a newest-generation member (executor or
    user).  Admissions are remembered for a moment (services.member_cache)."""
    if colony.current:
        return await ctx.members.admit(
            ("member", caller_id, colony.colonyname),
            partial(_membership_by_name, ctx, caller_id, colony.colonyname),
        )
    return await ctx.members.admit(
        ("member-2023", caller_id, colony.colonyid),
        partial(require_member_coalesced, ctx, caller_id, colony.colonyid),
    )


async def require_assignee_by_ref(ctx: Context, caller_id: str, colony: ColonyRef) -> Member:
    """Assigning: an approved executor of the colony (a user runs nothing).  The claim
    admits the executor again under row locks (migration 0010), so a remembered admission
    never hands work to an executor rejected or removed meanwhile."""
    member = await require_submitter_by_ref(ctx, caller_id, colony)
    if member.is_user:  # only the newest generation has users
        raise Forbidden(f"the user {caller_id} is not an executor; only executors run processes")
    return member


async def _membership_by_name(ctx: Context, caller_id: str, colonyname: str) -> Member:
    async with ctx.db.connection() as conn:
        return await require_membership(conn, caller_id, colonyname)


async def require_reader_by_ref(
    conn: Conn, caller_id: str, colony: ColonyRef, *, any_state: bool = False
) -> str:
    """Listings and statistics: 2023 lets the colony owner and members read (executor
    listings also pending executors); the newest lets members (`any_state`: any executor
    state).  Returns the colony id."""
    if colony.current:
        member = await require_membership(
            conn, caller_id, colony.colonyname, approved=not any_state
        )
        return member.colonyid
    if any_state:
        await require_member_any_state_or_owner(conn, caller_id, colony.colonyid)
    else:
        await require_member_or_owner(conn, caller_id, colony.colonyid)
    return colony.colonyid


async def require_owner_by_ref(conn: Conn, caller_id: str, colony: ColonyRef) -> dict[str, Any]:
    """The colony's owner, in both generations; returns the colony row."""
    if colony.current:
        return await require_colony_owner_by_name(conn, caller_id, colony.colonyname)
    await require_colony_owner(conn, caller_id, colony.colonyid)
    row = await repo.get_colony(conn, colony.colonyid)
    assert row is not None
    return row


async def require_users_reader(conn: Conn, caller_id: str, colonyname: str) -> str:
    """getusersmsg/getusermsg: a member in any executor state, or (so the owner can see
    whom it added) the colony's owner.  Returns the colony id."""
    colony = await colony_by_name(conn, colonyname)
    if caller_id == colony["colonyid"]:
        return caller_id
    return (await require_membership(conn, caller_id, colonyname, approved=False)).colonyid


@dataclass(frozen=True, slots=True)
class Caller:
    """Who acts in a colony: its id, its name there ('' for the colony's owner key), and
    the colony (id and name)."""

    id: str
    name: str
    colonyid: str
    colonyname: str


async def require_membership_or_colony_owner(conn: Conn, caller_id: str, colonyname: str) -> Caller:
    """Blueprints: a member of the colony (approved executor or user), or its owner."""
    colony = await colony_by_name(conn, colonyname)
    if caller_id == colony["colonyid"]:
        return Caller(caller_id, "", colony["colonyid"], colony["name"])
    return await require_member_caller(conn, caller_id, colonyname)


async def require_member_caller(conn: Conn, caller_id: str, colonyname: str) -> Caller:
    """require_membership, answered as a Caller (the name becomes a process's initiator)."""
    member = await require_membership(conn, caller_id, colonyname)
    return Caller(caller_id, member.executorname, member.colonyid, member.colonyname)


async def require_channel_party(conn: Conn, caller_id: str, process: dict[str, Any]) -> None:
    """Channels: a member of the process's colony who is also its submitter or its current
    assignee; nobody else may read or write the conversation."""
    colony = await repo.get_colony(conn, process["colonyid"])
    if colony is None:
        raise NotFound(f"colony {process['colonyid']} does not exist")
    await require_membership(conn, caller_id, colony["name"])
    parties = {process.get("initiatorid", ""), process["assignedexecutorid"]} - {""}
    if caller_id not in parties:
        raise Forbidden(
            f"not authorized: only the submitter or the assigned executor of process "
            f"{process['processid']} may use its channels"
        )
