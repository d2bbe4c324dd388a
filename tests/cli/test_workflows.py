"""The paper's diamond workflow from a JSON file, followed to success; generators and crons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.runner import invoke, invoke_json, refused

# The paper's example: gen_nums feeds two squares, whose outputs are summed (2² + 3² = 13).
DIAMOND = [
    {"nodename": "gen_nums", "funcname": "gen_nums", "args": [2, 3],
     "conditions": {"executortype": "cli", "dependencies": []}},
    {"nodename": "square0", "funcname": "square", "args": [0],
     "conditions": {"executortype": "cli", "dependencies": ["gen_nums"]}},
    {"nodename": "square1", "funcname": "square", "args": [1],
     "conditions": {"executortype": "cli", "dependencies": ["gen_nums"]}},
    {"nodename": "sum", "funcname": "sum", "args": [],
     "conditions": {"executortype": "cli", "dependencies": ["square0", "square1"]}},
]  # fmt: skip


def diamond_file(tmp_path: Path) -> str:
    path = tmp_path / "diamond.json"
    path.write_text(json.dumps(DIAMOND, indent=2))
    return str(path)


def compute(process: dict[str, Any]) -> list[Any]:
    spec = process["spec"]
    if spec["funcname"] == "gen_nums":
        return spec["args"]
    if spec["funcname"] == "square":
        return [process["in"][spec["args"][0]] ** 2]
    return [sum(process["in"])]


def work_through(env: dict[str, str], jobs: int) -> list[str]:
    """Be the executor from the command line: assign, compute, close with outputs."""
    done = []
    for _ in range(jobs):
        process = invoke_json(env, "process", "assign", "--timeout", "5")
        outputs = [json.dumps(value) for value in compute(process)]
        invoke(env, "process", "close", process["processid"], *(f"--out={o}" for o in outputs))
        done.append(process["spec"]["nodename"])
    return done


def test_diamond_workflow_from_json_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    graphid = invoke(
        cli_env, "workflow", "submit", "--spec", diamond_file(tmp_path), "-q"
    ).stdout.strip()
    waiting = invoke(cli_env, "workflow", "get", graphid).stdout
    assert "waiting" in waiting and "gen_nums" in waiting

    order = work_through(cli_env, 4)
    assert order[0] == "gen_nums" and order[-1] == "sum"

    graph = invoke_json(cli_env, "workflow", "get", graphid, "--wait", "--timeout", "10")
    assert graph["state"] == 2
    outputs = {p["spec"]["nodename"]: p["out"] for p in graph["processes"]}
    assert outputs == {"gen_nums": [2, 3], "square0": [4], "square1": [9], "sum": [13]}

    shown = invoke(cli_env, "workflow", "get", graphid).stdout
    rows = {line.split()[0]: line for line in shown.splitlines() if line.strip()}
    assert "successful" in rows["state"]
    assert "square0, square1" in rows["sum"] and "successful" in rows["sum"]
    assert "gen_nums" in rows["square1"]
    node_lines = [line.split()[0] for line in shown.splitlines()]
    assert node_lines.index("gen_nums") < node_lines.index("square0") < node_lines.index("sum")

    listed = invoke_json(cli_env, "workflow", "ls")
    assert [g["processgraphid"] for g in listed] == [graphid]
    assert invoke_json(cli_env, "workflow", "ls", "--state", "waiting") == []
    table = invoke(cli_env, "workflow", "ls").stdout
    assert graphid in table and "successful" in table
    assert invoke_json(cli_env, "colony", "stats")["successfulworkflows"] == 1

    invoke(cli_env, "workflow", "remove", graphid)
    assert invoke(cli_env, "workflow", "ls").stdout.strip() == "no workflows"


def test_workflow_with_unknown_dependency_is_refused(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{**DIAMOND[1], "nodename": "lonely"}]))
    assert "gen_nums" in refused(cli_env, "workflow", "submit", "--spec", str(path))


def test_generator_commands(cli_env: dict[str, str], tmp_path: Path) -> None:
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps([DIAMOND[0]]))
    added = invoke_json(
        cli_env, "generator", "add", "--name", "batch", "--spec", str(spec), "--trigger", "3"
    )
    genid = added["generatorid"]
    assert json.loads(added["workflowspec"])["colonyid"] == cli_env["COLONIES_COLONY_ID"]
    assert invoke_json(cli_env, "generator", "get", "batch")["generatorid"] == genid
    assert invoke_json(cli_env, "generator", "get", genid)["name"] == "batch"
    assert "trigger" in invoke(cli_env, "generator", "get", genid).stdout

    invoke(cli_env, "generator", "pack", genid, "a")
    invoke(cli_env, "generator", "pack", "batch", "b")
    assert invoke_json(cli_env, "generator", "get", "batch")["queuesize"] == 2
    assert [g["generatorid"] for g in invoke_json(cli_env, "generator", "ls")] == [genid]
    table = invoke(cli_env, "generator", "ls").stdout
    assert "batch" in table and genid in table and "QUEUED" in table

    invoke(cli_env, "generator", "remove", "batch")
    assert invoke(cli_env, "generator", "ls").stdout.strip() == "no generators"


def test_cron_commands(cli_env: dict[str, str], tmp_path: Path) -> None:
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps([DIAMOND[0]]))
    every = invoke_json(
        cli_env, "cron", "add", "--name", "often", "--spec", str(spec), "--interval", "3600"
    )
    invoke(cli_env, "cron", "add", "--name", "expr", "--spec", str(spec), "--cron", "0 0 * * * *")
    names = {c["name"]: c for c in invoke_json(cli_env, "cron", "ls")}
    assert set(names) == {"often", "expr"} and names["expr"]["interval"] == -1
    table = invoke(cli_env, "cron", "ls").stdout
    assert "every 3600 s" in table and "0 0 * * * *" in table
    assert invoke_json(cli_env, "cron", "get", every["cronid"])["name"] == "often"
    assert "schedule" in invoke(cli_env, "cron", "get", every["cronid"]).stdout

    invoke(cli_env, "cron", "run", every["cronid"])
    assert len(invoke_json(cli_env, "workflow", "ls")) == 1
    process = invoke_json(cli_env, "process", "assign", "--timeout", "5")
    assert process["spec"]["funcname"] == "gen_nums"

    invoke(cli_env, "cron", "remove", every["cronid"])
    assert [c["name"] for c in invoke_json(cli_env, "cron", "ls")] == ["expr"]
    assert "exactly one" in refused(cli_env, "cron", "add", "--name", "x", "--spec", str(spec))
