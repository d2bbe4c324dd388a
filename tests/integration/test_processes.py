"""The process lifecycle over real HTTP: submit, assign, close, attributes, listings."""

from __future__ import annotations

from colonies_ha.protocol.crypto import generate_private_key
from tests.helpers import ColonyEnv
from tests.integration.test_colonies_executors import refused


async def test_submit_assign_close_lifecycle(colony: ColonyEnv) -> None:
    submitted = await colony.executor.submit(colony.spec("echo", args=["hi"], env={"k": "v"}))
    assert submitted["state"] == 0 and not submitted["isassigned"]
    assert submitted["spec"]["args"] == ["hi"] and submitted["starttime"].startswith("0001")
    assert [(a["key"], a["value"], a["attributetype"]) for a in submitted["attributes"]] == [
        ("k", "v", 3)
    ]
    assigned = await colony.executor.assign(colony.colonyid, 1)
    assert assigned["processid"] == submitted["processid"]
    assert assigned["state"] == 1 and assigned["isassigned"]
    assert assigned["assignedexecutorid"] == colony.executor.id
    assert assigned["attributes"] == submitted["attributes"]
    await colony.executor.close(submitted["processid"], ["out", 1])
    done = await colony.executor.get_process(submitted["processid"])
    assert done["state"] == 2 and done["out"] == ["out", 1]
    assert done["endtime"] >= done["starttime"] >= done["submissiontime"]
    await refused(colony.executor.close(submitted["processid"]), 400, "successful, not running")


async def test_failed_close_keeps_errors(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec())
    await colony.executor.assign(colony.colonyid, 1)
    await colony.executor.fail(process["processid"], ["boom"])
    failed = await colony.executor.get_process(process["processid"])
    assert failed["state"] == 3 and failed["errors"] == ["boom"]


async def test_only_the_assignee_may_close_or_annotate(colony: ColonyEnv) -> None:
    other = await colony.new_executor()
    process = await colony.executor.submit(colony.spec())
    pid = process["processid"]
    await refused(other.close(pid), 400, "waiting, not running")
    await colony.executor.assign(colony.colonyid, 1)
    await refused(other.close(pid), 403, "only the executor assigned")
    await refused(other.fail(pid, ["x"]), 403, "only the executor assigned")
    await refused(other.add_attribute(pid, "k", "v"), 403, "only the executor assigned")
    await refused(colony.owner.close(pid), 403, "only the executor assigned")
    attribute = await colony.executor.add_attribute(pid, "progress", "50%")
    assert attribute["targetcolonyid"] == colony.colonyid and attribute["attributetype"] == 1
    assert await other.get_attribute(attribute["attributeid"]) == attribute
    await colony.executor.close(pid)
    await refused(colony.executor.add_attribute(pid, "k", "v"), 400, "not running")
    await refused(colony.executor.close("f" * 64), 404, "does not exist")


async def test_colony_owner_cannot_submit_or_assign(colony: ColonyEnv) -> None:
    await refused(colony.owner.submit(colony.spec()), 403, "not an executor")
    await refused(colony.owner.assign(colony.colonyid, 1), 403, "not an executor")


async def test_pending_and_rejected_executors_cannot_act(colony: ColonyEnv) -> None:
    pending = await colony.new_executor(approve=False)
    await refused(pending.submit(colony.spec()), 403, "not approved")
    await refused(pending.assign(colony.colonyid, 1), 403, "not approved")
    rejected = await colony.new_executor()
    await colony.owner.reject_executor(rejected.id)
    await refused(rejected.submit(colony.spec()), 403, "rejected")


async def test_executor_of_another_colony_cannot_touch_processes(colony: ColonyEnv) -> None:
    other = await colony.server.new_colony()
    process = await colony.executor.submit(colony.spec())
    await refused(other.executor.get_process(process["processid"]), 403, "not an executor")
    await refused(other.executor.delete_process(process["processid"]), 403, "not an executor")
    await refused(other.executor.submit(colony.spec()), 403, "not an executor")
    await refused(other.executor.assign(colony.colonyid, 1), 403, "not an executor")
    await refused(other.owner.delete_all_processes(colony.colonyid), 403, "owner of colony")


async def test_assign_order_is_priority_then_fifo(colony: ColonyEnv) -> None:
    low1 = await colony.executor.submit(colony.spec(args=["low1"]))
    low2 = await colony.executor.submit(colony.spec(args=["low2"]))
    high = await colony.executor.submit(colony.spec(args=["high"], priority=1))
    order = [(await colony.executor.assign(colony.colonyid, 1))["processid"] for _ in range(3)]
    assert order == [high["processid"], low1["processid"], low2["processid"]]


