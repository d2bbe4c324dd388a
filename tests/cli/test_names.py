"""The CLI with names only, as pycolonies 1.0.25's environment has them (no colony id)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import invoke, invoke_json


def by_name(cli_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in cli_env.items() if k != "COLONIES_COLONY_ID"}
    return {**env, "COLONIES_COLONY_NAME": "cli-test"}


def test_colonies_and_executors_by_name(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = by_name(cli_env)
    key = invoke_json(env, "keys", "generate")
    invoke(env, "executor", "add", "--prvkey-of-executor", key["prvkey"], "--name", "w3")
    invoke(env, "executor", "approve", "w3")
    shown = invoke_json(env, "executor", "get", "w3")
    assert shown["executorid"] == key["id"] and shown["state"] == 1
    assert shown["colonyname"] == "cli-test"
    assert "cli-test" in invoke(env, "executor", "get", "w3").stdout

    spec = tmp_path / "echo.json"
    spec.write_text(json.dumps({"funcname": "echo", "conditions": {"executortype": "cli"}}))
    submitted = invoke_json(env, "process", "submit", "--spec", str(spec))
    assert submitted["spec"]["conditions"]["colonyname"] == "cli-test"
    assert submitted["spec"]["conditions"]["colonyid"] == cli_env["COLONIES_COLONY_ID"]
    assigned = invoke_json(env, "process", "assign", "--timeout", "2")
    assert assigned["processid"] == submitted["processid"]
    invoke(env, "process", "close", assigned["processid"], "--out", "ok")
    assert invoke_json(env, "colony", "stats")["successfulprocesses"] == 1
    assert [f["funcname"] for f in invoke_json(env, "function", "ls")] == []

    invoke(env, "executor", "reject", "w3")
    assert invoke_json(env, "executor", "get", key["id"])["state"] == 2
    invoke(env, "executor", "remove", "w3")
    assert "w3" not in {e["executorname"] for e in invoke_json(env, "executor", "ls")}

    other = invoke_json(env, "keys", "generate")["id"]
    invoke(env, "colony", "add", "--name", "second", "--colonyid", other)
    invoke(env, "colony", "remove", "second")
    assert "second" not in invoke(env, "colony", "ls").stdout
