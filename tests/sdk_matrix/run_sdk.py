"""One pycolonies release, unmodified from PyPI, in a process of its own.

    python -m tests.sdk_matrix.run_sdk '<json job>'

Releases 1.0.12+ ship top-level modules named `crypto`, `model` and `cfs`, so two releases
cannot share an interpreter; each job runs here and prints one JSON line with its result.
The job names the release, the replica (host, port) and what to do:

- `lifecycle`: the generation's script (2023: tests/integration/test_pycolonies_interop.py;
  newest: `current_lifecycle` below): colony, executors, functions, submit, assign,
  attributes, logs, close/fail, wait() over /pubsub, statistics and a two-step workflow.
- `submit` / `assign_close` / `get`: one step of a mixed-generation hand-over.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import types
from pathlib import Path
from typing import Any

from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key

SDK_ROOT = Path(sys.prefix) / "pycolonies-sdks"
LEGACY = tuple(f"1.0.{patch}" for patch in range(2, 11))
# 1.0.12-1.0.16 sign through a native libcryptolib.so their wheel does not ship.
NATIVE_CRYPTO = ("1.0.12", "1.0.13", "1.0.14", "1.0.15", "1.0.16")
# 1.0.14's wait() opens wss:// exactly when TLS is off (1.0.12/13 invert the flag twice,
# 1.0.15 fixed it); a user of 1.0.14 against plain HTTP must flip `tls` before wait().
WAIT_TLS_INVERTED = ("1.0.14",)


def load(release: str) -> types.ModuleType:
    """Import the release: 2023 ones through tests.pycolonies_sdk, newer ones from their
    own folder (with the crypto shim where the wheel needs a native library)."""
    # Imported here, not at the top: importing tests.pycolonies_sdk installs the `crypto`
    # shim, which 1.0.17+ must not see (they sign with their own pure-Python crypto.py).
    if release in LEGACY or release in NATIVE_CRYPTO:
        from tests.pycolonies_sdk import load_sdk  # noqa: PLC0415

        if release in LEGACY:
            return load_sdk(release)
    sys.path.insert(0, str(SDK_ROOT / release))  # its model.py, cfs.py (and crypto.py)
    spec = importlib.util.spec_from_file_location(
        "pycolonies_release", SDK_ROOT / release / "pycolonies.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def get(obj: Any, key: str) -> Any:
    """1.0.17+ return pydantic models, earlier releases dicts."""
    if isinstance(obj, dict):
        return obj[key]
    return getattr(obj, {"in": "input", "out": "output"}.get(key, key))


def refused(call: Any, *args: Any) -> str:
    """The SDK raised (1.0.17+ raise ColoniesConnectionError for error replies)."""
    try:
        call(*args)
    except Exception as exc:
        return str(exc)
    raise AssertionError(f"{call.__name__} was not refused")


def call_by_name(method: Any, **kwargs: Any) -> Any:
    """Releases reorder parameters (add_function, get_process_log); pass the ones it has."""
    names = inspect.signature(method).parameters
    return method(**{k: v for k, v in kwargs.items() if k in names})


def submit(sdk: types.ModuleType, client: Any, spec: Any, prvkey: str) -> Any:
    if hasattr(client, "submit_func_spec"):
        return client.submit_func_spec(spec, prvkey)
    return client.submit(spec, prvkey)


def make_spec(sdk: types.ModuleType, colonyname: str, executortype: str, args: list) -> Any:
    return sdk.func_spec(
        "echo", args, colonyname, executortype,
        priority=0, maxexectime=10, maxretries=3, maxwaittime=100,
    )  # fmt: skip


def submit_workflow(sdk: types.ModuleType, client: Any, colonyname: str, prvkey: str) -> Any:
    """parent -> child, through the release's own Workflow type."""
    specs = []
    for nodename, dependencies in (("parent", []), ("child", ["parent"])):
        spec = make_spec(sdk, colonyname, "sdk-worker", [])
        if isinstance(spec, dict):
            specs.append((spec, nodename, dependencies))
        else:
            spec.nodename = nodename
            spec.conditions.dependencies = dependencies
            specs.append((spec, nodename, dependencies))
    if hasattr(client, "submit_workflow"):
        workflow = sdk.Workflow(colonyname=colonyname, functionspecs=[s for s, _, _ in specs])
        return client.submit_workflow(workflow, prvkey)
    workflow = sdk.Workflow(colonyname)
    for spec, nodename, dependencies in specs:
        workflow.add(spec, nodename, dependencies)
    return client.submit(workflow, prvkey)


