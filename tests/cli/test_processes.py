"""process submit/ps*/get/assign/close/fail/remove, each listing as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import invoke, invoke_json, refused


def write_spec(tmp_path: Path, funcname: str, args: list[object]) -> str:
    path = tmp_path / f"{funcname}.json"
    # As a user writes it: no colony id (the CLI fills in COLONIES_COLONY_ID).
    spec = {"funcname": funcname, "args": args, "conditions": {"executortype": "cli"}}
    path.write_text(json.dumps(spec))
    return str(path)


def test_process_lifecycle(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert invoke(cli_env, "process", "psw").stdout.strip() == "no waiting processes"
    first = invoke_json(cli_env, "process", "submit", "--spec", write_spec(tmp_path, "echo", [1]))
    assert first["state"] == 0 and first["spec"]["conditions"]["colonyid"]
    second = invoke(
        cli_env, "process", "submit", "--spec", write_spec(tmp_path, "boom", ["x"]), "-q"
    ).stdout.strip()

    waiting = invoke_json(cli_env, "process", "psw")
    assert {p["processid"] for p in waiting} == {first["processid"], second}
    table = invoke(cli_env, "process", "psw").stdout
    assert "SUBMITTED" in table and "s ago" in table and second in table

    assigned = invoke_json(cli_env, "process", "assign", "--timeout", "2")
    assert assigned["processid"] == first["processid"] and assigned["state"] == 1
    assert [p["processid"] for p in invoke_json(cli_env, "process", "ps")] == [first["processid"]]
    assert "echo" in invoke(cli_env, "process", "ps").stdout
    invoke(cli_env, "process", "close", first["processid"], "--out", "42", "--out", "done")

    shown = invoke_json(cli_env, "process", "get", first["processid"])
    assert shown["state"] == 2 and shown["out"] == [42, "done"]
    readable = invoke(cli_env, "process", "get", first["processid"]).stdout
    assert "successful" in readable and "ago" in readable
    assert [p["processid"] for p in invoke_json(cli_env, "process", "pss")] == [first["processid"]]
    assert "ENDED" in invoke(cli_env, "process", "pss").stdout

    assert invoke(cli_env, "process", "assign", "-q").stdout.strip() == second
    invoke(cli_env, "process", "fail", second, "--error", "it broke")
    failed = invoke_json(cli_env, "process", "psf")
    assert failed[0]["errors"] == ["it broke"]
    assert "it broke" in invoke(cli_env, "process", "psf").stdout

    invoke(cli_env, "process", "remove", second)
    assert invoke_json(cli_env, "process", "psf") == []
    invoke(cli_env, "process", "remove", "--all")
    assert invoke_json(cli_env, "process", "pss") == []
    assert "PROCESSID or --all" in invoke(cli_env, "process", "remove", code=2).stderr


def test_assign_with_nothing_to_do_says_so(cli_env: dict[str, str]) -> None:
    line = refused(cli_env, "process", "assign", "--timeout", "1")
    assert len(line) > len("error: ")


def test_only_the_assignee_may_close(cli_env: dict[str, str], tmp_path: Path) -> None:
    invoke(cli_env, "process", "submit", "--spec", write_spec(tmp_path, "echo", []))
    processid = invoke(cli_env, "process", "assign", "-q").stdout.strip()
    other = invoke_json(cli_env, "keys", "generate")
    invoke(cli_env, "executor", "add", "--prvkey-of-executor", other["prvkey"], "--name", "x")
    invoke(cli_env, "executor", "approve", other["id"])
    line = refused(cli_env, "process", "close", processid, "--prvkey", other["prvkey"])
    assert "assigned" in line or "not" in line
    assert invoke_json(cli_env, "process", "get", processid)["state"] == 1


def test_bad_spec_file_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert "not valid JSON" in refused(cli_env, "process", "submit", "--spec", str(broken))
    missing = str(tmp_path / "missing.json")
    assert "cannot read" in refused(cli_env, "process", "submit", "--spec", missing)
