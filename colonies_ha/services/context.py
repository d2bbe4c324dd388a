"""What every use case needs: the database, the event hub, leadership and configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from colonies_ha.cluster.events import EventHub
from colonies_ha.observability.metrics import Metrics
from colonies_ha.services.coalesce import Batches
from colonies_ha.services.member_cache import MemberCache
from colonies_ha.store.db import Database


class Leadership(Protocol):
    """Who leads; see colonies_ha.cluster for the implementations."""

    @property
    def epoch(self) -> int | None:
        """The fencing epoch this replica holds while it leads, else None."""

    def leader_address(self) -> str | None:
        """The current leader's Raft address (or node name when alone), None if unknown."""

    def leader_api_url(self) -> str | None:
        """Where leader-only requests go: None when this replica leads or none is known."""

    def lost(self, epoch: int) -> None:
        """A fenced transaction found `epoch` superseded: stop acting as leader."""

    async def wait_for_leader_url(self, within: float) -> str | None:
        """The leader's API URL once one is known (None if we lead or none appears)."""

    def status(self) -> dict[str, Any]:
        """Members, leader, term and epoch, for cluster status and getclustermsg."""


@dataclass(slots=True)
class Context:
    db: Database
    events: EventHub
    leadership: Leadership
    server_id: str
    node_name: str = "colonies-ha"
    metrics: Metrics = field(default_factory=Metrics)
    batches: Batches = field(default_factory=Batches)  # group commit of hot requests
    members: MemberCache[Any] = field(init=False)  # admissions of submit and assign

    def __post_init__(self) -> None:
        self.members = MemberCache(self.events)
