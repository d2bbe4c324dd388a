"""Generators and crons: batches from packed args, timed firings, exactly once."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from datetime import datetime

from colonies_ha.scans.schedules import fire_crons, trigger_generators
from colonies_ha.store import repo
from tests.helpers import ColonyEnv
from tests.integration.test_colonies_executors import refused
from tests.integration.test_queue_semantics import wait_until


def one_node_workflow(colony: ColonyEnv, name: str = "job") -> str:
    return json.dumps(
        {"colonyid": colony.colonyid, "functionspecs": [colony.spec(name, nodename=name)]}
    )


async def root_args_of_graphs(colony: ColonyEnv) -> list[list[str]]:
    graphs = await colony.executor.get_processgraphs(colony.colonyid, 0)
    args = []
    for graph in graphs:
        (root,) = graph["rootprocessids"]
        args.append((await colony.executor.get_process(root))["spec"]["args"])
    return args


async def test_generator_trigger_3_pack_7_starts_2_workflows(colony: ColonyEnv) -> None:
    generator = await colony.executor.add_generator(
        colony.colonyid, "gen", one_node_workflow(colony), trigger=3
    )
    assert generator["queuesize"] == 0
    for i in range(7):
        await colony.executor.pack_generator(generator["generatorid"], f"arg{i}")

    async def two_graphs() -> list[list[str]] | None:
        args = await root_args_of_graphs(colony)
        return args if len(args) == 2 else None

    args = await wait_until(two_graphs)
    assert sorted(args) == [["arg0", "arg1", "arg2"], ["arg3", "arg4", "arg5"]]
    left = await colony.executor.get_generator(generator["generatorid"])
    assert left["queuesize"] == 1 and not left["lastrun"].startswith("0001")
    assert (await colony.executor.resolve_generator("gen"))["generatorid"] == (
        generator["generatorid"]
    )


async def test_concurrent_packs_lose_and_duplicate_nothing(colony: ColonyEnv) -> None:
    generator = await colony.executor.add_generator(
        colony.colonyid, "gen", one_node_workflow(colony), trigger=5
    )
    packers = [await colony.new_executor() for _ in range(10)]
    await asyncio.gather(
        *(
            p.pack_generator(generator["generatorid"], f"{i}-{j}")
            for i, p in enumerate(packers)
            for j in range(10)
        )
    )

    async def all_consumed() -> list[list[str]] | None:
        args = await root_args_of_graphs(colony)
        return args if len(args) == 20 else None

    args = await wait_until(all_consumed)
    used = Counter(a for batch in args for a in batch)
    assert set(used) == {f"{i}-{j}" for i in range(10) for j in range(10)}
    assert set(used.values()) == {1}


async def test_two_scanners_never_trigger_a_batch_twice(colony: ColonyEnv) -> None:
    generator = await colony.executor.add_generator(
        colony.colonyid, "gen", one_node_workflow(colony), trigger=2
    )
    ctx = colony.server.replica.ctx
    await colony.server.replica.scans.stop()  # only our two scanners from here on
    for i in range(40):
        await colony.executor.pack_generator(generator["generatorid"], str(i))
    epoch = ctx.leadership.epoch
    assert epoch is not None
    for _ in range(5):
        await asyncio.gather(trigger_generators(ctx, epoch), trigger_generators(ctx, epoch))
    args = await root_args_of_graphs(colony)
    used = Counter(a for batch in args for a in batch)
    assert len(args) == 20 and set(used.values()) == {1} and len(used) == 40


async def test_bad_generator_and_cron_input_is_refused(colony: ColonyEnv) -> None:
    wf = one_node_workflow(colony)
    await refused(colony.executor.add_generator(colony.colonyid, "g", wf, trigger=0), 400)
    await refused(colony.executor.add_generator(colony.colonyid, "g", "{nope", trigger=1), 400)
    await refused(colony.executor.add_cron(colony.colonyid, "c", wf, interval=0), 400)
    await refused(
        colony.executor.add_cron(colony.colonyid, "c", wf, interval=-1, cronexpression="* * * * *"),
        400,
        "6 fields",
    )
    await refused(colony.owner.add_cron(colony.colonyid, "c", wf, interval=5), 403)
    await colony.executor.add_cron(colony.colonyid, "c", wf, interval=5)
    await refused(colony.executor.add_cron(colony.colonyid, "c", wf, interval=5), 400, "exists")


async def graphs_started(colony: ColonyEnv) -> list[dict]:
    graphs = []
    for state in range(4):
        graphs += await colony.executor.get_processgraphs(colony.colonyid, state)
    return sorted(graphs, key=lambda g: g["submissiontime"])


async def test_interval_cron_fires_about_once_a_second(colony: ColonyEnv) -> None:
    cron = await colony.executor.add_cron(
        colony.colonyid, "tick", one_node_workflow(colony), interval=1
    )
    assert cron["nextrun"].startswith("0001")  # the first scan only schedules

    async def three_runs() -> list[dict] | None:
        graphs = await graphs_started(colony)
        return graphs if len(graphs) >= 3 else None

    graphs = await wait_until(three_runs, within=15)
    times = [datetime.fromisoformat(g["submissiontime"]) for g in graphs[:3]]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(0.5 <= gap <= 2.5 for gap in gaps), gaps


async def test_cron_expression_fires_on_even_seconds(colony: ColonyEnv) -> None:
    cron = await colony.executor.add_cron(
        colony.colonyid,
        "even",
        one_node_workflow(colony),
        interval=-1,
        cronexpression="0/2 * * * * *",
    )
    # Snapshots of the cron as getcronmsg reports it: nextrun is the slot it fires next
    # (what the cron expression decides), lastrun the moment the scan fired it.
    snapshots: list[tuple[datetime, datetime | None]] = []

    async def slots_and_two_firings() -> bool:
        seen = await colony.executor.get_cron(cron["cronid"])
        if seen["nextrun"].startswith("0001"):
            return False  # not scheduled by a scan yet
        nextrun = datetime.fromisoformat(seen["nextrun"])
        lastrun = (
            None if seen["lastrun"].startswith("0001") else datetime.fromisoformat(seen["lastrun"])
        )
        if not snapshots or snapshots[-1] != (nextrun, lastrun):
            snapshots.append((nextrun, lastrun))
        firings = {last for _, last in snapshots if last is not None}
        return len(firings) >= 2 and len({slot for slot, _ in snapshots}) >= 3

    await wait_until(slots_and_two_firings, within=15)
    slots = sorted({slot for slot, _ in snapshots})
    for slot in slots:
        assert slot.microsecond == 0 and slot.second % 2 == 0, f"not an even second: {slot}"
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]
    assert all(gap > 0 and gap % 2 == 0 for gap in gaps), gaps
    # Each firing happened at or after the slot that was due, never ahead of it.
    for (due, before), (_, after) in itertools.pairwise(snapshots):
        if after != before:
            assert after is not None and after >= due, (due, after)
    graphs = await graphs_started(colony)
    assert len(graphs) >= 2


async def test_wait_for_previous_graph_and_outputs_flow_on(colony: ColonyEnv) -> None:
    cron = await colony.executor.add_cron(
        colony.colonyid,
        "chain",
        one_node_workflow(colony),
        interval=1,
        waitforprevprocessgraph=True,
    )
    first = await colony.executor.assign(colony.colonyid, 10)
    ctx = colony.server.replica.ctx

    # While the first run is open, due slots are held: still exactly one graph.
    async def slot_passed() -> bool:
        async with ctx.db.connection() as conn:
            row = await repo.one(conn, "get_cron", {"cronid": cron["cronid"]})
            return (
                row is not None
                and row["nextrun"] is not None
                and (await repo.one(conn, "crons_due")) is not None
            )

    await wait_until(slot_passed)
    await fire_crons(ctx, ctx.leadership.epoch)
    assert len(await graphs_started(colony)) == 1
    await colony.executor.close(first["processid"], ["from-run-1"])
    second = await colony.executor.assign(colony.colonyid, 10)
    assert second["in"] == ["from-run-1"]
    assert second["processgraphid"] != first["processgraphid"]


async def test_run_cron_starts_it_now(colony: ColonyEnv) -> None:
    cron = await colony.executor.add_cron(
        colony.colonyid, "manual", one_node_workflow(colony), interval=3600
    )
    ran = await colony.executor.run_cron(cron["cronid"])
    assert ran["prevprocessgraphid"] and not ran["lastrun"].startswith("0001")
    process = await colony.executor.assign(colony.colonyid, 5)
    assert process["processgraphid"] == ran["prevprocessgraphid"]
    assert [c["cronid"] for c in await colony.executor.get_crons(colony.colonyid)] == [
        cron["cronid"]
    ]
    await colony.executor.delete_cron(cron["cronid"])
    await refused(colony.executor.get_cron(cron["cronid"]), 404)


async def test_two_scanners_never_fire_a_cron_slot_twice(colony: ColonyEnv) -> None:
    ctx = colony.server.replica.ctx
    await colony.server.replica.scans.stop()
    epoch = ctx.leadership.epoch
    assert epoch is not None
    await colony.executor.add_cron(colony.colonyid, "race", one_node_workflow(colony), interval=1)
    fired = 0
    while fired < 3:
        await asyncio.gather(fire_crons(ctx, epoch), fire_crons(ctx, epoch))
        async with ctx.db.connection() as conn:
            fired = len(
                await repo.all_rows(
                    conn,
                    "list_processgraphs",
                    {"colonyid": colony.colonyid, "state": 0, "count": 100},
                )
            )
        await asyncio.sleep(0.2)  # the scan loop's tick: scanning, not waiting for a result
    graphs = await graphs_started(colony)
    times = [datetime.fromisoformat(g["submissiontime"]) for g in graphs]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.9 for gap in gaps), f"a slot fired twice: {gaps}"
