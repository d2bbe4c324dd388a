"""The 2023 generation's SDK script (pycolonies 1.0.2 … 1.0.10, unmodified).

tests/sdk_matrix runs it for every 2023 release against a follower of a 3-replica cluster
(one interpreter per release); the releases differ in helper names (`create_func_spec` →
`func_spec`), in `add_function`'s arguments and in the null `kwargs`/`fs` fields their specs
carry, and all must work.
"""

from __future__ import annotations

import inspect
import types
from importlib.metadata import version
from typing import Any

import pytest

from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key


def test_the_pinned_sdk_is_installed() -> None:
    assert version("pycolonies") == "1.0.2"


def make_spec(sdk: types.ModuleType, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """1.0.2 calls the helper `create_func_spec`; later releases `func_spec`."""
    helper = getattr(sdk, "func_spec", None) or sdk.create_func_spec
    return helper(*args, **kwargs)


def add_function(client: Any, executorid: str, colonyid: str, prvkey: str) -> dict[str, Any]:
    """Up to 1.0.5 `add_function` also sends `args` and `desc`."""
    if "desc" in inspect.signature(client.add_function).parameters:
        return client.add_function(executorid, colonyid, "echo", ["x"], "echoes", prvkey)
    return client.add_function(executorid, colonyid, "echo", prvkey)


def sdk_session(sdk: types.ModuleType, host: str, port: int, server_prvkey: str) -> dict:
    """A plain synchronous script, as an SDK user would write it."""
    client = sdk.Colonies(host, port)
    colony_prvkey = generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    added = client.add_colony({"colonyid": colonyid, "name": f"sdk-{colonyid[:8]}"}, server_prvkey)
    assert added["colonyid"] == colonyid
    assert colonyid in [c["colonyid"] for c in client.list_colonies(server_prvkey)]

    executor_prvkey, other_prvkey = generate_private_key(), generate_private_key()
    for key, name in ((executor_prvkey, "sdk-exec"), (other_prvkey, "sdk-other")):
        executor = {
            "executorid": id_of_private_key(key),
            "executortype": "sdk-worker",
            "executorname": name,
            "colonyid": colonyid,
        }
        assert client.add_executor(executor, colony_prvkey)["state"] == 0
        client.approve_executor(id_of_private_key(key), colony_prvkey)
    assert len(client.list_executors(colonyid, colony_prvkey)) == 2

    function = add_function(client, id_of_private_key(executor_prvkey), colonyid, executor_prvkey)
    assert function["funcname"] == "echo"
    functions = client.get_functions_by_colony(colonyid, executor_prvkey)
    assert [f["functionid"] for f in functions] == [function["functionid"]]

    spec = make_spec(
        sdk,
        "echo",
        ["hello"],
        colonyid,
        "sdk-worker",
        priority=0,
        maxexectime=10,
        maxretries=3,
        maxwaittime=100,
    )
    submitted = client.submit(spec, executor_prvkey)
    assert submitted["state"] == sdk.Colonies.WAITING
    listed = client.list_processes(colonyid, 10, sdk.Colonies.WAITING, executor_prvkey)
    assert [p["processid"] for p in listed] == [submitted["processid"]]

    assigned = client.assign(colonyid, 5, executor_prvkey)
    assert assigned["processid"] == submitted["processid"]
    attribute = client.add_attribute(assigned["processid"], "result", "ok", executor_prvkey)
    assert client.get_attribute(attribute["attributeid"], executor_prvkey)["value"] == "ok"

    with pytest.raises(sdk.ColoniesError):  # another executor may not close it
        client.fail(assigned["processid"], ["not mine"], other_prvkey)

    client.close(assigned["processid"], ["done"], executor_prvkey)
    closed = client.get_process(assigned["processid"], executor_prvkey)
    waited = client.wait(closed, 5, executor_prvkey)  # /pubsub: already successful → at once
    assert client.stats(colonyid, colony_prvkey)["successfulprocesses"] == 1

    with pytest.raises(sdk.ColoniesError):  # nothing left: 404 after the wait
        client.assign(colonyid, 1, executor_prvkey)

    child_input, graph_state = run_two_step_workflow(sdk, client, colonyid, executor_prvkey)
    return {
        "closed": closed,
        "waited": waited,
        "child_input": child_input,
        "graph_state": graph_state,
    }


def run_two_step_workflow(
    sdk: types.ModuleType, client: Any, colonyid: str, prvkey: str
) -> tuple[list[Any], int]:
    """parent → child through the SDK's `Workflow`; the child's `in` is the parent's `out`."""
    workflow = sdk.Workflow(colonyid)
    for nodename, dependencies in (("parent", []), ("child", ["parent"])):
        spec = make_spec(sdk, "echo", [], colonyid, "sdk-worker", 0, 10, 3, 100)
        workflow.add(spec, nodename, dependencies)
    graph = client.submit(workflow, prvkey)
    parent = client.assign(colonyid, 5, prvkey)
    assert parent["spec"]["nodename"] == "parent"
    client.close(parent["processid"], ["from-parent"], prvkey)
    child = client.assign(colonyid, 5, prvkey)
    assert child["spec"]["nodename"] == "child"
    client.close(child["processid"], ["from-child"], prvkey)
    finished = client.get_processgraph(graph["processgraphid"], prvkey)
    return child["in"], finished["state"]
