"""``GET /metrics`` of a real server: process and platform series, no ``_created``, the
writers' commit groups and times, tenants by state, WAL bytes and write queues; OpenMetrics
when asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from pm_server.metrics import StorageCollector
from tests.pm_server.conftest import Server, create_project


async def scrape(server: Server, accept: str | None = None) -> tuple[str, str]:
    headers = {"Accept": accept} if accept else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.base_url + "/metrics", headers=headers) as response,
    ):
        assert response.status == 200
        return response.headers["Content-Type"], await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_show_process_storage_and_commits_without_created_series(
    server: Server,
) -> None:
    client = await server.client("acme", "alice")
    for number in range(5):
        await create_project(client, key=f"P{number}", name=f"Project {number}")
    content_type, text = await scrape(server)
    assert content_type.startswith("text/plain")
    assert "_created" not in text
    values = samples(text)
    assert values[("process_open_fds", ())] > 0
    assert values[("process_resident_memory_bytes", ())] > 0
    assert any(name == "python_info" for name, _ in values)
    # Five projects and the user row written on connect: six writes, in groups of one or more.
    writes = values[("pm_commit_batch_size_sum", ())]
    assert writes >= 6
    assert 1 <= values[("pm_commit_batch_size_count", ())] <= writes
    assert values[("pm_commit_seconds_count", ())] == values[("pm_commit_batch_size_count", ())]
    assert values[("pm_tenants", (("state", "open"),))] == 1
    assert values[("pm_tenants", (("state", "out_of_service"),))] == 0
    assert values[("pm_wal_bytes", ())] > 0
    assert values[("pm_tenant_wal_bytes", (("tenant", "acme"),))] == values[("pm_wal_bytes", ())]
    assert values[("pm_write_queue_depth", ())] == 0  # nothing waits once every reply came


async def test_metrics_answer_openmetrics_when_the_accept_header_asks(server: Server) -> None:
    await server.client()
    content_type, text = await scrape(
        server, "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
    )
    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    assert "_created" not in text
    assert "pm_connections 1.0" in text


@dataclass
class FakeDatabase:
    tenant_id: str
    queued_writes: int
    path: Path


def test_storage_collector_names_only_the_top_tenants_and_sums_all(tmp_path: Path) -> None:
    databases = []
    for number in range(15):
        path = tmp_path / f"t{number}.db"
        path.with_name(path.name + "-wal").write_bytes(b"w" * number)
        databases.append(FakeDatabase(f"t{number}", queued_writes=number % 5, path=path))
    collector = StorageCollector(
        lambda: {"open": 15, "opening": 0, "closing": 1, "out_of_service": 2},
        lambda: databases,  # type: ignore[arg-type, return-value]
        top=3,
    )
    values = {
        (sample.name, tuple(sample.labels.items())): sample.value
        for family in collector.collect()
        for sample in family.samples
    }
    assert values[("pm_tenants", (("state", "closing"),))] == 1
    assert values[("pm_wal_bytes", ())] == sum(range(15))
    assert values[("pm_wal_bytes_max", ())] == 14
    named = {labels[0][1] for name, labels in values if name == "pm_tenant_wal_bytes"}
    assert named == {"t14", "t13", "t12"}
    assert values[("pm_write_queue_depth", ())] == 3 * (0 + 1 + 2 + 3 + 4)
    assert values[("pm_write_queue_depth_max", ())] == 4
    queued = [labels for name, labels in values if name == "pm_tenant_write_queue_depth"]
    assert len(queued) == 3
    assert all(values[("pm_tenant_write_queue_depth", labels)] == 4 for labels in queued)
