"""Webhook endpoints over a real socket: tenant admins only; create (a generated secret
shown once), list (never the secret), update with versions, pause and resume, delete;
private addresses refused when saved and when delivering; filters; disabled after
consecutive failures and resumed; the delivery log and manual redelivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server.webhooks.sender import Sender
from tests.pm_server.conftest import Server, create_project, start_server
from tests.pm_server.webhook_receiver import Received, receiving
from tests.pm_server.wsclient import WsClient

P = commands_pb2
FAST = {
    "webhook_allow_private": True,
    "webhook_retry_base_seconds": 0.002,
    "webhook_retry_max_seconds": 0.01,
}


@pytest.fixture
async def open_server(tmp_path: Path) -> AsyncIterator[Server]:
    server, runner = await start_server(tmp_path / "data", **FAST, webhook_max_failures=3)
    yield server
    for client in server.clients:
        await client.close()
    await runner.cleanup()


@pytest.fixture
async def strict_server(tmp_path: Path) -> AsyncIterator[Server]:
    server, runner = await start_server(tmp_path / "data")  # the defaults: no private address
    yield server
    for client in server.clients:
        await client.close()
    await runner.cleanup()


def code(error: envelope_pb2.Error) -> str:
    return envelope_pb2.ErrorCode.Name(error.code)


async def create_item(client: WsClient, project_id: str, title: str = "t") -> None:
    await client.request(
        "create_work_item",
        P.CreateWorkItem(project_id=project_id, type=entities_pb2.WORK_ITEM_TYPE_TASK, title=title),
    )


async def webhook_of(client: WsClient, webhook_id: str) -> entities_pb2.Webhook:
    listed = await client.request("list_webhooks", P.ListWebhooks())
    return next(w for w in listed.webhooks.webhooks if w.id == webhook_id)


async def test_lifecycle_and_the_secret_shown_once(open_server: Server) -> None:
    admin = await open_server.client("acme", "alice", admin=True)
    created = await admin.request(
        "create_webhook",
        P.CreateWebhook(
            name=" ci ",
            url="http://127.0.0.1:9/hook",
            entity_types=[entities_pb2.ENTITY_TYPE_WORK_ITEM],
            actions=[entities_pb2.ACTION_CREATED, entities_pb2.ACTION_CREATED],
        ),
    )
    secret = created.webhook.secret
    webhook = created.webhook.webhook
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert webhook.name == "ci"
    assert webhook.secret_hint == "…" + secret[-4:]
    assert list(webhook.actions) == [entities_pb2.ACTION_CREATED]
    assert webhook.state == entities_pb2.WEBHOOK_STATE_ACTIVE
    listed = await admin.call("list_webhooks", P.ListWebhooks())
    assert secret not in str(listed)
    assert secret[-8:] not in listed.SerializeToString().decode("utf-8", "replace")

    duplicate = await admin.error(
        "create_webhook", P.CreateWebhook(name="ci", url="http://127.0.0.1:9/other")
    )
    assert code(duplicate) == "CONFLICT"

    updated = await admin.request(
        "update_webhook",
        P.UpdateWebhook(webhook_id=webhook.id, expected_version=1, url="http://127.0.0.1:9/new"),
    )
    assert updated.webhook.webhook.version == 2
    assert updated.webhook.webhook.url == "http://127.0.0.1:9/new"
    assert updated.webhook.secret == ""
    filtered = await admin.request(
        "set_webhook_filters",
        P.SetWebhookFilters(webhook_id=webhook.id, actions=[entities_pb2.ACTION_DELETED]),
    )
    assert list(filtered.webhook.webhook.entity_types) == []
    assert list(filtered.webhook.webhook.actions) == [entities_pb2.ACTION_DELETED]
    mine = await admin.request(
        "rotate_webhook_secret",
        P.RotateWebhookSecret(webhook_id=webhook.id, secret="a-new-secret-of-enough-length"),
    )
    assert mine.webhook.secret == ""
    assert mine.webhook.webhook.secret_hint == "…ngth"
    rotated = await admin.request(
        "rotate_webhook_secret", P.RotateWebhookSecret(webhook_id=webhook.id, expected_version=4)
    )
    assert rotated.webhook.secret.startswith("whsec_")
    assert rotated.webhook.secret != secret
    assert rotated.webhook.webhook.version == 5
    stale = await admin.error(
        "update_webhook", P.UpdateWebhook(webhook_id=webhook.id, expected_version=1, name="x")
    )
    assert code(stale) == "CONFLICT"
    assert stale.current_version == 5
    nothing = await admin.error("update_webhook", P.UpdateWebhook(webhook_id=webhook.id))
    assert code(nothing) == "VALIDATION_ERROR"

    paused = await admin.request("pause_webhook", P.PauseWebhook(webhook_id=webhook.id))
    assert paused.webhook.webhook.state == entities_pb2.WEBHOOK_STATE_PAUSED
    resumed = await admin.request("resume_webhook", P.ResumeWebhook(webhook_id=webhook.id))
    assert resumed.webhook.webhook.state == entities_pb2.WEBHOOK_STATE_ACTIVE
    deleted = await admin.request("delete_webhook", P.DeleteWebhook(webhook_id=webhook.id))
    assert deleted.webhook.webhook.HasField("deleted_at")
    listed_after = await admin.request("list_webhooks", P.ListWebhooks())
    assert list(listed_after.webhooks.webhooks) == []
    gone = await admin.error("pause_webhook", P.PauseWebhook(webhook_id=webhook.id))
    assert code(gone) == "NOT_FOUND"


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("create_webhook", P.CreateWebhook(name="x", url="http://127.0.0.1:9/h")),
        ("list_webhooks", P.ListWebhooks()),
        ("pause_webhook", P.PauseWebhook(webhook_id="w")),
        ("list_webhook_deliveries", P.ListWebhookDeliveries(webhook_id="w")),
        ("redeliver_webhook", P.RedeliverWebhook(webhook_id="w", seq=1)),
    ],
)
async def test_only_tenant_admins_touch_webhooks(
    open_server: Server, name: str, command: object
) -> None:
    member = await open_server.client("acme", "bob")
    error = await member.error(name, command)  # type: ignore[arg-type]
    assert code(error) == "FORBIDDEN"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8700/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://100.64.0.1/hook",
        "http://[::1]/hook",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_private_addresses_are_refused_by_default(strict_server: Server, url: str) -> None:
    admin = await strict_server.client("acme", "alice", admin=True)
    error = await admin.error("create_webhook", P.CreateWebhook(name="in", url=url))
    assert code(error) == "VALIDATION_ERROR"
    assert error.field == "url"
    assert "PM_WEBHOOK_ALLOW_PRIVATE" in error.message
    listed = await admin.request("list_webhooks", P.ListWebhooks())
    assert list(listed.webhooks.webhooks) == []


async def test_a_public_address_is_accepted_by_default(strict_server: Server) -> None:
    admin = await strict_server.client("acme", "alice", admin=True)
    reply = await admin.request(
        "create_webhook", P.CreateWebhook(name="out", url="https://93.184.215.14/hook")
    )
    await admin.request("pause_webhook", P.PauseWebhook(webhook_id=reply.webhook.webhook.id))


async def test_delivery_to_a_name_resolving_to_a_private_address_is_refused() -> None:
    # What a delivery meets when a name saved while public resolves privately later.
    async with receiving() as receiver:
        sender = Sender(timeout=5, allow_private=False)
        try:
            by_name = receiver.url.replace("127.0.0.1", "localhost")
            outcome = await sender.send(by_name, "s" * 16, "w", 1, b"{}")
            literal = await sender.send(receiver.url, "s" * 16, "w", 1, b"{}")
        finally:
            await sender.close()
        assert not outcome.ok
        assert outcome.error == "refused: private or reserved address"
        assert not literal.ok
        assert literal.error == "refused: private or reserved address"
        assert receiver.received == []


async def test_filters_choose_the_events(open_server: Server) -> None:
    admin = await open_server.client("acme", "alice", admin=True)
    wanted = await create_project(admin, "WANT")
    other = await create_project(admin, "OTHER")
    async with receiving() as receiver:
        await admin.request(
            "create_webhook",
            P.CreateWebhook(
                name="deletes",
                url=receiver.url,
                secret="s" * 16,
                project_ids=[wanted.id],
                actions=[entities_pb2.ACTION_UPDATED],
            ),
        )
        await create_item(admin, wanted.id)
        await create_item(admin, other.id)
        await admin.request(
            "update_project", P.UpdateProject(project_id=other.id, description="no")
        )
        await admin.request(
            "update_project", P.UpdateProject(project_id=wanted.id, description="yes")
        )
        await receiver.until(lambda r: len(r.taken) >= 1)
        # Posted in order, so nothing wanted came before it and the rest was skipped.
        await admin.request(
            "update_project", P.UpdateProject(project_id=wanted.id, description="again")
        )
        await receiver.until(lambda r: len(r.taken) >= 2)
    events = [r.event for r in receiver.taken]
    assert [e["project"]["description"] for e in events] == ["yes", "again"]
    assert {e["action"] for e in events} == {"ACTION_UPDATED"}


async def test_disabled_after_consecutive_failures_then_resumed(open_server: Server) -> None:
    admin = await open_server.client("acme", "alice", admin=True)
    project = await create_project(admin, "FAIL")
    healthy = False

    def answer(_: Received) -> int:
        return 200 if healthy else 503

    async with receiving(answer) as receiver:
        created = await admin.request(
            "create_webhook",
            P.CreateWebhook(name="flaky", url=receiver.url, secret="s" * 16),
        )
        webhook_id = created.webhook.webhook.id
        await create_item(admin, project.id, "first")
        await receiver.until(lambda r: len(r.received) >= 3)
        disabled = await webhook_of(admin, webhook_id)
        while disabled.state != entities_pb2.WEBHOOK_STATE_DISABLED:  # written after the post
            await asyncio.sleep(0.01)
            disabled = await webhook_of(admin, webhook_id)
        assert disabled.consecutive_failures == 3
        assert disabled.last_error == "HTTP 503"
        assert len(receiver.received) == 3  # nothing more once disabled
        log = await admin.request(
            "list_webhook_deliveries", P.ListWebhookDeliveries(webhook_id=webhook_id)
        )
        attempts = list(log.webhook_deliveries.deliveries)
        assert [d.attempt for d in attempts] == [3, 2, 1]
        assert all(not d.ok and d.status_code == 503 for d in attempts)

        healthy = True
        await create_item(admin, project.id, "second")
        resumed = await admin.request("resume_webhook", P.ResumeWebhook(webhook_id=webhook_id))
        assert resumed.webhook.webhook.consecutive_failures == 0
        await receiver.until(lambda r: len(r.taken) >= 2)
        titles = [r.event["workItem"]["title"] for r in receiver.taken]
        assert titles == ["first", "second"]

        seq = receiver.taken[0].seq
        again = await admin.request(
            "redeliver_webhook", P.RedeliverWebhook(webhook_id=webhook_id, seq=seq)
        )
        delivery = again.webhook_delivery.delivery
        assert delivery.ok
        assert delivery.manual
        assert delivery.seq == seq
        assert delivery.attempt >= 4  # after the three failures logged for it at least
        assert receiver.received[-1].seq == seq
        missing = await admin.error(
            "redeliver_webhook", P.RedeliverWebhook(webhook_id=webhook_id, seq=10_000)
        )
        assert code(missing) == "NOT_FOUND"
        log = await admin.request(
            "list_webhook_deliveries", P.ListWebhookDeliveries(webhook_id=webhook_id, limit=1)
        )
        assert log.webhook_deliveries.deliveries[0].manual


async def test_a_receiver_slower_than_the_timeout_is_a_failed_delivery() -> None:
    answered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await request.read()
        await answered.wait()  # never set while the sender waits
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    sender = Sender(timeout=0.2, allow_private=True)
    patient = Sender(timeout=600, allow_private=True)
    try:
        outcome = await sender.send(url, "s" * 16, "w", 1, b"{}")
        limited = await patient.send(url, "s" * 16, "w", 1, b"{}", limit=0.2)
    finally:
        answered.set()
        await sender.close()
        await patient.close()
        await runner.cleanup()
    assert not outcome.ok
    assert outcome.error == "timeout"
    assert outcome.status_code is None
    assert not limited.ok
    assert limited.error == "timeout"
