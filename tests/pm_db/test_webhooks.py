"""The webhook repositories on a real tenant database: names, versions, the worker's
position and failure count, and the bounded delivery log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pm_core.enums import Action, EntityType, WebhookState
from pm_core.errors import ConflictError, DuplicateError, NotFoundError
from pm_core.models import Webhook
from pm_core.webhooks import WebhookDelivery
from pm_db.codec import new_id
from pm_db.repositories import webhook_deliveries
from pm_db.unit_of_work import UnitOfWork


def create(uow: UnitOfWork, name: str = "ci", secret: str = "s" * 12 + "WXYZ") -> Webhook:
    return uow.webhooks.create(
        webhook_id=new_id(),
        name=name,
        url="https://hooks.example.com/pm",
        secret=secret,
        project_ids=("p1",),
        entity_types=(EntityType.WORK_ITEM,),
        actions=(Action.CREATED, Action.DELETED),
        acked_seq=7,
        created_by=None,
    )


def test_create_reads_back_with_only_a_hint_of_the_secret(uow: UnitOfWork) -> None:
    created = create(uow)
    assert uow.webhooks.get(created.id) == created
    assert created.secret_hint == "…WXYZ"
    assert "secret" not in Webhook.model_fields
    assert uow.webhooks.get_with_secret(created.id)[1] == "s" * 12 + "WXYZ"
    assert created.entity_types == (EntityType.WORK_ITEM,)
    assert created.acked_seq == 7


def test_names_are_unique_among_live_endpoints(uow: UnitOfWork) -> None:
    first = create(uow)
    with pytest.raises(DuplicateError):
        create(uow)
    uow.webhooks.delete(first, first.version)
    assert create(uow).name == "ci"


def test_update_with_stale_version_conflicts(uow: UnitOfWork) -> None:
    webhook = create(uow)
    _, secret = uow.webhooks.get_with_secret(webhook.id)
    updated = uow.webhooks.update(webhook, 1, secret=secret, name="renamed")
    assert updated.version == 2
    assert uow.webhooks.get(webhook.id).name == "renamed"
    with pytest.raises(ConflictError) as raised:
        uow.webhooks.update(uow.webhooks.get(webhook.id), 1, secret=secret, name="again")
    assert raised.value.current_version == 2


def test_ack_and_failures_leave_the_version_alone_until_disabled(uow: UnitOfWork) -> None:
    webhook = create(uow)
    uow.webhooks.ack(webhook.id, 50)
    uow.webhooks.ack(webhook.id, 40)  # never backwards
    assert not uow.webhooks.fail(webhook.id, "HTTP 500", max_failures=2)
    current = uow.webhooks.get(webhook.id)
    assert (current.acked_seq, current.consecutive_failures, current.version) == (50, 1, 1)
    assert current.last_error == "HTTP 500"
    assert uow.webhooks.fail(webhook.id, "timeout", max_failures=2)
    disabled = uow.webhooks.get(webhook.id)
    assert disabled.state is WebhookState.DISABLED
    assert disabled.version == 2
    uow.webhooks.ack(webhook.id, 51)
    assert uow.webhooks.get(webhook.id).consecutive_failures == 0


def test_deleted_endpoint_is_not_found(uow: UnitOfWork) -> None:
    webhook = create(uow)
    uow.webhooks.delete(webhook, None)
    with pytest.raises(NotFoundError):
        uow.webhooks.get(webhook.id)
    assert uow.webhooks.list() == []


def test_delivery_log_pages_newest_first_and_keeps_the_newest(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_deliveries, "KEEP", 5)
    webhook = create(uow)
    rows = [
        WebhookDelivery(
            id=new_id(),
            webhook_id=webhook.id,
            seq=seq,
            attempt=1,
            ok=seq % 2 == 0,
            status_code=200 if seq % 2 == 0 else 500,
            error=None if seq % 2 == 0 else "HTTP 500",
            duration_ms=3,
            created_at=datetime.now(UTC),
        )
        for seq in range(1, 9)
    ]
    uow.webhook_deliveries.record(rows)
    page = uow.webhook_deliveries.list(webhook.id, limit=3)
    assert [d.seq for d in page] == [8, 7, 6]
    assert page[1].error == "HTTP 500"
    assert not page[1].ok
    rest = uow.webhook_deliveries.list(webhook.id, before_id=page[-1].id, limit=10)
    assert [d.seq for d in rest] == [5, 4]
