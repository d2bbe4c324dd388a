"""The official pycolonies 1.0.2 SDK, unmodified, against a colonies-ha replica."""

from __future__ import annotations

import asyncio
from importlib.metadata import version

import pytest

from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key
from tests.helpers import ServerEnv
from tests.pycolonies_sdk import Colonies, ColoniesError, func_spec


def test_the_real_sdk_is_installed() -> None:
    assert version("pycolonies") == "1.0.2"


async def test_sdk_full_lifecycle(server: ServerEnv) -> None:
    host, port = "127.0.0.1", server.replica.port
    result = await asyncio.to_thread(sdk_session, host, port, server.server_prvkey)
    assert result["closed"]["state"] == Colonies.SUCCESSFUL
    assert result["closed"]["out"] == ["done"]


def sdk_session(host: str, port: int, server_prvkey: str) -> dict:
    """A plain synchronous script, as an SDK user would write it."""
    sdk = Colonies(host, port)
    colony_prvkey = generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    assert sdk.add_colony({"colonyid": colonyid, "name": "sdk"}, server_prvkey)["colonyid"] == (
        colonyid
    )
    assert colonyid in [c["colonyid"] for c in sdk.list_colonies(server_prvkey)]

    executor_prvkey, other_prvkey = generate_private_key(), generate_private_key()
    for key, name in ((executor_prvkey, "sdk-exec"), (other_prvkey, "sdk-other")):
        executor = {
            "executorid": id_of_private_key(key),
            "executortype": "sdk-worker",
            "executorname": name,
            "colonyid": colonyid,
        }
        assert sdk.add_executor(executor, colony_prvkey)["state"] == 0
        sdk.approve_executor(id_of_private_key(key), colony_prvkey)
    assert len(sdk.list_executors(colonyid, colony_prvkey)) == 2

    fn = sdk.add_function(
        id_of_private_key(executor_prvkey), colonyid, "echo", ["x"], "echoes", executor_prvkey
    )
    assert fn["funcname"] == "echo"
    assert (
        sdk.get_functions_by_colony(colonyid, executor_prvkey)[0]["functionid"]
        == (fn["functionid"])
    )

    spec = func_spec(
        "echo",
        ["hello"],
        colonyid,
        "sdk-worker",
        priority=0,
        maxexectime=10,
        maxretries=3,
        maxwaittime=100,
    )
    submitted = sdk.submit(spec, executor_prvkey)
    assert submitted["state"] == Colonies.WAITING
    listed = sdk.list_processes(colonyid, 10, Colonies.WAITING, executor_prvkey)
    assert [p["processid"] for p in listed] == [submitted["processid"]]

    assigned = sdk.assign(colonyid, 5, executor_prvkey)
    assert assigned["processid"] == submitted["processid"]
    attribute = sdk.add_attribute(assigned["processid"], "result", "ok", executor_prvkey)
    assert sdk.get_attribute(attribute["attributeid"], executor_prvkey)["value"] == "ok"

    with pytest.raises(ColoniesError):  # another executor may not close it
        sdk.fail(assigned["processid"], ["not mine"], other_prvkey)

    sdk.close(assigned["processid"], ["done"], executor_prvkey)
    closed = sdk.get_process(assigned["processid"], executor_prvkey)
    stats = sdk.stats(colonyid, colony_prvkey)
    assert stats["successfulprocesses"] == 1

    with pytest.raises(ColoniesError):  # nothing left: 404 after the wait
        sdk.assign(colonyid, 1, executor_prvkey)
    return {"closed": closed}
