"""One colonies-ha replica: database, events, leadership, scans and the HTTP server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from colonies_ha.api.app import build_app
from colonies_ha.cluster.events import EventHub
from colonies_ha.cluster.raft import RaftLeadership
from colonies_ha.cluster.standalone import StandaloneLeadership
from colonies_ha.config import ServerConfig
from colonies_ha.scans.deadlines import sweep_deadlines
from colonies_ha.scans.runner import ScanRunner
from colonies_ha.scans.schedules import fire_crons, trigger_generators
from colonies_ha.services.context import Context
from colonies_ha.store.db import Database
from colonies_ha.store.replication import check_replication

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A setting that makes the replica unsafe or unable to start."""


class UnsafeDatabase(ConfigError):
    """The database would lose acknowledged commits on a failover, and that was refused."""


def check_config(config: ServerConfig) -> None:
    if config.raft_self and not config.cluster_secret and not config.dev_mode:
        raise ConfigError(
            "a cluster secret is required when running with Raft peers: the Raft transport "
            "carries pickled data, so anyone reaching its port could run code "
            "(set COLONIES_CLUSTER_SECRET or --cluster-secret)"
        )
    if config.raft_self and ":" not in config.raft_self:
        raise ConfigError(f"--raft-self must be host:port, got '{config.raft_self}'")
    if config.workers > 1 and config.port and config.relay_port_or_default == config.port:
        raise ConfigError("--relay-port must differ from the API port")


class Replica:
    """Start with `await start()`, stop with `await stop()`; `url` is the API base."""

    def __init__(self, config: ServerConfig) -> None:
        check_config(config)
        self.config = config
        self.db = Database(
            config.database_url,
            min_size=config.process_pool_min,
            max_size=config.process_pool_max,
        )
        self.events = EventHub(config.database_url)
        self.leadership: RaftLeadership | StandaloneLeadership
        if config.raft_self:
            self.leadership = RaftLeadership(
                self.db,
                self_address=config.raft_self,
                peers=config.raft_peers,
                secret=config.cluster_secret,
                node_name=config.node_name,
                api_url="",
                data_dir=Path(config.raft_data_dir) if config.raft_data_dir else None,
            )
        else:
            self.leadership = StandaloneLeadership(self.db, config.node_name)
        self.ctx = Context(
            self.db, self.events, self.leadership, config.server_id, config.node_name
        )
        self.scans = ScanRunner(
            self.ctx,
            {"deadlines": sweep_deadlines, "generators": trigger_generators, "crons": fire_crons},
            config.scan_interval,
        )
        self._runner: web.AppRunner | None = None
        self.port = config.port
        self.relay_port = config.relay_port_or_default  # used only with workers > 1

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        return f"http://{host}:{self.port}"

    @property
    def advertised_url(self) -> str:
        """Where other replicas forward to: the flag, else the Raft host with our API port;
        with workers, that host with the relay port, which only this process binds."""
        if self.config.advertise_url:
            url = self.config.advertise_url
        elif self.config.raft_self:
            url = f"http://{self.config.raft_self.rsplit(':', 1)[0]}:{self.port}"
        else:
            url = self.url
        if self.config.workers == 1:
            return url
        parts = urlsplit(url)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return parts._replace(netloc=f"{host}:{self.relay_port}").geturl()

    @property
    def local_relay_url(self) -> str:
        """The relay port on loopback: where this replica's workers reach this process."""
        return f"http://127.0.0.1:{self.relay_port}"

    async def start(self, before_serving: Callable[[], Awaitable[None]] | None = None) -> None:
        """Start everything; with workers, `before_serving` (starting them) runs once the
        relay port serves and before this process listens on the API port (unless that port
        is 0 and must be bound first to be known), so that no client connection is accepted
        while the port has fewer processes behind it than configured."""
        await self.db.open()
        try:
            await self._check_replication()
        except BaseException:
            await self.db.close()
            raise
        await self.events.start()
        app = build_app(self.ctx, max_body_bytes=self.config.max_body_bytes)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        workers = self.config.workers > 1
        api_first = not workers or self.port == 0
        if api_first:
            await self._listen_api(reuse_port=workers)
        if workers:  # the relay port: this process alone, so relays reach the epoch's holder
            self.relay_port = await _start_site(self._runner, self.config.host, self.relay_port)
        if isinstance(self.leadership, RaftLeadership):
            self.leadership.api_url = self.advertised_url
        await self.leadership.start()
        self.scans.start()
        if before_serving is not None:
            await before_serving()
        if not api_first:
            await self._listen_api(reuse_port=True)
        log.info("colonies-ha replica %s serving on %s", self.config.node_name, self.url)

    async def _check_replication(self) -> None:
        """Say loudly (or refuse, with --require-sync-replication) when a database failover
        could lose acknowledged commits."""
        problems = await check_replication(self.db)
        if not problems:
            log.info("database: synchronous replication confirmed; commits survive a failover")
            return
        text = "; ".join(problems)
        if self.config.require_sync_replication:
            raise UnsafeDatabase(
                f"refusing to start (--require-sync-replication): {text}. "
                "See docs/database-failover.md."
            )
        if self.config.dev_mode:
            log.info("database without synchronous replication (fine for dev): %s", text)
            return
        log.warning(
            "!!! DATABASE NOT SAFE FOR FAILOVER: %s. A promoted standby may lack acknowledged "
            "claims, closes and fencing-epoch bumps. Configure a synchronous standby or pass "
            "--require-sync-replication to refuse to start; see docs/database-failover.md !!!",
            text,
        )

    async def _listen_api(self, *, reuse_port: bool) -> None:
        assert self._runner is not None
        self.port = await _start_site(
            self._runner, self.config.host, self.port, reuse_port=reuse_port
        )

    async def stop(self, after_handover: Callable[[], Awaitable[None]] | None = None) -> None:
        """Hand leadership over, run `after_handover` (stopping the workers), stop scans, then
        close connections and the database."""
        await self.leadership.stop()
        if after_handover is not None:
            await after_handover()
        await self.scans.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.events.stop()
        await self.db.close()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


async def _start_site(
    runner: web.AppRunner, host: str, port: int, *, reuse_port: bool = False
) -> int:
    """Listen on host:port (0: any free port, returned) with the runner's app."""
    site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=reuse_port or None)
    await site.start()
    if port:
        return port
    server = site._server
    assert server is not None and server.sockets
    return int(server.sockets[0].getsockname()[1])
