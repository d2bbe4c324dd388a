"""Process channels across two replicas: append latency and rate, and how long an entry
appended through one replica takes to reach a follower connected to the other.

    .venv/bin/python -m benchmarks.channels --messages 100 --writers 4

Two `colonies-ha server` processes share one PostgreSQL (the second one started leads, so
assigns go there); the submitter appends through replica A, the assignee follows the
channel over /pubsub on replica B.  Numbers are printed, never asserted.  Upstream's rate
limit (100 appends/s per process, bursts of 500) applies: keep messages x (1 + writers)
near 500, or the run ends in 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import struct
import time
from typing import Any

from benchmarks.env import BenchPostgres, ServerProcess, http_session, make_colony
from colonies_ha.client import ColoniesClient
from colonies_ha.protocol.envelope import encode_request


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(label: str, values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (
        f"{label}: n={len(ms)} median {statistics.median(ms):.2f} ms, "
        f"p95 {_pct(ms, 0.95):.2f} ms, p99 {_pct(ms, 0.99):.2f} ms, max {max(ms):.2f} ms"
    )


async def _follow(url: str, key: str, pid: str, want: int, arrivals: dict[int, float]) -> None:
    msg = {
        "msgtype": "subscribechannelmsg",
        "processid": pid,
        "name": "bench",
        "afterseq": 0,
        "timeout": 600,
    }
    async with (
        http_session() as session,
        session.ws_connect(url.replace("http", "ws") + "/pubsub", max_msg_size=0) as ws,
    ):
        await ws.send_str(encode_request(msg, key).decode())
        while len(arrivals) < want:
            frame = await ws.receive()
            now = time.monotonic()
            entries = json.loads(base64.b64decode(json.loads(frame.data)["payload"]))
            for entry in entries:
                seq = entry["sequence"]
                sent = struct.unpack("d", base64.b64decode(entry["payload"]))[0]
                arrivals[seq] = now - sent


def _report(
    messages: int,
    writers: int,
    one: tuple[list[float], float],
    many: tuple[list[float], float],
    arrivals: dict[int, float],
) -> None:
    print(
        f"channel across 2 replicas, {messages} sequential + {writers}x{messages} "
        "concurrent appends"
    )
    print(_summary("append request, 1 writer", one[0]))
    print(f"  rate, 1 writer: {one[1]:.0f} appends/s")
    print(_summary(f"append request, {writers} writers", many[0]))
    print(f"  rate, {writers} writers: {many[1]:.0f} appends/s")
    late = [arrivals[s] for s in range(1, messages + 1)]
    print(_summary("append sent on A -> entry at follower on B, 1 writer", late))
    print(_summary(f"same, all {len(arrivals)} entries", list(arrivals.values())))


async def main(messages: int, writers: int) -> None:
    pg = BenchPostgres()
    pg.start()
    url = pg.new_database("channels")
    replicas = [ServerProcess(url, pg.root), ServerProcess(url, pg.root)]
    replicas[1].server_prvkey = replicas[0].server_prvkey
    try:
        async with http_session() as session:
            for replica in replicas:  # one after the other: the second one leads
                replica.start()
                await replica.wait_ready(session)
            a_url, b_url = replicas[0].url, replicas[1].url
            colony = await make_colony(session, a_url, replicas[0].server_prvkey, executors=2)
            name = f"bench-{colony.colonyid[:8]}"
            submitter = ColoniesClient(a_url, colony.executor_keys[0], session=session)
            assignee = ColoniesClient(b_url, colony.executor_keys[1], session=session)
            spec = {
                "funcname": "talk",
                "channels": ["bench"],
                "conditions": {"colonyname": name, "executortype": "bench"},
            }
            pid = (await submitter.rpc("submitfuncspecmsg", spec=spec))["processid"]
            await assignee.rpc("assignprocessmsg", colonyname=name, timeout=10)

            arrivals: dict[int, float] = {}
            total = messages * (1 + writers)
            follower = asyncio.create_task(
                _follow(b_url, colony.executor_keys[1], pid, total, arrivals)
            )
            await asyncio.sleep(0.5)  # the follower is connected and has read the empty log
            append_times: list[float] = []

            async def append(seq: int) -> None:
                started = time.monotonic()
                payload = list(struct.pack("d", time.monotonic()))
                await submitter.rpc(
                    "channelappendmsg", processid=pid, name="bench", sequence=seq, payload=payload
                )
                append_times.append(time.monotonic() - started)

            started = time.monotonic()
            for seq in range(1, messages + 1):  # one writer, one append at a time
                await append(seq)
            sequential_rate = messages / (time.monotonic() - started)
            sequential = list(append_times)

            append_times.clear()
            started = time.monotonic()

            async def writer(index: int) -> None:
                base = messages * (index + 1)
                for seq in range(base + 1, base + messages + 1):
                    await append(seq)

            await asyncio.gather(*(writer(i) for i in range(writers)))
            concurrent_rate = messages * writers / (time.monotonic() - started)
            await asyncio.wait_for(follower, 120)

            _report(
                messages,
                writers,
                (sequential, sequential_rate),
                (append_times, concurrent_rate),
                arrivals,
            )
    finally:
        for replica in replicas:
            replica.stop()
        pg.stop()


def _args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--writers", type=int, default=4)
    return parser.parse_args()


if __name__ == "__main__":
    args = _args()
    asyncio.run(main(args.messages, args.writers))
