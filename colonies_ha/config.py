"""Server settings, read from flags or the upstream COLONIES_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PORT = 50080
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_NODE_NAME = "colonies-ha"


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
