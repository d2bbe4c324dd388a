"""Replicas die or freeze; work is neither lost nor handed out twice."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import psycopg
import pytest

from colonies_ha.chaos.local_cluster import Cluster, ReplicaProcess
from colonies_ha.client import ColoniesClient, function_spec
from colonies_ha.domain.errors import ColoniesError, NotLeader
from colonies_ha.store.db import Database
from tests.cluster.test_cluster import make_colony


def alive(cluster: Cluster) -> list[ReplicaProcess]:
    return [r for r in cluster.replicas if r.responsive]


@dataclass
class Drain:
    """What the executors of a test share: their tally, and when a quarter of it is done."""

    target: int
    received: Counter[str] = field(default_factory=Counter)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    quarter_done: asyncio.Event = field(default_factory=asyncio.Event)


async def drain(
    cluster: Cluster, http: aiohttp.ClientSession, key: str, colonyid: str, shared: Drain
) -> None:
    """An executor hopping between live replicas: assign, close, repeat until told to stop."""
    received = shared.received
    while not shared.stop.is_set():
        replica = random.choice(alive(cluster))
        client = ColoniesClient(replica.url, key, session=http)
        try:
            process = await client.assign(colonyid, 1)
        except ColoniesError:
            continue  # 404 (nothing yet), or the replica just died: try another
        received[process["processid"]] += 1
        if sum(received.values()) >= shared.target // 4:
            shared.quarter_done.set()
        try:
            await client.close(process["processid"], ["ok"])
        except ColoniesError:
            continue  # the close is retried by the deadline: maxexectime requeues it


async def wait_all_successful(
    client: ColoniesClient, colonyid: str, total: int, within: float = 60.0
) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            stats = await client.colony_stats(colonyid)
            if stats["successfulprocesses"] == total:
                return
        except ColoniesError:
            pass
        assert time.monotonic() < deadline, f"not all successful: {stats}"
        await asyncio.sleep(0.2)


@dataclass
class LeaderKilled:
    """What `kill_the_leader_under_load` leaves for a test to check further."""

    leader: ReplicaProcess
    follower: ReplicaProcess
    colony_key: str
    colonyid: str
    keys: list[str]


async def kill_the_leader_under_load(
    cluster: Cluster,
    http: aiohttp.ClientSession,
    total: int,
    before_kill: Callable[[ReplicaProcess], None] = lambda _: None,
) -> LeaderKilled:
    """Executors hopping between live replicas drain `total` processes, submitted half
    before and half after the leader's SIGKILL a quarter of the way in; returns once every
    one is successful.  A process is received twice only if its first delivery was lost
    with the dead leader and the deadline handed it out again: never more than once
    without such a retry."""
    leader = await cluster.wait_for_agreed_leader(http)
    colony_key, colonyid, keys = await make_colony(cluster, http, executors=4)
    follower = next(r for r in cluster.replicas if r is not leader)
    submitter = ColoniesClient(follower.url, keys[0], session=http)
    # maxexectime: an assign the dying leader committed but never delivered comes back.
    spec = function_spec(colonyid, "worker", maxexectime=3, maxretries=-1)
    for _ in range(total // 2):
        await submitter.submit(spec)
    shared = Drain(total)
    executors = [asyncio.create_task(drain(cluster, http, k, colonyid, shared)) for k in keys]
    await shared.quarter_done.wait()
    before_kill(leader)
    cluster.kill(leader)
    for _ in range(total // 2):  # submissions keep coming through the survivors
        await submitter.submit(spec)
    assert await cluster.wait_for_agreed_leader(http) is not leader
    await wait_all_successful(
        ColoniesClient(follower.url, colony_key, session=http), colonyid, total
    )
    shared.stop.set()
    await asyncio.gather(*executors)
    for processid, count in shared.received.items():
        if count > 1:
            done = await submitter.get_process(processid)
            assert done["retries"] >= count - 1, (processid, count, done)
    return LeaderKilled(leader, follower, colony_key, colonyid, keys)


async def test_kill_the_leader_under_load(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    killed = await kill_the_leader_under_load(cluster, http, total=200)
    leader, colonyid, keys = killed.leader, killed.colonyid, killed.keys
    owner = ColoniesClient(killed.follower.url, killed.colony_key, session=http)
    processes = []
    for state in (0, 1, 3):
        processes += await owner.get_processes(colonyid, state)
    assert processes == [], "every process must end successful"
    # Every survivor, the new leader and the follower that relays to it, serves assigns
    # after the kill: one fresh process each, assigned (10 s long poll) through that replica.
    survivors = alive(cluster)
    assert leader not in survivors and len(survivors) == len(cluster.replicas) - 1
    for replica in survivors:
        client = ColoniesClient(replica.url, keys[0], session=http)
        submitted = await client.submit(function_spec(colonyid, "worker", args=[replica.name]))
        assigned = await client.assign(colonyid, 10)
        assert assigned["processid"] == submitted["processid"], replica.name
        await client.close(assigned["processid"], [replica.name])
        assert (await client.get_process(assigned["processid"]))["state"] == 2, replica.name


async def test_paused_leader_is_fenced_after_it_resumes(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    old = await cluster.wait_for_agreed_leader(http)
    _, colonyid, (key,) = await make_colony(cluster, http)
    claims_before = old.log_path.read_text().count("leading: raft term")
    before = await leader_row(cluster)
    assert before["nodeid"] == old.raft_address
    old_epoch = int(before["epoch"])  # type: ignore[call-overload]
    cluster.pause(old)
    try:
        new = await cluster.wait_for_agreed_leader(http)
        assert new is not old
        fence = await leader_row(cluster)
        assert fence["nodeid"] == new.raft_address
        current_epoch = int(fence["epoch"])  # type: ignore[call-overload]
        assert current_epoch > old_epoch
        assert int(fence["term"]) > int(before["term"])  # type: ignore[call-overload]
        # The fence itself, whatever Raft does with the old leader: a transaction under the
        # old epoch is refused before its body runs, one under the current epoch commits.
        assert await fenced_writes(cluster, old_epoch, current_epoch) == [current_epoch]
        follower = next(r for r in cluster.replicas if r not in (old, new))
        submitted = await ColoniesClient(follower.url, key, session=http).submit(
            function_spec(colonyid, "worker")
        )
    finally:
        cluster.resume(old)
    # The resumed replica no longer acts as leader: it relays, and the epoch is not its.
    old_client = ColoniesClient(old.url, key, session=http)
    assigned = await old_client.assign(colonyid, 10)
    assert assigned["processid"] == submitted["processid"]
    owner = cluster.owner(old, http)
    deadline = time.monotonic() + 10
    while True:
        info = await owner.get_cluster()
        if info["leader"].get("raftaddress") == new.raft_address and info["state"] != "leader":
            break
        assert time.monotonic() < deadline, info
        await asyncio.sleep(0.1)
    # Its scans found the epoch moved (or Raft demoted it first): it never claimed it back.
    assert await leader_row(cluster) == fence
    log = old.log_path.read_text()
    assert log.count("leading: raft term") == claims_before
    assert "Traceback" not in log


async def leader_row(cluster: Cluster) -> dict[str, object]:
    """The fencing row as PostgreSQL has it: who holds the epoch, claimed in which term."""
    async with await psycopg.AsyncConnection.connect(
        cluster.database_url, row_factory=psycopg.rows.dict_row
    ) as conn:
        cur = await conn.execute("SELECT epoch, term, nodeid FROM leader WHERE id = 1")
        row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def fenced_writes(cluster: Cluster, old_epoch: int, current_epoch: int) -> list[int]:
    """Write the epoch into a probe table in a fenced transaction under each epoch: the
    old one must raise NotLeader. Returns the epochs whose write was committed."""
    db = Database(cluster.database_url, min_size=1, max_size=2)
    await db.open(run_migrations=False)
    try:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE fence_probe (epoch bigint NOT NULL)")
        with pytest.raises(NotLeader):
            async with db.fenced_transaction(old_epoch) as conn:
                await conn.execute("INSERT INTO fence_probe VALUES (%s)", (old_epoch,))
        async with db.fenced_transaction(current_epoch) as conn:
            await conn.execute("INSERT INTO fence_probe VALUES (%s)", (current_epoch,))
        async with db.connection() as conn:
            cur = await conn.execute("SELECT epoch FROM fence_probe ORDER BY epoch")
            return [int(row["epoch"]) for row in await cur.fetchall()]
    finally:
        await db.close()


async def test_crons_and_generators_fire_once_across_leader_kills(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    await cluster.wait_for_agreed_leader(http)
    _, colonyid, (key,) = await make_colony(cluster, http)
    first = ColoniesClient(cluster.replicas[0].url, key, session=http)
    workflow = json.dumps(
        {
            "colonyid": colonyid,
            "functionspecs": [function_spec(colonyid, "worker", "tick", nodename="tick")],
        }
    )
    await first.add_cron(colonyid, "tick", workflow, interval=1)
    generator = await first.add_generator(colonyid, "gen", workflow, trigger=2)
    packed: list[str] = []
    for round_ in range(3):
        leader = await cluster.wait_for_agreed_leader(http)
        for i in range(10):
            arg = f"{round_}-{i}"
            client = ColoniesClient(random.choice(alive(cluster)).url, key, session=http)
            await client.pack_generator(generator["generatorid"], arg)
            packed.append(arg)
        cluster.kill(leader)
        await cluster.wait_for_agreed_leader(http)
        cluster.start(leader)  # back as a follower
    await cluster.wait_for_agreed_leader(http)
    survivor = ColoniesClient(alive(cluster)[0].url, key, session=http)
    deadline = time.monotonic() + 30
    while True:
        graphs = []
        for state in range(4):
            graphs += await survivor.get_processgraphs(colonyid, state)
        roots = [await survivor.get_process(g["rootprocessids"][0]) for g in graphs]
        args = [a for r in roots if r["spec"]["funcname"] == "tick" for a in r["spec"]["args"]]
        cron_runs = sorted(
            g["submissiontime"] for g, r in zip(graphs, roots, strict=True) if not r["spec"]["args"]
        )
        if len(args) >= len(packed) and len(cron_runs) >= 5:
            break
        assert time.monotonic() < deadline, (len(args), len(packed), cron_runs)
        await asyncio.sleep(0.3)
    assert Counter(args) == Counter(packed), "each packed arg is used exactly once"
    times = [time_of(t) for t in cron_runs]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.8, f"a cron slot fired twice: {gaps}"


def time_of(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


async def test_a_relayed_assign_leaves_a_frozen_leader_for_its_successor(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    old = await cluster.wait_for_agreed_leader(http)
    _, colonyid, (key,) = await make_colony(cluster, http)
    follower = next(r for r in cluster.replicas if r is not old)
    executor = ColoniesClient(follower.url, key, session=http)
    before = (await executor.get_executor(executor.id))["lastheardfromtime"]
    pending = asyncio.create_task(executor.assign(colonyid, 60))
    # The leader's first claim attempt for the relayed long poll marks the executor heard.
    deadline = time.monotonic() + 10
    while (await executor.get_executor(executor.id))["lastheardfromtime"] == before:
        assert time.monotonic() < deadline, "the relayed assign never reached the leader"
        await asyncio.sleep(0.05)
    cluster.pause(old)
    try:
        submitted = await executor.submit(function_spec(colonyid, "worker"))
        # Well before the 60 s long poll ends, the follower gives up on the frozen leader,
        # sees the epoch move, finds no claim under its receipt and asks the successor.
        assigned = await asyncio.wait_for(pending, 20)
        assert assigned["processid"] == submitted["processid"]
        new = await cluster.wait_for_agreed_leader(http)
        assert new is not old
    finally:
        cluster.resume(old)
    assert "replaced while the request was pending" in follower.log_path.read_text()
    await executor.close(assigned["processid"], ["done"])
    done = await executor.get_process(assigned["processid"])
    assert done["state"] == 2 and done["retries"] == 0, "handed out once, closed once"
    # The resumed ex-leader's own long poll ends without claiming under its dead epoch.
    second = await executor.submit(function_spec(colonyid, "worker"))
    again = await ColoniesClient(old.url, key, session=http).assign(colonyid, 10)
    assert again["processid"] == second["processid"]
    assert (await executor.get_process(second["processid"]))["retries"] == 0


async def test_a_late_epoch_bump_for_an_older_term_is_taken_back(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    """An ex-leader paused between seeing itself lead and bumping the epoch bumps it after
    the new leader did.  Raft has moved on, so no election follows: the leader of the newer
    term must take the epoch back, or nobody would serve assigns."""
    leader = await cluster.wait_for_agreed_leader(http)
    _, colonyid, (key,) = await make_colony(cluster, http)
    stale = next(r for r in cluster.replicas if r is not leader)
    follower = next(r for r in cluster.replicas if r not in (leader, stale))
    client = ColoniesClient(follower.url, key, session=http)
    # One relay first: the follower's channel to the leader is open, the epoch remembered.
    await client.submit(function_spec(colonyid, "worker"))
    await client.close((await client.assign(colonyid, 10))["processid"], ["done"])
    before = await leader_row(cluster)
    db = Database(cluster.database_url)
    await db.open()
    try:
        row = await db.leader_row()
        stale_epoch = await db.bump_epoch(stale.raft_address, term=int(row["term"]) - 1)
    finally:
        await db.close()
    submitted = await client.submit(function_spec(colonyid, "worker"))
    assigned = await client.assign(colonyid, 10)
    assert assigned["processid"] == submitted["processid"]
    # Relayed under the remembered epoch, which the leader no longer holds: refused (over
    # the open channel), then asked again with the same receipt once the leader took the
    # epoch back.  One claim, handed out once.
    assert f"does not lead under epoch {before['epoch']}" in follower.log_path.read_text()
    assert (await client.get_process(assigned["processid"]))["retries"] == 0
    after = await leader_row(cluster)
    assert after["nodeid"] == leader.raft_address
    assert int(after["epoch"]) > stale_epoch > int(before["epoch"])  # type: ignore[call-overload]
    assert "taking it back" in leader.log_path.read_text()
    assert await cluster.wait_for_agreed_leader(http) is leader  # no election was needed
