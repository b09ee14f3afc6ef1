"""Webhook endpoints: create, update, pause, resume, delete, list; the delivery log and
manual redelivery (tenant admins only; docs/webhooks.md).

The endpoints are tenant-wide configuration, so their changes produce no
project events. Like API keys, these commands record no idempotency reply (a
create's reply may hold a generated secret): a retried create gets CONFLICT on
its name, a retried update or delete CONFLICT on its version. After each
committed change the delivery workers of the tenant are brought in line.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Final

from pm_core.enums import Action, EntityType, WebhookState
from pm_core.errors import NotFoundError, UnavailableError, ValidationError
from pm_core.models import Webhook, WebhookPatch
from pm_core.webhooks import (
    WebhookDelivery,
    project_filter,
    webhook_name,
    webhook_secret,
    webhook_url,
)
from pm_db.codec import new_id
from pm_db.unit_of_work import UnitOfWork
from pm_proto import enums as pb_enums
from pm_proto import patches as pb_patches
from pm_proto.entities import webhook_to_pb
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.webhooks import WebhookService
from pm_server.webhooks.addresses import check_url
from pm_server.webhooks.sender import body_of
from pm_server.webhooks.worker import row_of

DELIVERIES_DEFAULT: Final = 100
DELIVERIES_MAX: Final = 1_000


def delivery_to_pb(delivery: WebhookDelivery) -> entities_pb2.WebhookDelivery:
    return entities_pb2.WebhookDelivery(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        seq=delivery.seq,
        attempt=delivery.attempt,
        ok=delivery.ok,
        status_code=delivery.status_code,
        error=delivery.error,
        duration_ms=delivery.duration_ms,
        manual=delivery.manual,
        created_at=to_timestamp(delivery.created_at),
    )


def _reply(webhook: Webhook, secret: str = "") -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        webhook=commands_pb2.WebhookReply(webhook=webhook_to_pb(webhook), secret=secret)
    )


def _service(ctx: Context) -> WebhookService:
    if ctx.webhooks is None:
        raise UnavailableError("webhooks are not served here")
    return ctx.webhooks


def _entity_types(values: Iterable[int]) -> tuple[EntityType, ...]:
    types = (pb_enums.ENTITY_TYPE.from_pb(v, "entity_types") for v in values)
    return tuple(dict.fromkeys(types))


def _actions(values: Iterable[int]) -> tuple[Action, ...]:
    return tuple(dict.fromkeys(pb_enums.ACTION.from_pb(v, "actions") for v in values))


async def _checked_url(ctx: Context, url: str) -> str:
    cleaned = webhook_url(url)
    if not ctx.settings.webhook_allow_private:
        await check_url(cleaned)
    return cleaned


def _version(value: int) -> int | None:
    return value or None


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def create_webhook(ctx: Context, cmd: commands_pb2.CreateWebhook) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)
    name = webhook_name(cmd.name)
    url = await _checked_url(ctx, cmd.url)
    generated = not cmd.HasField("secret")
    secret = _new_secret() if generated else webhook_secret(cmd.secret)
    project_ids = project_filter(cmd.project_ids)
    entity_types = _entity_types(cmd.entity_types)
    actions = _actions(cmd.actions)
    created_by = ctx.user_id

    def unit(uow: UnitOfWork) -> envelope_pb2.Reply:
        webhook = uow.webhooks.create(
            webhook_id=new_id(),
            name=name,
            url=url,
            secret=secret,
            project_ids=project_ids,
            entity_types=entity_types,
            actions=actions,
            # From the next event on: what was committed before the endpoint existed is not its.
            acked_seq=uow.events.latest_seq(),
            created_by=created_by,
        )
        return _reply(webhook, secret if generated else "")

    return await ctx.db.write(unit, on_commit=lambda _: service.refresh(ctx.tenant_id))


async def update_webhook(ctx: Context, cmd: commands_pb2.UpdateWebhook) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)
    patch = pb_patches.patch_of(cmd, WebhookPatch)
    changes = dict(patch.changes())
    if "name" in changes:
        changes["name"] = webhook_name(str(changes["name"]))
    if "url" in changes:
        changes["url"] = await _checked_url(ctx, str(changes["url"]))
    return await _change(ctx, service, cmd.webhook_id, cmd.expected_version, changes)


async def set_webhook_filters(
    ctx: Context, cmd: commands_pb2.SetWebhookFilters
) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)
    changes: dict[str, object] = {
        "project_ids": project_filter(cmd.project_ids),
        "entity_types": _entity_types(cmd.entity_types),
        "actions": _actions(cmd.actions),
    }
    return await _change(ctx, service, cmd.webhook_id, cmd.expected_version, changes)


async def rotate_webhook_secret(
    ctx: Context, cmd: commands_pb2.RotateWebhookSecret
) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)
    generated = not cmd.HasField("secret")
    secret = _new_secret() if generated else webhook_secret(cmd.secret)
    return await _change(
        ctx, service, cmd.webhook_id, cmd.expected_version, {}, secret, shown=generated
    )


async def _change(
    ctx: Context,
    service: WebhookService,
    webhook_id: str,
    version: int,
    changes: dict[str, object],
    new_secret: str | None = None,
    *,
    shown: bool = False,
) -> envelope_pb2.Reply:
    """Apply an admin's change to the endpoint (its version checked, + 1); its worker
    restarts with it once committed."""

    def unit(uow: UnitOfWork) -> envelope_pb2.Reply:
        current, secret = uow.webhooks.get_with_secret(webhook_id)
        webhook = uow.webhooks.update(
            current, _version(version), secret=new_secret or secret, **changes
        )
        return _reply(webhook, new_secret if shown and new_secret else "")

    return await ctx.db.write(
        unit, on_commit=lambda _: service.refresh(ctx.tenant_id, restart=webhook_id)
    )


async def _set_state(
    ctx: Context, webhook_id: str, version: int, state: WebhookState
) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)
    changes: dict[str, object] = {"state": state}
    if state is WebhookState.ACTIVE:
        changes |= {"consecutive_failures": 0, "last_error": None}
    return await _change(ctx, service, webhook_id, version, changes)


async def pause_webhook(ctx: Context, cmd: commands_pb2.PauseWebhook) -> envelope_pb2.Reply:
    return await _set_state(ctx, cmd.webhook_id, cmd.expected_version, WebhookState.PAUSED)


async def resume_webhook(ctx: Context, cmd: commands_pb2.ResumeWebhook) -> envelope_pb2.Reply:
    return await _set_state(ctx, cmd.webhook_id, cmd.expected_version, WebhookState.ACTIVE)


async def delete_webhook(ctx: Context, cmd: commands_pb2.DeleteWebhook) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)

    def unit(uow: UnitOfWork) -> envelope_pb2.Reply:
        current = uow.webhooks.get(cmd.webhook_id)
        return _reply(uow.webhooks.delete(current, _version(cmd.expected_version)))

    return await ctx.db.write(unit, on_commit=lambda _: service.refresh(ctx.tenant_id))


async def list_webhooks(ctx: Context, cmd: commands_pb2.ListWebhooks) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)
    if ctx.tenant_id not in service.looked_up:
        # A tenant whose folder lost its marker (restored into a new folder) found again.
        service.refresh(ctx.tenant_id)

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        webhooks = [webhook_to_pb(w) for w in uow.webhooks.list()]
        return envelope_pb2.Reply(webhooks=commands_pb2.WebhookList(webhooks=webhooks))

    return await ctx.db.read(read)


async def list_webhook_deliveries(
    ctx: Context, cmd: commands_pb2.ListWebhookDeliveries
) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    limit = cmd.limit or DELIVERIES_DEFAULT
    if limit > DELIVERIES_MAX:
        raise ValidationError("limit", f"limit must be at most {DELIVERIES_MAX}")

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        uow.webhooks.get(cmd.webhook_id)
        rows = uow.webhook_deliveries.list(cmd.webhook_id, before_id=cmd.before_id, limit=limit)
        return envelope_pb2.Reply(
            webhook_deliveries=commands_pb2.WebhookDeliveryList(
                deliveries=[delivery_to_pb(d) for d in rows]
            )
        )

    return await ctx.db.read(read)


async def redeliver_webhook(ctx: Context, cmd: commands_pb2.RedeliverWebhook) -> envelope_pb2.Reply:
    access.require_tenant_admin(ctx.principal)
    service = _service(ctx)
    seq = cmd.seq

    def read(uow: UnitOfWork) -> tuple[Webhook, str, bytes, int]:
        webhook, secret = uow.webhooks.get_with_secret(cmd.webhook_id)
        found = uow.events.after(seq - 1, limit=1) if seq > 0 else []
        if not found or found[0].seq != seq:
            raise NotFoundError("event", str(seq))
        attempts = [
            d.attempt
            for d in uow.webhook_deliveries.list(webhook.id, limit=DELIVERIES_MAX)
            if d.seq == seq
        ]
        return webhook, secret, found[0].payload, max(attempts, default=0) + 1

    webhook, secret, payload, attempt = await ctx.db.read(read)
    body = body_of(events_pb2.Event.FromString(payload))
    # Answered within the handler's deadline even when the receiver takes its whole timeout.
    timeout = min(ctx.settings.webhook_timeout_seconds, ctx.settings.handler_timeout_seconds / 2)
    outcome = await service.sender.send(webhook.url, secret, webhook.id, seq, body, timeout)
    delivery = row_of(webhook.id, seq, attempt, outcome, manual=True)

    def record(uow: UnitOfWork) -> None:
        uow.webhook_deliveries.record((delivery,))

    await ctx.db.write(record)
    return envelope_pb2.Reply(
        webhook_delivery=commands_pb2.WebhookDeliveryReply(delivery=delivery_to_pb(delivery))
    )
