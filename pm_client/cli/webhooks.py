"""``pm webhook ...``: endpoints the tenant's events are posted to (tenant admins).

``pm webhook create`` without ``--secret`` prints the generated secret once: store it
with the receiver right away (docs/webhooks.md says how a receiver checks signatures).
"""

from __future__ import annotations

import argparse

from pm_client.cli.options import Subcommands, add_quiet, group
from pm_client.cli.output import Output, enum_name, table, to_json
from pm_client.cli.session import Session
from pm_proto.v1 import entities_pb2

STATE = entities_pb2.WebhookState.DESCRIPTOR
ENTITY_TYPES = [
    v.name.removeprefix("ENTITY_TYPE_").lower()
    for v in entities_pb2.EntityType.DESCRIPTOR.values
    if v.number
]
ACTIONS = [
    v.name.removeprefix("ACTION_").lower()
    for v in entities_pb2.Action.DESCRIPTOR.values
    if v.number
]


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = group(
        commands,
        common,
        "webhook",
        "webhooks: endpoints the tenant's events are posted to (tenant admins)",
    )
    p = add("create", create, "register an endpoint; events from now on are posted to it")
    p.add_argument("name", metavar="NAME", help="unique among live endpoints")
    p.add_argument("url", metavar="URL")
    p.add_argument("--secret", help="16-200 characters (default: one is generated and printed)")
    _add_filters(p)
    add_quiet(p, "generated secret")

    p = add("list", list_webhooks, "the endpoints with their state and position")

    p = add("update", update, "change an endpoint's name or URL")
    p.add_argument("webhook", metavar="WEBHOOK_ID")
    p.add_argument("--version", type=int, default=0, help="expected version (default: any)")
    p.add_argument("--name")
    p.add_argument("--endpoint-url", help="the new URL")

    p = add("filters", filters, "replace an endpoint's filters (none given: every event)")
    p.add_argument("webhook", metavar="WEBHOOK_ID")
    p.add_argument("--version", type=int, default=0, help="expected version (default: any)")
    _add_filters(p)

    p = add("rotate-secret", rotate_secret, "give an endpoint a new secret")
    p.add_argument("webhook", metavar="WEBHOOK_ID")
    p.add_argument("--version", type=int, default=0, help="expected version (default: any)")
    p.add_argument("--secret", help="16-200 characters (default: one is generated and printed)")
    add_quiet(p, "generated secret")

    for name, handler, text in (
        ("pause", pause, "stop deliveries (events are kept and delivered on resume)"),
        ("resume", resume, "deliver again from the last acknowledged event"),
        ("delete", delete, "delete an endpoint"),
    ):
        p = add(name, handler, text)
        p.add_argument("webhook", metavar="WEBHOOK_ID")
        p.add_argument("--version", type=int, default=0, help="expected version (default: any)")

    p = add("deliveries", deliveries, "an endpoint's delivery log, newest first")
    p.add_argument("webhook", metavar="WEBHOOK_ID")
    p.add_argument("--before", default="", metavar="DELIVERY_ID", help="page on")
    p.add_argument("--limit", type=int, default=0, help="at most this many (default 100)")

    p = add("redeliver", redeliver, "post the event SEQ to the endpoint again, now")
    p.add_argument("webhook", metavar="WEBHOOK_ID")
    p.add_argument("seq", type=int, metavar="SEQ")


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project", action="append", default=[], metavar="PROJECT_ID", help="repeatable"
    )
    p.add_argument("--type", action="append", default=[], choices=ENTITY_TYPES, help="repeatable")
    p.add_argument("--action", action="append", default=[], choices=ACTIONS, help="repeatable")


def _types(names: list[str]) -> list[entities_pb2.EntityType.ValueType]:
    return [entities_pb2.EntityType.Value("ENTITY_TYPE_" + n.upper()) for n in names]


def _actions(names: list[str]) -> list[entities_pb2.Action.ValueType]:
    return [entities_pb2.Action.Value("ACTION_" + n.upper()) for n in names]


def line(webhook: entities_pb2.Webhook) -> str:
    return (
        f"{webhook.name!r} {webhook.url} ({enum_name(STATE, webhook.state)}, id {webhook.id}, "
        f"version {webhook.version})"
    )


async def create(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.create_webhook(
        name=args.name,
        url=args.url,
        secret=args.secret,
        project_ids=args.project,
        entity_types=_types(args.type),
        actions=_actions(args.action),
    )
    if args.quiet:
        text = reply.secret or reply.webhook.id
    elif reply.secret:
        text = f"created webhook {line(reply.webhook)}; its secret, shown once:\n{reply.secret}"
    else:
        text = f"created webhook {line(reply.webhook)}"
    return Output(to_json(reply), text)


async def list_webhooks(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.list_webhooks()
    rows = [
        (
            w.name,
            w.url,
            enum_name(STATE, w.state),
            w.acked_seq,
            w.consecutive_failures,
            w.secret_hint,
            w.id,
        )
        for w in reply.webhooks
    ]
    headers = ("name", "url", "state", "acked seq", "failures", "secret", "id")
    return Output(to_json(reply), table(headers, rows, empty="no webhooks"))


async def update(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.update_webhook(
        webhook_id=args.webhook,
        expected_version=args.version,
        name=args.name,
        url=args.endpoint_url,
    )
    return Output(to_json(reply), f"updated webhook {line(reply.webhook)}")


async def filters(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.set_webhook_filters(
        webhook_id=args.webhook,
        expected_version=args.version,
        project_ids=args.project,
        entity_types=_types(args.type),
        actions=_actions(args.action),
    )
    return Output(to_json(reply), f"filters set on webhook {line(reply.webhook)}")


async def rotate_secret(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.rotate_webhook_secret(
        webhook_id=args.webhook, expected_version=args.version, secret=args.secret
    )
    if args.quiet:
        text = reply.secret or reply.webhook.id
    elif reply.secret:
        text = f"new secret for webhook {line(reply.webhook)}, shown once:\n{reply.secret}"
    else:
        text = f"new secret for webhook {line(reply.webhook)} (ends {reply.webhook.secret_hint})"
    return Output(to_json(reply), text)


async def pause(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.pause_webhook(webhook_id=args.webhook, expected_version=args.version)
    return Output(to_json(reply), f"paused webhook {line(reply.webhook)}")


async def resume(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.resume_webhook(webhook_id=args.webhook, expected_version=args.version)
    return Output(to_json(reply), f"resumed webhook {line(reply.webhook)}")


async def delete(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.delete_webhook(webhook_id=args.webhook, expected_version=args.version)
    return Output(to_json(reply), f"deleted webhook {line(reply.webhook)}")


async def deliveries(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.list_webhook_deliveries(
        webhook_id=args.webhook, before_id=args.before, limit=args.limit
    )
    rows = [
        (
            d.created_at.ToJsonString(),
            d.seq,
            d.attempt,
            "ok" if d.ok else "failed",
            d.status_code if d.HasField("status_code") else "",
            d.error if d.HasField("error") else "",
            d.duration_ms,
            "manual" if d.manual else "",
            d.id,
        )
        for d in reply.deliveries
    ]
    headers = ("time", "seq", "attempt", "result", "status", "error", "ms", "", "id")
    return Output(to_json(reply), table(headers, rows, empty="no deliveries"))


async def redeliver(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.redeliver_webhook(webhook_id=args.webhook, seq=args.seq)
    d = reply.delivery
    result = "delivered" if d.ok else f"failed ({d.error})"
    return Output(to_json(reply), f"event {d.seq}: {result} in {d.duration_ms} ms")