def current_lifecycle(sdk: types.ModuleType, release: str, job: dict[str, Any]) -> dict:
    """The newest generation's script: colonies and executors by name."""
    client = sdk.Colonies(job["host"], job["port"])
    server_prvkey = job["server_prvkey"]
    colony_prvkey = generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    colonyname = f"sdk-{release}-{colonyid[:6]}"
    added = client.add_colony({"colonyid": colonyid, "name": colonyname}, server_prvkey)
    assert added["name"] == colonyname
    assert colonyname in [c["name"] for c in client.list_colonies(server_prvkey)]

    key, other_key = generate_private_key(), generate_private_key()
    for prvkey, name in ((key, "sdk-exec"), (other_key, "sdk-other")):
        executor = {
            "executorid": id_of_private_key(prvkey),
            "executortype": "sdk-worker",
            "executorname": name,
            "colonyname": colonyname,
        }
        assert client.add_executor(executor, colony_prvkey)["state"] == 0
        client.approve_executor(colonyname, name, colony_prvkey)
    assert len(client.list_executors(colonyname, key)) == 2
    assert client.get_colony(colonyname, key)["colonyid"] == colonyid

    function = call_by_name(
        client.add_function,
        colonyname=colonyname, executorname="sdk-exec", funcname="echo", prvkey=key,
    )  # fmt: skip
    assert function["funcname"] == "echo"
    functions = client.get_functions_by_colony(colonyname, key)
    assert [f["functionid"] for f in functions] == [function["functionid"]]

    submitted = submit(sdk, client, make_spec(sdk, colonyname, "sdk-worker", ["hello"]), key)
    assert get(submitted, "state") == sdk.Colonies.WAITING
    assert get(submitted, "initiatorname") == "sdk-exec" if not isinstance(submitted, dict) else 1
    listed = client.list_processes(colonyname, 10, sdk.Colonies.WAITING, key)
    assert [p["processid"] for p in listed] == [get(submitted, "processid")]

    assigned = client.assign(colonyname, 5, key)
    processid = get(assigned, "processid")
    assert processid == get(submitted, "processid")
    attribute = client.add_attribute(processid, "result", "ok", key)
    assert client.get_attribute(attribute["attributeid"], key)["value"] == "ok"
    client.add_log(processid, "working", key)
    logs = call_by_name(
        client.get_process_log,
        colonyname=colonyname, processid=processid, count=10, since=0, prvkey=key,
    )  # fmt: skip
    assert [entry["message"] for entry in logs] == ["working"]
    refused(client.fail, processid, ["not mine"], other_key)  # another executor may not

    client.close(processid, ["done"], key)
    closed = client.get_process(processid, key)
    if release in WAIT_TLS_INVERTED:
        client.tls = True  # see WAIT_TLS_INVERTED
    waited = client.wait(closed, 5, key)  # /pubsub: already successful, so at once
    client.tls = False
    assert client.stats(colonyname, key)["successfulprocesses"] == 1
    refused(client.assign, colonyname, 1, key)  # nothing left

    graph = submit_workflow(sdk, client, colonyname, key)
    parent = client.assign(colonyname, 5, key)
    assert get(get(parent, "spec"), "nodename") == "parent"
    client.close(get(parent, "processid"), ["from-parent"], key)
    child = client.assign(colonyname, 5, key)
    assert get(get(child, "spec"), "nodename") == "child"
    client.close(get(child, "processid"), ["from-child"], key)
    finished = client.get_processgraph(get(graph, "processgraphid"), key)
    return {
        "closed_state": get(closed, "state"),
        "closed_out": get(closed, "out"),
        "waited": get(waited, "processid") == processid,
        "child_input": get(child, "in"),
        "graph_state": get(finished, "state"),
    }


