"""Real replica processes on loopback: start, kill -9, pause, resume. Used by the cluster
tests and the chaos checker."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from colonies_ha.client import ColoniesClient
from colonies_ha.embedded_pg import children_of
from colonies_ha.protocol.crypto import generate_private_key, id_of_private_key

SECRET = "local-cluster-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReplicaProcess:
    name: str
    api_port: int
    raft_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def raft_address(self) -> str:
        return f"127.0.0.1:{self.raft_port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def responsive(self) -> bool:
        """Running and not frozen by SIGSTOP: worth sending a request to."""
        return self.alive and not self.paused


@dataclass
class Cluster:
    database_url: str
    workdir: Path
    size: int = 3
    server_prvkey: str = field(default_factory=generate_private_key)
    replicas: list[ReplicaProcess] = field(default_factory=list)
    secret: str = SECRET
    workers: int = 1  # processes per replica (`server --workers`)

    def __post_init__(self) -> None:
        for index in range(self.size):
            self.replicas.append(self._new_replica(f"replica-{index}"))

    def _new_replica(self, name: str) -> ReplicaProcess:
        return ReplicaProcess(name, free_port(), free_port(), self.workdir / f"{name}.log")

    def command(self, replica: ReplicaProcess, verb: str = "server") -> list[str]:
        peers = ",".join(r.raft_address for r in self.replicas if r is not replica)
        return [
            sys.executable,
            "-m",
            "colonies_ha",
            "--log-level",
            "INFO",
            verb,
            "--host",
            "127.0.0.1",
            "--port",
            str(replica.api_port),
            "--server-id",
            id_of_private_key(self.server_prvkey),
            "--database-url",
            self.database_url,
            "--node-name",
            replica.name,
            "--raft-self",
            replica.raft_address,
            "--peers",
            peers,
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]

    def start(
        self,
        replica: ReplicaProcess,
        *,
        verb: str = "server",
        extra: list[str] | None = None,
        secret: str | None = None,
    ) -> None:
        env = dict(os.environ, COLONIES_CLUSTER_SECRET=self.secret if secret is None else secret)
        log = replica.log_path.open("ab")
        replica.paused = False
        replica.process = subprocess.Popen(
            [*self.command(replica, verb), *(extra or [])],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_all(self) -> None:
        for replica in self.replicas:
            self.start(replica)

    def kill(self, replica: ReplicaProcess) -> None:
        assert replica.process is not None
        replica.process.send_signal(signal.SIGKILL)
        replica.process.wait()

    def pids(self, replica: ReplicaProcess) -> tuple[int, ...]:
        """The replica's processes: its primary, then its serving workers (the children)."""
        assert replica.process is not None
        return (replica.process.pid, *children_of(replica.process.pid))

    def kill_worker(self, replica: ReplicaProcess, rng: random.Random) -> int:
        """SIGKILL one serving worker of the replica (a child process); returns its pid."""
        pids = self.pids(replica)[1:]
        if not pids:
            raise RuntimeError(f"{replica.name} has no serving worker to kill (--workers 1?)")
        victim = rng.choice(pids)
        os.kill(victim, signal.SIGKILL)
        return victim

    def pause(self, replica: ReplicaProcess) -> None:
        """Freeze the replica with its serving workers (its process group), like a paused
        machine or container."""
        assert replica.process is not None
        os.killpg(replica.process.pid, signal.SIGSTOP)
        replica.paused = True

    def resume(self, replica: ReplicaProcess) -> None:
        assert replica.process is not None
        os.killpg(replica.process.pid, signal.SIGCONT)
        replica.paused = False

    def stop_all(self) -> None:
        for replica in self.replicas:
            if replica.process is not None and replica.process.poll() is None:
                os.killpg(replica.process.pid, signal.SIGCONT)
                replica.process.terminate()
        for replica in self.replicas:
            if replica.process is not None:
                try:
                    replica.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    replica.process.kill()
                    replica.process.wait()

    def logs(self) -> str:
        return "\n".join(
            f"--- {r.name}\n{r.log_path.read_text()[-3000:]}"
            for r in self.replicas
            if r.log_path.exists()
        )

    def owner(self, replica: ReplicaProcess, session: aiohttp.ClientSession) -> ColoniesClient:
        return ColoniesClient(replica.url, self.server_prvkey, session=session)

    async def leaders(
        self, session: aiohttp.ClientSession, probe_timeout: float = 2.0
    ) -> dict[str, str | None]:
        """Each responsive replica's view of the leader's Raft address (None if unknown)."""

        async def view(replica: ReplicaProcess) -> str | None:
            try:
                async with asyncio.timeout(probe_timeout):
                    cluster = await self.owner(replica, session).get_cluster()
            except Exception:
                return None
            return cluster["leader"].get("raftaddress") or None

        responsive = [r for r in self.replicas if r.responsive]
        found = await asyncio.gather(*(view(r) for r in responsive))
        return {r.name: address for r, address in zip(responsive, found, strict=True)}

    async def wait_for_agreed_leader(
        self, session: aiohttp.ClientSession, within: float = 30.0
    ) -> ReplicaProcess:
        """Await a moment when every live replica names the same live leader."""
        deadline = time.monotonic() + within
        while True:
            views = await self.leaders(session)
            named = set(views.values())
            if len(named) == 1 and None not in named:
                (address,) = named
                leader = next((r for r in self.replicas if r.raft_address == address), None)
                if (
                    leader is not None
                    and leader.responsive
                    and await self._is_serving(leader, session)
                ):
                    return leader
            if time.monotonic() > deadline:
                raise AssertionError(f"no agreed leader: {views}\n{self.logs()}")
            await asyncio.sleep(0.1)

    async def _is_serving(self, replica: ReplicaProcess, session: aiohttp.ClientSession) -> bool:
        try:
            async with asyncio.timeout(2.0), session.get(f"{replica.url}/ready") as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False
