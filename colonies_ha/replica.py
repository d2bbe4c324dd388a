"""One colonies-ha replica: database, events, leadership, scans and the HTTP server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

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


class Replica:
    """Start with `await start()`, stop with `await stop()`; `url` is the API base."""

    def __init__(self, config: ServerConfig) -> None:
        check_config(config)
        self.config = config
        self.db = Database(config.database_url, min_size=config.pool_min, max_size=config.pool_max)
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

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        return f"http://{host}:{self.port}"

    @property
    def advertised_url(self) -> str:
        """Where other replicas forward to: the flag, else the Raft host with our API port."""
        if self.config.advertise_url:
            return self.config.advertise_url
        if self.config.raft_self:
            return f"http://{self.config.raft_self.rsplit(':', 1)[0]}:{self.port}"
        return self.url

    async def start(self) -> None:
        await self.db.open()
        try:
            await self._check_replication()
        except BaseException:
            await self.db.close()
            raise
        await self.events.start()
        await self._start_http()
        if isinstance(self.leadership, RaftLeadership):
            self.leadership.api_url = self.advertised_url
        await self.leadership.start()
        self.scans.start()
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

    async def _start_http(self) -> None:
        app = build_app(self.ctx, max_body_bytes=self.config.max_body_bytes)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        if self.config.port == 0:
            server = site._server
            assert server is not None and server.sockets
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Hand leadership over, stop scans, then close connections and the database."""
        await self.leadership.stop()
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