def extras_workflows_and_schedules(
    sdk: types.ModuleType, client: Any, name: str, key: str, colony_prvkey: str, *, checks: dict
) -> None:
    """Workflow listings and removal, crons and generators, by colony name."""
    graph = client.submit_workflow(
        sdk.Workflow(colonyname=name, functionspecs=[make_spec(sdk, name, "w", [])]), key
    )
    listed = client.get_processgraphs(name, 10, key)
    checks["graphs"] = [g["processgraphid"] for g in listed] == [graph.processgraphid]
    members = client.get_processes_for_workflow(graph.processgraphid, name, key)
    checks["graph_members"] = len(members)
    client.remove_processgraph(graph.processgraphid, key)
    checks["graphs_after_remove"] = len(client.get_processgraphs(name, 10, key))
    client.submit_workflow(
        sdk.Workflow(colonyname=name, functionspecs=[make_spec(sdk, name, "w", [])]), key
    )
    client.remove_all_processgraphs(name, colony_prvkey)
    checks["graphs_after_remove_all"] = len(client.get_processgraphs(name, 10, key))

    workflow = sdk.Workflow(colonyname=name, functionspecs=[make_spec(sdk, name, "w", [])])
    cron = client.add_cron("nightly", "0 0 3 * * *", True, workflow, name, key)
    assert client.get_cron(cron["cronid"], key)["name"] == "nightly"
    client.run_cron(cron["cronid"], key)
    checks["crons"] = [c["name"] for c in client.get_crons(name, 10, key)]
    client.del_cron(cron["cronid"], key)
    generator = client.add_generator(
        {"colonyname": name, "name": "gen", "trigger": 2,
         "workflowspec": json.dumps(workflow.model_dump(by_alias=True))},
        key,
    )  # fmt: skip
    checks["generators"] = [g["name"] for g in client.get_generators(name, key)]
    assert client.get_generator(generator["generatorid"], key)["trigger"] == 2
    client.remove_generator(generator["generatorid"], key)


