"""keys, colony, executor, function, server stats and cluster info against a real replica."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from colonies_ha.cli.main import cli
from colonies_ha.protocol.crypto import id_of_private_key
from tests.cli.runner import invoke, invoke_json, refused


def test_keys_generate_and_id() -> None:
    made = json.loads(CliRunner().invoke(cli, ["keys", "generate", "--json"]).stdout)
    assert id_of_private_key(made["prvkey"]) == made["id"]
    shown = CliRunner().invoke(cli, ["keys", "id", made["prvkey"]])
    assert shown.exit_code == 0 and shown.stdout.strip() == made["id"]
    table = CliRunner().invoke(cli, ["keys", "generate"]).stdout
    assert "prvkey" in table and "id" in table
    bad = CliRunner().invoke(cli, ["keys", "id", "nothex"])
    assert bad.exit_code == 1 and "64 hexadecimal" in bad.stderr


def test_colony_add_ls_stats_remove(cli_env: dict[str, str]) -> None:
    colonyid = cli_env["COLONIES_COLONY_ID"]
    assert colonyid in invoke(cli_env, "colony", "ls").stdout
    assert [c["colonyid"] for c in invoke_json(cli_env, "colony", "ls")] == [colonyid]

    other = invoke_json(cli_env, "keys", "generate")["id"]
    added = invoke(cli_env, "colony", "add", "--name", "second", "--colonyid", other).stdout
    assert other in added
    table = invoke(cli_env, "colony", "ls").stdout
    assert "second" in table and other in table and "COLONY ID" in table.splitlines()[0]

    stats = invoke_json(cli_env, "colony", "stats")
    assert stats["executors"] == 1 and stats["waitingprocesses"] == 0
    assert "waitingprocesses" in invoke(cli_env, "colony", "stats").stdout
    assert invoke_json(cli_env, "server", "stats")["colonies"] == 2
    assert "colonies" in invoke(cli_env, "server", "stats").stdout

    invoke(cli_env, "colony", "remove", other)
    assert other not in invoke(cli_env, "colony", "ls").stdout


def test_executor_lifecycle(cli_env: dict[str, str]) -> None:
    key = invoke_json(cli_env, "keys", "generate")
    invoke(cli_env, "executor", "add", "--prvkey-of-executor", key["prvkey"], "--name", "w2")
    listed = {e["executorname"]: e for e in invoke_json(cli_env, "executor", "ls")}
    assert listed["w2"]["state"] == 0 and listed["w2"]["executortype"] == "cli"
    table = invoke(cli_env, "executor", "ls").stdout
    assert "pending" in table and "approved" in table and key["id"] in table

    invoke(cli_env, "executor", "approve", key["id"])
    assert invoke_json(cli_env, "executor", "get", key["id"])["state"] == 1
    assert "approved" in invoke(cli_env, "executor", "get", key["id"]).stdout
    invoke(cli_env, "executor", "reject", key["id"])
    assert invoke_json(cli_env, "executor", "get", key["id"])["state"] == 2
    invoke(cli_env, "executor", "remove", key["id"])
    assert key["id"] not in invoke(cli_env, "executor", "ls").stdout

    third = invoke_json(cli_env, "keys", "generate")["id"]
    added = invoke_json(
        cli_env, "executor", "add", "--executorid", third, "--name", "w3", "--approve"
    )
    assert added["state"] == 1


def test_functions(cli_env: dict[str, str]) -> None:
    assert invoke(cli_env, "function", "ls").stdout.strip() == "no functions"
    assert invoke_json(cli_env, "function", "ls") == []
    added = invoke_json(cli_env, "function", "add", "--name", "echo", "--desc", "says it back")
    listed = invoke_json(cli_env, "function", "ls")
    assert [f["funcname"] for f in listed] == ["echo"]
    by_executor = invoke_json(
        cli_env, "function", "ls", "--executorid", cli_env["COLONIES_EXECUTOR_ID"]
    )
    assert by_executor == listed
    assert "echo" in invoke(cli_env, "function", "ls").stdout
    invoke(cli_env, "function", "remove", added["functionid"])
    assert invoke_json(cli_env, "function", "ls") == []


def test_cluster_info(cli_env: dict[str, str]) -> None:
    found = invoke_json(cli_env, "cluster", "info")
    assert found["nodes"] and found["leader"] and found["epoch"] >= 1
    table = invoke(cli_env, "cluster", "info").stdout
    assert "leader" in table and "epoch" in table


def test_wrong_key_is_one_line_and_exit_1(cli_env: dict[str, str]) -> None:
    line = refused(cli_env, "colony", "ls", "--prvkey", cli_env["COLONIES_EXECUTOR_PRVKEY"])
    assert "server owner" in line
    stranger = invoke_json(cli_env, "keys", "generate")["prvkey"]
    assert refused(cli_env, "executor", "ls", "--prvkey", stranger)
    # The colony owner cannot approve in someone else's place: the executor key is refused.
    env = {**cli_env, "COLONIES_COLONY_PRVKEY": cli_env["COLONIES_EXECUTOR_PRVKEY"]}
    assert refused(env, "executor", "approve", cli_env["COLONIES_EXECUTOR_ID"])


def test_missing_key_and_unreachable_server(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "COLONIES_SERVER_PRVKEY": ""}
    assert "COLONIES_SERVER_PRVKEY" in refused(env, "colony", "ls")
    env = {**cli_env, "COLONIES_SERVER_PORT": "1"}
    assert "cannot reach" in refused(env, "colony", "ls")


def run_module(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "colonies_ha", *args]
    env = {**os.environ, **env}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_real_subprocess_prints_json_and_fails_cleanly(cli_env: dict[str, str]) -> None:
    listed = run_module(cli_env, "colony", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["colonyid"] == cli_env["COLONIES_COLONY_ID"]
    wrong = {**cli_env, "COLONIES_SERVER_PRVKEY": cli_env["COLONIES_COLONY_PRVKEY"]}
    refused_run = run_module(wrong, "colony", "ls", "--json")
    assert refused_run.returncode == 1 and refused_run.stdout == ""
    assert refused_run.stderr.startswith("error: ") and "Traceback" not in refused_run.stderr


def test_server_still_runs_a_replica_and_has_stats() -> None:
    runner = CliRunner()
    assert "--server-id" in runner.invoke(cli, ["server", "--help"]).stdout
    assert "--json" in runner.invoke(cli, ["server", "stats", "--help"]).stdout
    missing = runner.invoke(cli, ["server"], env={"COLONIES_SERVER_ID": ""})
    assert missing.exit_code == 2 and "--server-id" in missing.stderr
