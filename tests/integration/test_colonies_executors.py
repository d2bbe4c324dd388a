"""Colonies, executors and functions over real HTTP, with each role's refusals."""

from __future__ import annotations

import pytest

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.helpers import ColonyEnv, ServerEnv


async def refused(call, status: int, match: str = "") -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ColoniesError) as info:
        await call
    assert info.value.status == status, info.value.message
    assert match in info.value.message
    return info.value.message


async def test_server_owner_manages_colonies(server: ServerEnv) -> None:
    key = generate_private_key()
    colonyid = id_of_private_key(key)
    colony = await server.owner.add_colony(colonyid, "demo")
    assert colony == {"colonyid": colonyid, "name": "demo"}
    assert colony in await server.owner.get_colonies()
    await refused(server.owner.add_colony(colonyid, "demo"), 400, "already exists")
    await server.owner.delete_colony(colonyid)
    assert await server.owner.get_colonies() == []
    await refused(server.owner.delete_colony(colonyid), 404, "does not exist")


async def test_only_server_owner_manages_colonies(colony: ColonyEnv) -> None:
    stranger = colony.server.client(generate_private_key())
    for client in (stranger, colony.owner, colony.executor):
        await refused(client.get_colonies(), 403, "server owner")
        await refused(client.add_colony("c" * 64, "x"), 403, "server owner")
        await refused(client.delete_colony(colony.colonyid), 403, "server owner")
        await refused(client.server_stats(), 403, "server owner")


async def test_add_colony_validates_fields(server: ServerEnv) -> None:
    await refused(server.owner.add_colony("short", "x"), 400, "colonyid")
    await refused(server.owner.rpc("addcolonymsg", colony={"colonyid": "a" * 64}), 400, "name")


async def test_executor_registration_and_approval(colony: ColonyEnv) -> None:
    pending = await colony.new_executor(approve=False, name="pending-one")
    info = await colony.owner.get_executor(pending.id)
    assert info["state"] == 0 and info["executorname"] == "pending-one"
    assert info["colonyid"] == colony.colonyid and info["location"] == {"long": 0.0, "lat": 0.0}
    # A pending executor may list its colony's executors but do nothing as a member.
    names = {e["executorname"] for e in await pending.get_executors(colony.colonyid)}
    assert "pending-one" in names
    await refused(pending.get_colony(colony.colonyid), 403, "not approved")
    await colony.owner.approve_executor(pending.id)
    assert (await pending.get_colony(colony.colonyid))["colonyid"] == colony.colonyid
    await colony.owner.reject_executor(pending.id)
    assert (await colony.owner.get_executor(pending.id))["state"] == 2
    await refused(pending.get_colony(colony.colonyid), 403, "rejected")
    await colony.owner.delete_executor(pending.id)
    await refused(colony.owner.get_executor(pending.id), 404, "does not exist")


async def test_executor_state_is_pending_whatever_was_sent(colony: ColonyEnv) -> None:
    key = generate_private_key()
    executor = {
        "executorid": id_of_private_key(key),
        "colonyid": colony.colonyid,
        "executortype": "t",
        "executorname": "sneaky",
        "state": 1,
    }
    reply = await colony.owner.rpc("addexecutormsg", executor=executor)
    assert reply["state"] == 0


async def test_only_colony_owner_manages_executors(colony: ColonyEnv) -> None:
    other = await colony.server.new_colony()
    target = colony.executor.id
    for client in (colony.executor, other.owner, colony.server.owner):
        await refused(client.approve_executor(target), 403, "owner of colony")
        await refused(client.reject_executor(target), 403, "owner of colony")
        await refused(client.delete_executor(target), 403, "owner of colony")
        await refused(client.add_executor("d" * 64, colony.colonyid, "t", "n"), 403, "owner")
    await refused(
        colony.owner.add_executor(colony.executor.id, colony.colonyid, "t", "x"),
        400,
        "already exists",
    )


async def test_other_colonies_data_is_out_of_reach(colony: ColonyEnv) -> None:
    other = await colony.server.new_colony()
    await refused(other.executor.get_colony(colony.colonyid), 403, "not an executor")
    await refused(other.executor.get_executors(colony.colonyid), 403, "not an executor")
    await refused(other.executor.get_executor(colony.executor.id), 403, "not an executor")
    await refused(other.owner.colony_stats(colony.colonyid), 403, "not an executor")
    await refused(other.executor.get_functions(colony=colony.colonyid), 403, "not an exec")