async def test_assign_matches_executor_type_and_target_ids(colony: ColonyEnv) -> None:
    gpu = await colony.new_executor("gpu")
    other_worker = await colony.new_executor()
    targeted = colony.spec()
    targeted["conditions"]["executorids"] = [other_worker.id]
    await colony.executor.submit(targeted)
    await colony.executor.submit(colony.spec(executortype="gpu"))
    await refused(colony.executor.assign(colony.colonyid, 1), 404, "within 1 s")
    assert (await gpu.assign(colony.colonyid, 1))["spec"]["conditions"]["executortype"] == "gpu"
    assert (await other_worker.assign(colony.colonyid, 1))["assignedexecutorid"] == (
        other_worker.id
    )


async def test_assign_timeout_must_be_positive(colony: ColonyEnv) -> None:
    await refused(colony.executor.assign(colony.colonyid, 0), 400, "timeout")
    await refused(colony.executor.assign(colony.colonyid, -5), 400, "timeout")


async def test_assign_marks_executor_heard_from(colony: ColonyEnv) -> None:
    before = await colony.owner.get_executor(colony.executor.id)
    assert before["lastheardfromtime"].startswith("0001")
    await refused(colony.executor.assign(colony.colonyid, 1), 404)
    after = await colony.owner.get_executor(colony.executor.id)
    assert not after["lastheardfromtime"].startswith("0001")


async def test_listings_history_and_deletion(colony: ColonyEnv) -> None:
    for i in range(3):
        await colony.executor.submit(colony.spec(args=[i]))
    running = await colony.executor.assign(colony.colonyid, 1)
    waiting = await colony.executor.get_processes(colony.colonyid, 0)
    assert [p["spec"]["args"] for p in waiting] == [[1], [2]]
    assert len(await colony.owner.get_processes(colony.colonyid, 0, count=1)) == 1
    assert [p["processid"] for p in await colony.executor.get_processes(colony.colonyid, 1)] == [
        running["processid"]
    ]
    await refused(colony.executor.get_processes(colony.colonyid, 0, count=101), 400, "at most")
    hist = await colony.executor.process_history(colony.colonyid, 0, 60)
    assert len(hist) == 2
    mine = await colony.executor.process_history(colony.colonyid, 1, 60, colony.executor.id)
    assert [p["processid"] for p in mine] == [running["processid"]]
    await colony.executor.delete_process(waiting[0]["processid"])
    await refused(colony.executor.get_process(waiting[0]["processid"]), 404, "does not exist")
    await refused(colony.executor.delete_all_processes(colony.colonyid), 403, "owner")
    await colony.owner.delete_all_processes(colony.colonyid)
    assert await colony.owner.get_processes(colony.colonyid, 0) == []


async def test_function_statistics_update_on_successful_close(colony: ColonyEnv) -> None:
    await colony.executor.add_function(colony.colonyid, "echo")
    for _ in range(2):
        await colony.executor.submit(colony.spec("echo"))
        process = await colony.executor.assign(colony.colonyid, 1)
        await colony.executor.close(process["processid"])
    (fn,) = await colony.executor.get_functions(executor=colony.executor.id)
    assert fn["counter"] == 2
    assert 0 <= fn["minwaittime"] <= fn["avgwaittime"] <= fn["maxwaittime"]
    assert 0 <= fn["minexectime"] <= fn["avgexectime"] <= fn["maxexectime"]


async def test_bad_input_is_refused_and_loses_nothing(colony: ColonyEnv) -> None:
    await colony.executor.submit(colony.spec(args=["keep"]))
    bad_spec = colony.spec()
    bad_spec["priority"] = 10**9
    await refused(colony.executor.submit(bad_spec), 400, "priority")
    await refused(colony.executor.rpc("submitfuncspecmsg", spec="nope"), 400, "JSON object")
    await refused(colony.executor.rpc("nosuchmsg"), 400, "unknown message type")
    await refused(colony.executor.get_process("xyz"), 400, "processid")
    (only,) = await colony.executor.get_processes(colony.colonyid, 0)
    assert only["spec"]["args"] == ["keep"]


async def test_stranger_signature_cannot_read_a_process(colony: ColonyEnv) -> None:
    process = await colony.executor.submit(colony.spec())
    stranger = colony.server.client(generate_private_key())
    await refused(stranger.get_process(process["processid"]), 403)


async def test_listing_by_executor_type_filters_on_the_server(colony: ColonyEnv) -> None:
    """A colonies_ha extension of getprocessesmsg (the dashboard's filter): the type is
    matched before `count`, so a rare type is not lost behind 100 of another."""
    for _ in range(3):
        await colony.executor.submit(colony.spec())
    rare = await colony.executor.submit(colony.spec(executortype="gpu"))
    listed = await colony.executor.rpc(
        "getprocessesmsg", colonyid=colony.colonyid, state=0, count=2, executortype="gpu"
    )
    assert [p["processid"] for p in listed] == [rare["processid"]]
    everything = await colony.executor.get_processes(colony.colonyid, 0)
    assert len(everything) == 4
