"""Workflow graphs: wiring processes by node name, splicing children, and a DAG layout."""

from __future__ import annotations

from typing import Any

from colonies_ha.domain.processes import new_process
from colonies_ha.domain.states import ProcessState
from colonies_ha.protocol.crypto import new_object_id

Row = dict[str, Any]

NODE_WIDTH, NODE_GAP, LEVEL_HEIGHT = 150, 50, 80
STATE_COLOURS = {
    ProcessState.WAITING: "#eee8d8",
    ProcessState.RUNNING: "#4689cd",
    ProcessState.SUCCESSFUL: "#92d050",
    ProcessState.FAILED: "#cb4239",
}


def wire_workflow(
    specs: list[Row],
    *,
    root_args: list[Any] | None = None,
    root_input: list[Any] | None = None,
    initiator: tuple[str, str] = ("", ""),
) -> tuple[str, list[Row]]:
    """A graph id and one new process per spec, parents and children wired by node name.

    `root_args` replaces the roots' args (generators); `root_input` becomes the roots'
    input (crons pass the previous run's outputs).
    """
    graphid = new_object_id()
    ids = {spec["nodename"]: new_object_id() for spec in specs}
    children: dict[str, list[str]] = {name: [] for name in ids}
    for spec in specs:
        for dependency in spec["conditions"]["dependencies"]:
            children[dependency].append(ids[spec["nodename"]])
    processes = []
    for spec in specs:
        dependencies = spec["conditions"]["dependencies"]
        is_root = not dependencies
        effective = spec
        if is_root and root_args is not None:
            effective = {**spec, "args": list(root_args)}
        process = new_process(
            effective,
            graphid=graphid,
            waitforparents=not is_root,
            parents=[ids[d] for d in dependencies],
            children=children[spec["nodename"]],
            input_values=list(root_input) if is_root and root_input else [],
            initiator=initiator,
        )
        process["processid"] = ids[spec["nodename"]]
        processes.append(process)
    return graphid, processes


def splice_child(
    parent: Row, child_id: str, members: dict[str, Row], *, insert: bool, before: str = ""
) -> tuple[list[str], dict[str, tuple[list[str], list[str]]]]:
    """The new child's children, and the new (parents, children) of every touched member.

    insert=False hangs the child under the parent.  insert=True puts it between the parent
    and `before` (one child, for map-reduce fan-out) or all of the parent's children.
    """
    pid = parent["processid"]
    changes: dict[str, tuple[list[str], list[str]]] = {}
    if not insert:
        changes[pid] = (list(parent["parents"]), [*parent["children"], child_id])
        return [], changes
    targets = [before] if before else list(parent["children"])
    parent_children = [c for c in parent["children"] if c not in targets]
    changes[pid] = (list(parent["parents"]), [*parent_children, child_id])
    for target in targets:
        member = members[target]
        parents = [p for p in member["parents"] if p != pid]
        changes[target] = ([*parents, child_id], list(member["children"]))
    return targets, changes


def layout(members: list[Row]) -> tuple[list[Row], list[Row]]:
    """Nodes (placed by depth, for a dashboard) and edges of a graph's members."""
    by_id = {m["processid"]: m for m in members}
    depth: dict[str, int] = {}

    def depth_of(pid: str) -> int:
        # Longest path from a root; iterative so deep chains do not hit recursion limits.
        stack = [pid]
        while stack:
            current = stack[-1]
            pending = [p for p in by_id[current]["parents"] if p in by_id and p not in depth]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            parents = [depth[p] for p in by_id[current]["parents"] if p in depth]
            depth[current] = 1 + max(parents) if parents else 0
        return depth[pid]

    levels: dict[int, list[Row]] = {}
    for member in members:
        levels.setdefault(depth_of(member["processid"]), []).append(member)
    nodes = []
    for level, row in sorted(levels.items()):
        offset = (len(row) - 1) * (NODE_WIDTH + NODE_GAP) // 2
        for index, member in enumerate(row):
            nodes.append(
                _node(member, index * (NODE_WIDTH + NODE_GAP) - offset, level * LEVEL_HEIGHT)
            )
    edges = [
        {
            "id": f"{m['processid']}-{child}",
            "source": m["processid"],
            "target": child,
            "animated": m["state"] == ProcessState.RUNNING,
        }
        for m in members
        for child in m["children"]
    ]
    return nodes, edges


def _node(member: Row, x: int, y: int) -> Row:
    kind = "input" if not member["parents"] else "output" if not member["children"] else "default"
    return {
        "id": member["processid"],
        "data": {"label": member["nodename"]},
        "position": {"x": x, "y": y},
        "type": kind,
        "style": {"color": "#000000", "background": STATE_COLOURS[ProcessState(member["state"])]},
    }
