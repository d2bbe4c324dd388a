"""Prometheus metrics of one replica.

Each replica owns its registry (tests run several replicas in one process; the global
registry would mix them).  Counters and histograms are updated where things happen; the
gauges that describe state (leadership, queue depth, pool use) are read at scrape time from
a snapshot the /metrics handler takes just before rendering, so they are never stale.

A replica with serving workers (`--workers`) is several processes behind one port, each with
its own registry.  Each worker pushes its exposition to the primary every second; /metrics,
on whichever process the scrape lands, answers with the primary's merge of all of them,
every sample labelled with its `process` (a restarted worker resets only its own series).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

PROCESS_LABEL = "process"
PRIMARY_PROCESS = "primary"
# Read from the database or Raft by the primary: the replica's, not a process's, so a
# merged exposition takes them from the primary alone.
REPLICA_WIDE = frozenset(
    {
        "colonies_processes",
        "colonies_fencing_epoch",
        "colonies_metrics_database_up",
        "colonies_raft_term",
    }
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass
class Snapshot:
    """State gauges, gathered asynchronously by the scrape handler."""

    leader: bool = False
    term: int = 0
    epoch: int = 0
    database_up: bool = True  # False: the database part (epoch, queue) could not be read
    pool: dict[str, int] = field(default_factory=dict)
    queue: list[dict[str, Any]] = field(default_factory=list)
    # Group commit, by kind (submit, close, claim, executor): (batches run, requests carried).
    batches: dict[str, tuple[int, int]] = field(default_factory=dict)


class _StateCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self._metrics.snapshot
        yield GaugeMetricFamily(
            "colonies_leader",
            "1 while this replica leads (holds the fencing epoch)",
            value=1 if snap.leader else 0,
        )
        yield GaugeMetricFamily(
            "colonies_raft_term", "Raft term this replica is in", value=snap.term
        )
        yield GaugeMetricFamily(
            "colonies_fencing_epoch", "Fencing epoch in the database", value=snap.epoch
        )
        yield GaugeMetricFamily(
            "colonies_metrics_database_up",
            "1 if this scrape could read the database (fencing epoch, queue depth)",
            value=1 if snap.database_up else 0,
        )
        pool = GaugeMetricFamily(
            "colonies_db_pool_connections", "Database pool connections by use", labels=["use"]
        )
        size = snap.pool.get("pool_size", 0)
        available = snap.pool.get("pool_available", 0)
        pool.add_metric(["open"], size)
        pool.add_metric(["idle"], available)
        pool.add_metric(["busy"], max(size - available, 0))
        pool.add_metric(["waiting_requests"], snap.pool.get("requests_waiting", 0))
        yield pool
        queue = GaugeMetricFamily(
            "colonies_processes",
            "Waiting and running processes by colony, executor type and state",
            labels=["colonyid", "executortype", "state"],
        )
        for row in snap.queue:
            queue.add_metric([row["colonyid"], row["executortype"], row["state"]], row["count"])
        yield queue
        yield GaugeMetricFamily(
            "colonies_gc_frozen_objects",
            "Objects of this process kept out of the garbage collector's full collections "
            "(its heap once it served; 0 if it never froze it)",
            value=gc.get_freeze_count(),
        )
        batches = CounterMetricFamily(
            "colonies_coalesced_batches",
            "Statements that served coalesced requests (group commit), by kind",
            labels=["kind"],
        )
        requests = CounterMetricFamily(
            "colonies_coalesced_requests",
            "Requests served by those statements, by kind (÷ batches: the mean batch size)",
            labels=["kind"],
        )
        for kind, (count, items) in sorted(snap.batches.items()):
            batches.add_metric([kind], count)
            requests.add_metric([kind], items)
        yield batches
        yield requests


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.snapshot = Snapshot()
        r = self.registry
        self.requests = Counter(
            "colonies_requests",
            "RPC requests by message type and HTTP status",
            ["msgtype", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "colonies_request_duration_seconds",
            "RPC latency by message type (long polls included)",
            ["msgtype"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.assign_wait_seconds = Histogram(
            "colonies_assign_wait_seconds",
            "How long a successful assign waited for a process (served on this replica)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.processes_closed = Counter(
            "colonies_processes_closed",
            "Processes closed by their executor, by final state",
            ["state"],
            registry=r,
        )
        self.scan_actions = Counter(
            "colonies_scan_actions",
            "Leader scan actions: deadline resets/failures, cron firings, generator workflows",
            ["scan"],
            registry=r,
        )
        self.deadline_resets = Counter(
            "colonies_deadline_resets",
            "Runs past maxexectime put back to waiting by the deadline scan (retries + 1)",
            registry=r,
        )
        self.deadline_failures = Counter(
            "colonies_deadline_failures",
            "Processes the deadline scan failed: past maxexectime with no retries left, past "
            "maxwaittime, or the rest of such a process's workflow",
            registry=r,
        )
        self.forwarded = Counter(
            "colonies_forwarded_requests",
            "Leader-only requests this replica relayed, by outcome",
            ["outcome"],
            registry=r,
        )
        r.register(_StateCollector(self))
        # With serving workers: on the primary, each worker's latest metrics by process
        # name; on a worker, where the primary answers /metrics for the replica.
        self.worker_families: dict[str, list[Metric]] = {}
        self.primary_url: str | None = None

    def render(self) -> bytes:
        """This process's exposition."""
        return generate_latest(self.registry)

    def render_replica(self) -> bytes:
        """This process's exposition, merged with its workers' if it has any."""
        if not self.worker_families:
            return self.render()
        # Parsed from text as the workers' are, so that both name their families alike
        # (the text format splits a counter's `_created` samples into a family of their own).
        own = (PRIMARY_PROCESS, parse_exposition(self.render()))
        return merge([own, *sorted(self.worker_families.items())])


def parse_exposition(text: bytes) -> list[Metric]:
    """A worker's exposition as metric families; ValueError (or UnicodeDecodeError) if it is
    not the text format."""
    return list(text_string_to_metric_families(text.decode()))


def merge(parts: list[tuple[str, list[Metric]]]) -> bytes:
    """One exposition of several processes' (process name, metric families): every sample
    gets a `process` label; the replica-wide families come from the first part only."""
    families: dict[str, Metric] = {}
    for index, (process, found) in enumerate(parts):
        for family in found:
            if index and family.name in REPLICA_WIDE:
                continue
            merged = families.get(family.name)
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name] = merged
            merged.samples.extend(
                sample._replace(labels={**sample.labels, PROCESS_LABEL: process})
                for sample in family.samples
            )
    registry = CollectorRegistry()
    registry.register(_Fixed(list(families.values())))
    return generate_latest(registry)


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)
