"""/metrics: valid Prometheus text whose counters follow what the replica does."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlparse

import aiohttp
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from colonies_ha.domain.errors import ColoniesError
from colonies_ha.embedded_pg import EmbeddedPostgres
from colonies_ha.protocol.crypto import generate_private_key
from tests.helpers import ColonyEnv

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counters_and_gauges_follow_a_process_through_its_life(colony: ColonyEnv) -> None:
    url = colony.server.url
    executor = await colony.new_executor()
    before = await scrape(url)
    assert value(before, "colonies_leader") == 1
    assert value(before, "colonies_fencing_epoch") >= 1
    assert value(before, "colonies_db_pool_connections", use="open") >= 1

    submitted = await executor.submit(colony.spec())
    waiting = await scrape(url)
    queue = {"colonyid": colony.colonyid, "executortype": colony.executortype}
    assert value(waiting, "colonies_processes", **queue, state="waiting") == 1

    process = await executor.assign(colony.colonyid, 5)
    assert process["processid"] == submitted["processid"]
    running = await scrape(url)
    assert value(running, "colonies_processes", **queue, state="waiting") == 0
    assert value(running, "colonies_processes", **queue, state="running") == 1

    await executor.close(process["processid"], ["done"])
    after = await scrape(url)
    assign_ok = {"msgtype": "assignprocessmsg", "status": "200"}
    assert value(after, "colonies_requests_total", **assign_ok) == (
        value(before, "colonies_requests_total", **assign_ok) + 1
    )
    assert value(after, "colonies_assign_wait_seconds_count") == (
        value(before, "colonies_assign_wait_seconds_count") + 1
    )
    assert value(after, "colonies_processes_closed_total", state="successful") == (
        value(before, "colonies_processes_closed_total", state="successful") + 1
    )
    latency = {"msgtype": "closesuccessfulmsg"}
    assert value(after, "colonies_request_duration_seconds_count", **latency) >= 1
    assert value(after, "colonies_processes", **queue, state="running") == 0


async def test_coalesced_requests_and_their_batches_are_counted(colony: ColonyEnv) -> None:
    url = colony.server.url
    before = await scrape(url)
    await asyncio.gather(*(colony.executor.submit(colony.spec()) for _ in range(6)))
    after = await scrape(url)
    grew = {
        name: value(after, name, kind="submit") - value(before, name, kind="submit")
        for name in ("colonies_coalesced_batches_total", "colonies_coalesced_requests_total")
    }
    assert grew["colonies_coalesced_requests_total"] == 6
    assert 1 <= grew["colonies_coalesced_batches_total"] <= 6
    assert value(after, "colonies_coalesced_requests_total", kind="executor") >= 6


async def test_refusals_are_counted_by_status_and_junk_is_one_label(colony: ColonyEnv) -> None:
    url = colony.server.url
    stranger = colony.server.client(generate_private_key())  # a key of no colony
    before = await scrape(url)
    with pytest.raises(ColoniesError):
        await stranger.get_processes(colony.colonyid, 0)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/api", data=b"not json") as response,
    ):
        assert response.status == 400
    after = await scrape(url)
    refused = {"msgtype": "getprocessesmsg", "status": "403"}
    assert value(after, "colonies_requests_total", **refused) == (
        value(before, "colonies_requests_total", **refused) + 1
    )
    junk = {"msgtype": "invalid", "status": "400"}
    assert value(after, "colonies_requests_total", **junk) == (
        value(before, "colonies_requests_total", **junk) + 1
    )


async def test_generator_firings_are_counted(colony: ColonyEnv) -> None:
    url = colony.server.url
    executor = await colony.new_executor()
    workflow = json.dumps(
        {"colonyid": colony.colonyid, "functionspecs": [colony.spec("tick", nodename="tick")]}
    )
    generator = await executor.add_generator(colony.colonyid, "gen", workflow, trigger=1)
    before = value(await scrape(url), "colonies_scan_actions_total", scan="generators")
    await executor.pack_generator(generator["generatorid"], "x")
    deadline = time.monotonic() + 10
    while value(await scrape(url), "colonies_scan_actions_total", scan="generators") == before:
        assert time.monotonic() < deadline, "the generator scan never fired"
        await asyncio.sleep(0.1)


async def test_deadline_resets_and_failures_are_counted(colony: ColonyEnv) -> None:
    url = colony.server.url
    executor = await colony.new_executor()
    retried = await executor.submit(colony.spec(maxexectime=1, maxretries=1))
    await executor.assign(colony.colonyid, 5)  # never closed: reset once, then failed

    async def finished() -> bool:
        return (await executor.get_process(retried["processid"]))["state"] == 3

    async with asyncio.timeout(20):
        await executor.assign(colony.colonyid, 10)  # the second attempt, after the reset
        while True:
            if await finished():
                break
            await asyncio.sleep(0.1)
    samples = await scrape(url)
    assert value(samples, "colonies_deadline_resets_total") == 1
    assert value(samples, "colonies_deadline_failures_total") == 1
    assert value(samples, "colonies_metrics_database_up") == 1


async def test_metrics_answer_while_the_database_does_not(
    colony: ColonyEnv, postgres: EmbeddedPostgres, database_url: str
) -> None:
    """Leadership, term and counters are wanted most when the database is in trouble."""
    url = colony.server.url
    before = await scrape(url)
    dbname = urlparse(database_url).path.lstrip("/")
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as admin:
        allow = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}")
        await admin.execute(allow.format(sql.Identifier(dbname), sql.SQL("false")))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
            during = await scrape(url)
        finally:
            await admin.execute(allow.format(sql.Identifier(dbname), sql.SQL("true")))
    assert value(during, "colonies_metrics_database_up") == 0
    assert value(during, "colonies_leader") == 1
    assert value(during, "colonies_fencing_epoch") == value(before, "colonies_fencing_epoch")


async def test_a_workers_pushed_metrics_join_the_replicas_and_bad_pushes_are_refused(
    colony: ColonyEnv,
) -> None:
    """What a serving worker hands its primary (POST /local/metrics, loopback only) appears
    in the primary's /metrics beside its own, each sample labelled with its process; the
    replica-wide gauges come from the primary alone.  Junk is refused with a 400."""
    url = colony.server.url
    await colony.executor.submit(colony.spec())
    worker = (
        b"# HELP colonies_requests_total RPC requests by message type and HTTP status\n"
        b"# TYPE colonies_requests_total counter\n"
        b'colonies_requests_total{msgtype="assignprocessmsg",status="200"} 7.0\n'
        b"# HELP colonies_fencing_epoch Fencing epoch in the database\n"
        b"# TYPE colonies_fencing_epoch gauge\n"
        b"colonies_fencing_epoch 0.0\n"
    )
    async with aiohttp.ClientSession() as http:
        for headers, body in [
            ({}, worker),  # no process name
            ({"X-Colonies-Process": 'x"} 1 evil'}, worker),  # not worker-<n>
            ({"X-Colonies-Process": "worker-100"}, worker),  # more than 99 names
            ({"X-Colonies-Process": "worker-1"}, b"colonies_requests_total{ 7\n"),  # not text
        ]:
            async with http.post(f"{url}/local/metrics", data=body, headers=headers) as reply:
                assert reply.status == 400, await reply.text()
                assert "error" in await reply.json()
        too_big = worker + b"# padding\n" * (1 << 17)
        async with http.post(
            f"{url}/local/metrics", data=too_big, headers={"X-Colonies-Process": "worker-1"}
        ) as reply:
            assert reply.status == 413
            assert "at most" in (await reply.json())["error"]
        async with http.post(
            f"{url}/local/metrics", data=worker, headers={"X-Colonies-Process": "worker-1"}
        ) as reply:
            assert reply.status == 204

    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        types = [
            line.split()[2]
            for line in (await response.text()).splitlines()
            if line.startswith("# TYPE ")
        ]
    assert len(types) == len(set(types)), "each family once, whichever process it came from"
    samples = await scrape(url)
    assert (
        value(
            samples,
            "colonies_requests_total",
            msgtype="assignprocessmsg",
            process="worker-1",
            status="200",
        )
        == 7
    )
    assert (
        value(
            samples,
            "colonies_requests_total",
            msgtype="submitfuncspecmsg",
            process="primary",
            status="200",
        )
        == 1
    )
    epochs = {labels for name, labels in samples if name == "colonies_fencing_epoch"}
    assert epochs == {(("process", "primary"),)}
