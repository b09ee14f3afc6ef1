"""Webhook deliveries end to end: a local receiver that fails 30 % of the posts gets every
event of 1,000 mutations, in order, across a restart of the server, each signed so that
the verification example of docs/webhooks.md accepts it."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2
from pm_server.webhooks.worker import ACK_EVERY
from tests.pm_server.conftest import Server, create_project, start_server
from tests.pm_server.webhook_receiver import Received, receiving
from tests.pm_server.wsclient import WsClient

DOC = Path(__file__).parents[2] / "docs" / "webhooks.md"
SECRET = "test-secret-0123456789"
SETTINGS: dict[str, Any] = {
    "webhook_allow_private": True,  # the receiver listens on 127.0.0.1
    "webhook_retry_base_seconds": 0.002,
    "webhook_retry_max_seconds": 0.01,
    "webhook_max_failures": 10_000,
}
MUTATIONS = 1_000


def doc_verify() -> Any:
    """The ``verify`` function of docs/webhooks.md, as written there."""
    text = DOC.read_text()
    section = text[text.index("## Verifying a delivery") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "docs/webhooks.md lost its verification example"
    assert len(match.group(1).strip().splitlines()) <= 10
    namespace: dict[str, Any] = {}
    exec(match.group(1), namespace)
    return namespace["verify"]


async def create_items(client: WsClient, project_id: str, count: int, start: int) -> None:
    for first in range(start, start + count, 50):
        await asyncio.gather(
            *(
                client.request(
                    "create_work_item",
                    commands_pb2.CreateWorkItem(
                        project_id=project_id,
                        type=entities_pb2.WORK_ITEM_TYPE_TASK,
                        title=f"task {n}",
                    ),
                )
                for n in range(first, min(first + 50, start + count))
            )
        )


async def latest_seq(server: Server, tenant: str = "acme") -> int:
    async with server.state.databases.use(tenant) as db:
        return await db.read(lambda uow: uow.events.latest_seq())


async def test_every_event_of_1000_mutations_arrives_in_order_across_a_restart(
    tmp_path: Path,
) -> None:
    verify = doc_verify()
    rng = random.Random(1616)

    def flaky(_: Received) -> int:
        return 500 if rng.random() < 0.3 else 204

    data_dir = tmp_path / "data"
    async with receiving(flaky) as receiver:
        server, runner = await start_server(data_dir, **SETTINGS)
        try:
            admin = await server.client("acme", "alice", admin=True)
            project = await create_project(admin, "WH")
            created = await admin.request(
                "create_webhook",
                commands_pb2.CreateWebhook(name="receiver", url=receiver.url, secret=SECRET),
            )
            webhook = created.webhook.webhook
            assert created.webhook.secret == ""  # the caller's own secret is not echoed
            first = webhook.acked_seq + 1
            await create_items(admin, project.id, MUTATIONS // 2, 0)
            # Some of the first half delivered, the rest still to come: restart now.
            await receiver.until(lambda r: len(r.taken) >= 100)
        finally:
            await admin.close()
            await runner.cleanup()
        delivered_before_restart = len(receiver.taken)

        server, runner = await start_server(data_dir, **SETTINGS)
        try:
            admin = await server.client("acme", "alice", admin=True)
            await create_items(admin, project.id, MUTATIONS - MUTATIONS // 2, MUTATIONS // 2)
            last = await latest_seq(server)
            expected = list(range(first, last + 1))
            assert len(expected) == MUTATIONS
            await receiver.until(lambda r: {x.seq for x in r.taken} >= set(expected), timeout=120)
            log = await admin.request(
                "list_webhook_deliveries",
                commands_pb2.ListWebhookDeliveries(webhook_id=webhook.id, limit=1_000),
            )
            listed = await admin.request("list_webhooks", commands_pb2.ListWebhooks())
        finally:
            await admin.close()
            await runner.cleanup()

    taken = [r.seq for r in receiver.taken]
    # Every event once at least, first seen in seq order; nothing else.
    assert list(dict.fromkeys(taken)) == expected
    # In order: the only step back is the restart's redelivery of what was not yet
    # recorded as acknowledged, at most ACK_EVERY events.
    steps_back = [i for i in range(1, len(taken)) if taken[i] < taken[i - 1]]
    assert len(steps_back) <= 1
    assert len(taken) - len(expected) <= ACK_EVERY
    assert delivered_before_restart < MUTATIONS
    # The receiver refused about 30 % of the posts, and each was retried.
    failed = [r for r in receiver.received if r.status >= 300]
    assert len(failed) > 0.2 * len(receiver.received)
    for post in receiver.received:
        assert verify(SECRET, post.headers, post.body), post.headers
        assert post.headers["Pm-Webhook-Id"] == f"{webhook.id}.{post.seq}"
        assert post.event["entityType"] == "ENTITY_TYPE_WORK_ITEM"
        assert post.event["projectId"] == project.id
    assert not verify(
        "another-secret-000000", receiver.received[0].headers, receiver.received[0].body
    )
    tampered = receiver.received[0].body.replace(b"task", b"TASK")
    assert not verify(SECRET, receiver.received[0].headers, tampered)
    # The delivery log holds the attempts, failed ones with their status.
    attempts = log.webhook_deliveries.deliveries
    assert any(not d.ok and d.status_code == 500 and d.error == "HTTP 500" for d in attempts)
    assert any(d.ok and d.status_code == 204 for d in attempts)
    assert listed.webhooks.webhooks[0].acked_seq == last
