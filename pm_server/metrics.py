"""Prometheus metrics of one server (``GET /metrics``), in a registry of its own.

Besides pm's own counters: the process (CPU, memory, file descriptors) and
platform (Python version) collectors, and the storage read at scrape time
(:class:`StorageCollector`): tenants by state, write queue depths and WAL
sizes, as totals and, for the few largest, per tenant. No ``_created`` series
(one per counter and histogram, twice the output for nothing a dashboard uses).
``GET /metrics`` answers in the OpenMetrics format when the ``Accept`` header
asks for it, else in the Prometheus text format.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Final

import prometheus_client
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pm_db.database import TenantDatabase
from pm_db.paths import sidecar

# Process-wide in prometheus_client: every registry of this process, pm's only.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

#: Tenants named in the per-tenant series (the deepest queues, the largest WALs).
TOP_TENANTS: Final = 10

#: Commit group sizes: one write alone up to the writer's largest group (256).
BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: Commit times: a group of small writes takes well under a millisecond; fsync (FULL) more.
COMMIT_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.connections = Gauge(
            "pm_connections", "Open WebSocket connections", registry=self.registry
        )
        self.open_tenants = Gauge(
            "pm_open_tenants", "Tenant databases currently open", registry=self.registry
        )
        self.commands = Counter(
            "pm_commands",
            "Commands handled, by command and outcome (ok or the error code)",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "pm_command_seconds",
            "Time from decoding a command to queueing its reply",
            ["command"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.events_published = Counter(
            "pm_events_published", "Events published to the hub", registry=self.registry
        )
        self.slow_consumer_closes = Counter(
            "pm_slow_consumer_closes",
            "Connections closed because they did not read their events",
            registry=self.registry,
        )
        self.connections_refused = Counter(
            "pm_connections_refused",
            "WebSocket upgrades refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.commit_batch_size = Histogram(
            "pm_commit_batch_size",
            "Writes committed together in one transaction of a tenant's writer",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "pm_commit_seconds",
            "Time to run and commit one group of writes",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )

    def track_open_tenants(self, count: Callable[[], int]) -> None:
        self.open_tenants.set_function(count)

    def observe_commit(self, writes: int, seconds: float) -> None:
        self.commit_batch_size.observe(writes)
        self.commit_seconds.observe(seconds)

    async def handler(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})


class StorageCollector(Collector):
    """The tenants' storage, read when scraped (nothing is kept between scrapes)."""

    def __init__(
        self,
        counts: Callable[[], dict[str, int]],
        databases: Callable[[], Iterable[TenantDatabase]],
        top: int = TOP_TENANTS,
    ) -> None:
        self._counts = counts
        self._databases = databases
        self._top = top

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (auto_describe must not call collect)

    def collect(self) -> Iterator[Metric]:
        tenants = GaugeMetricFamily(
            "pm_tenants",
            "Tenants by state: open, opening, closing, maintenance (released for an operator's "
            "restore or delete), out_of_service (damaged)",
            labels=["state"],
        )
        for state, count in self._counts().items():
            tenants.add_metric([state], count)
        yield tenants

        databases = list(self._databases())
        queues = [(db.queued_writes, db.tenant_id) for db in databases]
        wals = [(_wal_bytes(db.path), db.tenant_id) for db in databases]
        yield from _total_and_top(
            "pm_write_queue_depth",
            "Writes queued for the tenants' writers",
            queues,
            self._top,
        )
        yield from _total_and_top(
            "pm_wal_bytes", "Bytes of the open tenants' write-ahead logs", wals, self._top
        )


def _total_and_top(
    name: str, documentation: str, values: list[tuple[int, str]], top: int
) -> Iterator[Metric]:
    """``name`` summed over tenants, its maximum, and ``pm_tenant_<...>{tenant}`` for the
    ``top`` largest non-zero values (a bounded number of series however many tenants)."""
    yield GaugeMetricFamily(name, f"{documentation}, all tenants", sum(v for v, _ in values))
    yield GaugeMetricFamily(
        f"{name}_max",
        f"{documentation}, the largest of one tenant",
        max((v for v, _ in values), default=0),
    )
    per_tenant = GaugeMetricFamily(
        f"pm_tenant_{name.removeprefix('pm_')}",
        f"{documentation}, of the {top} tenants with the most",
        labels=["tenant"],
    )
    for value, tenant_id in heapq.nlargest(top, (item for item in values if item[0] > 0)):
        per_tenant.add_metric([tenant_id], value)
    yield per_tenant


def _wal_bytes(path: Path) -> int:
    try:
        return sidecar(path, "-wal").stat().st_size
    except OSError:  # none yet, or checkpointed away
        return 0
