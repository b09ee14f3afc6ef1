"""``pm inbox``: the caller's notifications, and watching items.

``list`` shows the inbox newest first (``--unread``, ``--all`` pages), ``read``
marks notifications read (ids, or everything), ``watch ITEM`` and ``unwatch
ITEM`` start and stop watching an item (``pm watch`` streams a project's
events live, a different thing).
"""

from __future__ import annotations

import argparse

from pm_client.cli.options import Subcommands
from pm_client.cli.output import Output, enum_name, local_time, table, to_json
from pm_client.cli.paging import every_page
from pm_client.cli.session import Session
from pm_proto.v1 import commands_pb2, entities_pb2

REASON = entities_pb2.NotificationReason.DESCRIPTOR


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser(
        "inbox",
        parents=[common],
        help="your notifications: list, read, watch, unwatch",
        description="your notifications (assigned, mentioned with @name, or a watched item "
        "changed), and the items you watch",
    )
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    p = verbs.add_parser(
        "list",
        parents=[common],
        help="your notifications, newest first",
        description="your notifications, newest first, with your unread count",
    )
    p.set_defaults(handler=list_inbox)
    p.add_argument("--unread", action="store_true", help="unread ones only")
    p.add_argument("--limit", type=int, default=0, help="at most this many (server default 50)")
    p.add_argument("--all", action="store_true", help="every page, not just one")
    p = verbs.add_parser(
        "read",
        parents=[common],
        help="mark notifications read",
        description="mark the notifications ID... read, or with none every one",
    )
    p.set_defaults(handler=mark_read)
    p.add_argument("ids", metavar="ID", nargs="*", help="notification ids (none: all)")
    for verb, handler, text in (
        ("watch", watch, "watch an item: its changes reach your inbox"),
        ("unwatch", unwatch, "stop watching an item"),
    ):
        p = verbs.add_parser(verb, parents=[common], help=text, description=text)
        p.set_defaults(handler=handler)
        p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")


async def list_inbox(s: Session, args: argparse.Namespace) -> Output:
    pages: list[commands_pb2.NotificationList] = []

    async def page(before: int | None) -> tuple[list[entities_pb2.Notification], int | None]:
        listed = await s.pm.list_notifications(
            before=before or 0, limit=args.limit, unread_only=args.unread
        )
        pages.append(listed)
        return list(listed.notifications), listed.next_cursor or None

    found = await every_page(page) if args.all else (await page(None))[0]
    reply = pages[0]
    del reply.notifications[:]
    reply.notifications.extend(found)
    rows = [
        (
            local_time(n.created_at, seconds=True),
            enum_name(REASON, n.reason),
            await s.item_key(n.work_item_id),
            n.actor_id,
            "" if n.HasField("read_at") else "unread",
            n.id,
        )
        for n in reply.notifications
    ]
    text = table(("when", "why", "item", "by", "", "id"), rows, empty="no notifications")
    return Output(to_json(reply), f"{text}\n{reply.unread_count} unread")


async def mark_read(s: Session, args: argparse.Namespace) -> Output:
    reply = await s.pm.mark_notifications_read(notification_ids=args.ids)
    text = f"{len(reply.notifications)} marked read, {reply.unread_count} unread"
    return Output(to_json(reply), text)


async def watch(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.watch_work_item(work_item_id=item.id)
    return Output(to_json(reply.watch), f"watching {item.display_key}")


async def unwatch(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.unwatch_work_item(work_item_id=item.id)
    return Output(to_json(reply.watch), f"no longer watching {item.display_key}")
