"""`colonies-ha workflow`: submit a DAG of function specs from JSON and follow its nodes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import click

from colonies_ha.cli.common import (
    PROCESS_STATES,
    Conn,
    call,
    connection_options,
    details,
    json_option,
    listing,
    print_json,
    process_state,
    read_json_file,
    relative,
    short,
    table,
    workflow_specs,
)
from colonies_ha.client import ColoniesClient

Json = dict[str, Any]
FINISHED = (2, 3)


async def graph_with_processes(client: ColoniesClient, graphid: str) -> Json:
    """The graph plus its member processes (what `workflow get` shows and --json returns)."""
    graph = await client.get_processgraph(graphid)
    processes = await asyncio.gather(*(client.get_process(p) for p in graph["processids"]))
    return {**graph, "processes": list(processes)}


async def wait_for_graph(client: ColoniesClient, graphid: str, timeout: float) -> Json:
    """Poll until the graph succeeds or fails, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        graph = await graph_with_processes(client, graphid)
        if graph["state"] in FINISHED or time.monotonic() >= deadline:
            return graph
        await asyncio.sleep(0.5)


def topological(processes: list[Json]) -> list[Json]:
    """Parents before children, roots first, so the table reads as the DAG runs."""
    by_id = {p["processid"]: p for p in processes}
    depth: dict[str, int] = {}

    def level(pid: str) -> int:
        if pid not in depth:
            depth[pid] = 0  # guards a malformed cycle
            parents = [q for q in by_id[pid].get("parents") or [] if q in by_id]
            depth[pid] = 1 + max((level(q) for q in parents), default=-1)
        return depth[pid]

    return sorted(processes, key=lambda p: (level(p["processid"]), p["spec"].get("nodename", "")))


def print_graph(graph: Json) -> None:
    details(
        [
            ("workflow", graph["processgraphid"]),
            ("state", process_state(graph["state"])),
            ("submitted", relative(graph.get("submissiontime"))),
            ("started", relative(graph.get("starttime"))),
            ("ended", relative(graph.get("endtime"))),
        ]
    )
    names = {p["processid"]: p["spec"].get("nodename", "") for p in graph["processes"]}
    table(
        ["NODE", "AFTER", "FUNCTION", "STATE", "OUT", "ENDED", "PROCESS ID"],
        [
            [
                names[p["processid"]],
                ", ".join(names.get(q, q[:8]) for q in p.get("parents") or []) or "-",
                p["spec"].get("funcname", ""),
                process_state(p["state"]),
                short(p.get("out") or p.get("errors") or "", 30),
                relative(p.get("endtime")),
                p["processid"],
            ]
            for p in topological(graph["processes"])
        ],
    )


@click.group()
def workflow() -> None:
    """Workflows (process graphs): submit from JSON, get with each node's state, list."""


@workflow.command()
@click.option(
    "--spec",
    "spec_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='A JSON list of function specs (nodename, conditions.dependencies), or {"functionspecs"}.',
)
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the workflow id.")
@connection_options
def submit(conn: Conn, spec_path: Path, as_json: bool, quiet: bool) -> None:
    """Submit a workflow: one process per spec, wired by nodename dependencies."""
    colonyid, specs = workflow_specs(read_json_file(spec_path), conn.colony())
    graph = call(conn, ["executor"], lambda c: c.submit_workflow(colonyid, specs))
    if as_json:
        print_json(graph)
    elif quiet:
        click.echo(graph["processgraphid"])
    else:
        click.echo(f"submitted workflow {graph['processgraphid']} ({len(specs)} processes)")


@workflow.command()
@click.argument("processgraphid")
@click.option("--wait", is_flag=True, help="Wait until the workflow succeeds or fails.")
@click.option("--timeout", default=60.0, type=click.FloatRange(0), help="Seconds --wait waits.")
@json_option
@connection_options
def get(conn: Conn, processgraphid: str, wait: bool, timeout: float, as_json: bool) -> None:
    """The workflow's state and its DAG: every node, what it runs after, and its state."""
    graph = call(
        conn,
        ["executor"],
        lambda c: (
            wait_for_graph(c, processgraphid, timeout)
            if wait
            else graph_with_processes(c, processgraphid)
        ),
    )
    if as_json:
        print_json(graph)
    else:
        print_graph(graph)
    if wait and graph["state"] not in FINISHED:
        raise click.exceptions.Exit(1)


async def all_graphs(client: ColoniesClient, colonyid: str, states: list[int], count: int) -> list:
    found = await asyncio.gather(*(client.get_processgraphs(colonyid, s, count) for s in states))
    graphs = [g for batch in found for g in batch]
    return sorted(graphs, key=lambda g: g.get("submissiontime", ""), reverse=True)[:count]


@workflow.command(name="ls")
@click.option(
    "--state",
    type=click.Choice(list(PROCESS_STATES.values())),
    default=None,
    help="Only workflows in this state (default: all).",
)
@click.option("--count", default=20, type=click.IntRange(1, 100), help="At most this many.")
@json_option
@connection_options
def list_workflows(conn: Conn, state: str | None, count: int, as_json: bool) -> None:
    """Workflows of the colony, newest first."""
    states = [k for k, v in PROCESS_STATES.items() if state in (None, v)]
    graphs = call(conn, ["executor"], lambda c: all_graphs(c, conn.colony(), states, count))
    listing(
        graphs,
        as_json,
        ["STATE", "NODES", "SUBMITTED", "ENDED", "WORKFLOW ID"],
        lambda g: [
            process_state(g["state"]),
            len(g.get("processids") or []),
            relative(g.get("submissiontime")),
            relative(g.get("endtime")),
            g["processgraphid"],
        ],
        "no workflows",
    )


@workflow.command()
@click.argument("processgraphid", required=False)
@click.option(
    "--all", "remove_all", is_flag=True, help="Every workflow of the colony (colony key)."
)
@connection_options
def remove(conn: Conn, processgraphid: str | None, remove_all: bool) -> None:
    """Delete PROCESSGRAPHID and its processes, or with --all every workflow of the colony."""
    if remove_all == bool(processgraphid):
        raise click.UsageError("give either a PROCESSGRAPHID or --all")
    if remove_all:
        call(conn, ["colony"], lambda c: c.delete_all_processgraphs(conn.colony()))
        click.echo("removed all workflows of the colony")
    else:
        call(conn, ["executor"], lambda c: c.delete_processgraph(processgraphid or ""))
        click.echo(f"removed workflow {processgraphid}")