async def test_unknown_key_is_refused_on_member_operations(colony: ColonyEnv) -> None:
    stranger = colony.server.client(generate_private_key())
    await refused(stranger.get_colony(colony.colonyid), 403, "not an executor")
    await refused(stranger.submit(colony.spec()), 403, "not an executor")
    await refused(stranger.assign(colony.colonyid, 1), 403, "not an executor")


async def test_functions(colony: ColonyEnv) -> None:
    fn = await colony.executor.add_function(colony.colonyid, "square", desc="squares", args=["x"])
    assert fn["funcname"] == "square" and fn["desc"] == "squares" and fn["counter"] == 0
    await refused(colony.executor.add_function(colony.colonyid, "square"), 403, "already")
    by_colony = await colony.executor.get_functions(colony=colony.colonyid)
    by_executor = await colony.executor.get_functions(executor=colony.executor.id)
    assert by_colony == by_executor == [fn]
    forged = {"executorid": "e" * 64, "colonyid": colony.colonyid, "funcname": "x"}
    await refused(colony.executor.rpc("addfunctionmsg", fun=forged), 403, "for itself")
    await refused(colony.owner.add_function(colony.colonyid, "y"), 403, "not an executor")
    await colony.executor.delete_function(fn["functionid"])
    assert await colony.executor.get_functions(colony=colony.colonyid) == []
    await refused(colony.executor.delete_function(fn["functionid"]), 404, "does not exist")


async def test_statistics(colony: ColonyEnv) -> None:
    await colony.executor.submit(colony.spec())
    stats = await colony.owner.colony_stats(colony.colonyid)
    assert stats["executors"] == 1 and stats["waitingprocesses"] == 1
    assert stats == await colony.executor.colony_stats(colony.colonyid)
    total = await colony.server.owner.server_stats()
    assert total["colonies"] == 1 and total["waitingprocesses"] == 1
    assert set(total) == {
        "colonies",
        "executors",
        "waitingprocesses",
        "runningprocesses",
        "successfulprocesses",
        "failedprocesses",
        "waitingworkflows",
        "runningworkflows",
        "successfulworkflows",
        "failedworkflows",
    }


async def test_version_is_unsigned(server: ServerEnv) -> None:
    version = await server.client(None).version()
    assert set(version) == {"buildversion", "buildtime"}


async def test_deleting_a_colony_removes_its_executors_and_processes(colony: ColonyEnv) -> None:
    await colony.executor.submit(colony.spec())
    await colony.server.owner.delete_colony(colony.colonyid)
    stats = await colony.server.owner.server_stats()
    assert stats["executors"] == 0 and stats["waitingprocesses"] == 0


async def test_a_rejected_executor_gives_back_what_it_runs(colony: ColonyEnv) -> None:
    """Upstream refuses a close, log or output from an executor that is no longer an
    approved member; here its running process goes back to the queue when it is rejected."""
    kept = await colony.new_executor()
    submitted = await colony.executor.submit(colony.spec())
    assert (await colony.executor.assign(colony.colonyid, 5))["processid"] == submitted["processid"]
    await colony.owner.reject_executor(colony.executor.id)
    await refused(colony.executor.close(submitted["processid"], ["late"]), 400, "not running")
    await refused(
        colony.executor.rpc("addlogmsg", processid=submitted["processid"], message="late"),
        400,
        "not running",
    )
    again = await kept.assign(colony.colonyid, 5)
    assert again["processid"] == submitted["processid"]
    await kept.close(again["processid"], ["done"])


async def test_a_removed_executor_does_not_strand_its_workflow(colony: ColonyEnv) -> None:
    """Removal (by name, the newest generation) requeues the run and the graph follows."""
    gone = await colony.new_executor(name="gone")
    kept = await colony.new_executor()
    graph = await colony.executor.submit_workflow(colony.colonyid, [colony.spec(nodename="a")])
    running = await gone.assign(colony.colonyid, 5)
    assert (await kept.get_processgraph(graph["processgraphid"]))["state"] == 1
    await colony.owner.delete_executor("gone", f"colony-{colony.colonyid[:8]}")
    assert (await kept.get_processgraph(graph["processgraphid"]))["state"] == 0
    again = await kept.assign(colony.colonyid, 5)
    assert again["processid"] == running["processid"]