def current_extras(sdk: types.ModuleType, job: dict[str, Any]) -> dict:
    """What only the newest releases call: executors by name, users, logs by executor,
    output, workflow listings and removal, crons, generators, colony removal; and the
    newest role rules (a user submits but does not run; the colony key is no member)."""
    client = sdk.Colonies(job["host"], job["port"])
    server_prvkey = job["server_prvkey"]
    colony_prvkey, key = generate_private_key(), generate_private_key()
    colonyid = id_of_private_key(colony_prvkey)
    name = f"extras-{colonyid[:8]}"
    client.add_colony({"colonyid": colonyid, "name": name}, server_prvkey)
    executor = {"executorid": id_of_private_key(key), "executortype": "w",
                "executorname": "exe", "colonyname": name}  # fmt: skip
    client.add_executor(executor, colony_prvkey)
    client.approve_executor(name, "exe", colony_prvkey)
    assert client.get_executor(name, "exe", key)["executorid"] == id_of_private_key(key)
    checks: dict[str, Any] = {}

    user_key = generate_private_key()
    user = {"colonyname": name, "userid": id_of_private_key(user_key), "name": "alice",
            "email": "a@example.org", "phone": ""}  # fmt: skip
    assert client.add_user(user, colony_prvkey)["name"] == "alice"
    assert [u["name"] for u in client.get_users(name, key)] == ["alice"]
    by_user = client.submit_func_spec(make_spec(sdk, name, "w", []), user_key)
    checks["initiator"] = (by_user.initiatorid, by_user.initiatorname)
    checks["user_assign"] = refused(client.assign, name, 1, user_key)
    checks["owner_submit"] = refused(
        client.submit_func_spec, make_spec(sdk, name, "w", []), colony_prvkey
    )
    process = client.assign(name, 5, key)
    client.set_output(process.processid, ["partial"], key)
    client.add_log(process.processid, "line 1", key)
    logs = client.get_executor_log(name, "exe", 10, 0, key)
    checks["executor_log"] = [entry["message"] for entry in logs]
    client.close(process.processid, client.get_process(process.processid, key).output, key)
    checks["output"] = client.get_process(process.processid, key).output
    client.remove_user(name, "alice", colony_prvkey)
    checks["removed_user"] = refused(client.get_processes_for_workflow, "", name, user_key)

    extras_workflows_and_schedules(sdk, client, name, key, colony_prvkey, checks=checks)

    waiting = client.list_processes(name, 100, sdk.Colonies.WAITING, key)
    checks["waiting_before_remove_all"] = len(waiting)
    client.remove_process(waiting[0]["processid"], key)
    client.remove_all_processes(name, colony_prvkey)
    checks["processes_after_remove_all"] = len(client.list_processes(name, 100, -1, key))
    client.reject_executor(name, "exe", colony_prvkey)
    checks["rejected_assign"] = refused(client.assign, name, 1, key)
    client.remove_executor(name, "exe", colony_prvkey)
    client.del_colony(name, server_prvkey)
    checks["colony_gone"] = name not in [c["name"] for c in client.list_colonies(server_prvkey)]
    return checks


def legacy_lifecycle(sdk: types.ModuleType, job: dict[str, Any]) -> dict:
    # The 2023 script lives with the in-process 1.0.2-1.0.10 test; only 2023 jobs load it.
    from tests.integration.test_pycolonies_interop import sdk_session  # noqa: PLC0415

    result = sdk_session(sdk, job["host"], job["port"], job["server_prvkey"])
    return {
        "closed_state": result["closed"]["state"],
        "closed_out": result["closed"]["out"],
        "waited": result["waited"]["processid"] == result["closed"]["processid"],
        "child_input": result["child_input"],
        "graph_state": result["graph_state"],
    }


def step(sdk: types.ModuleType, release: str, job: dict[str, Any]) -> dict:
    """One hand-over step; the colony is named the way this release names it."""
    client = sdk.Colonies(job["host"], job["port"])
    colony = job["colonyid"] if release in LEGACY else job["colonyname"]
    key = job["prvkey"]
    if job["action"] == "submit":
        if release in LEGACY:
            helper = getattr(sdk, "func_spec", None) or sdk.create_func_spec
            spec = helper("echo", ["x"], colony, "worker", 0, 10, 3, 100)
            return {"processid": client.submit(spec, key)["processid"]}
        process = submit(sdk, client, make_spec(sdk, colony, "worker", ["x"]), key)
        return {"processid": get(process, "processid")}
    if job["action"] == "assign_close":
        process = client.assign(colony, 10, key)
        client.close(get(process, "processid"), [f"closed-by-{release}"], key)
        return {"processid": get(process, "processid")}
    process = client.get_process(job["processid"], key)
    return {"state": get(process, "state"), "out": get(process, "out")}


def main() -> None:
    job = json.loads(sys.argv[1])
    release = job["release"]
    sdk = load(release)
    if job["action"] == "extras":
        result = current_extras(sdk, job)
    elif job["action"] == "lifecycle":
        if release in LEGACY:
            result = legacy_lifecycle(sdk, job)
        else:
            result = current_lifecycle(sdk, release, job)
    else:
        result = step(sdk, release, job)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
