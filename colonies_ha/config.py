"""Server settings, read from flags or the upstream COLONIES_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PORT = 50080
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_NODE_NAME = "colonies-ha"
# With --workers N > 1 the primary process also listens on the API port + this, unless
# --relay-port says otherwise: the port other replicas relay assigns to, and on which the
# primary's own workers follow its view of the leadership.
RELAY_PORT_OFFSET = 1000


@dataclass(slots=True)
class ServerConfig:
    database_url: str
    server_id: str
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    node_name: str = DEFAULT_NODE_NAME
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    pool_min: int = 2
    pool_max: int = 20
    scan_interval: float = 1.0
    # Raft; empty raft_self means a single replica that leads on its own.
    raft_self: str = ""
    raft_peers: list[str] = field(default_factory=list)
    cluster_secret: str = ""
    raft_data_dir: str = ""
    dev_mode: bool = False
    advertise_url: str = ""
    # Refuse to start on a primary that does not wait for a synchronous standby.
    require_sync_replication: bool = False
    # Processes serving the API port (SO_REUSEPORT); the first alone holds Raft and the epoch.
    workers: int = 1
    relay_port: int | None = None  # None: port + RELAY_PORT_OFFSET (0 when port is 0)
    # A worker whose event loop leaves the primary's ping unanswered this long is replaced.
    worker_silence_limit: float = 10.0

    @property
    def process_pool_max(self) -> int:
        """One process's share of pool_max: N processes together open no more than one did."""
        return max(2, -(-self.pool_max // self.workers))

    @property
    def process_pool_min(self) -> int:
        return min(self.pool_min, self.process_pool_max)

    @property
    def relay_port_or_default(self) -> int:
        if self.relay_port is not None:
            return self.relay_port
        return self.port + RELAY_PORT_OFFSET if self.port else 0
