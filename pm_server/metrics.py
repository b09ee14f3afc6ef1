"""Prometheus metrics of one server (``GET /metrics``), in a registry of its own."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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

    def track_open_tenants(self, count: Callable[[], int]) -> None:
        self.open_tenants.set_function(count)

    async def handler(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
