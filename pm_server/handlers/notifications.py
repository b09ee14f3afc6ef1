"""Watching items, and the caller's inbox.

Roles per command:

- ``watch_work_item``, ``unwatch_work_item``: viewer of the item's project (a
  caller who cannot read it gets NOT_FOUND naming the item). Each records the
  caller's choice (:mod:`pm_db.repositories.watches`): watching an item one
  already chose to watch changes nothing, unwatching an item one does not
  watch is NOT_FOUND (``watch``). A watch is a row of the project like any
  other: its event and activity reach the project's subscribers.
- ``list_notifications``, ``mark_notifications_read``: the caller's own inbox,
  no role (another user's ids mark nothing). Marking read is an idempotent
  mutation that publishes no event: an inbox is private, and the caller's other
  connections learn the unread count from their next list.

Who is notified of what is :mod:`pm_server.notifying`.
"""

from __future__ import annotations

from typing import Final

from pm_core.enums import Action, EntityType, Role
from pm_core.errors import NotFoundError, ValidationError
from pm_core.models import FieldChange, Notification, Watch
from pm_db.repositories.notifications import MAX_LIMIT
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.events import Change
from pm_server.mutations import Mutation, mutate

DEFAULT_LIMIT: Final = 50
MAX_IDS: Final = 1_000


def _watch_reply(watch: Watch) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        watch=commands_pb2.WatchReply(watch=pb_entities.to_pb(watch, entities_pb2.Watch))
    )


def _choice(watch: Watch) -> Change:
    """A first choice creates the user's row; a change of mind updates it."""
    if watch.version == 1:
        return Change(EntityType.WATCH, Action.CREATED, watch, watch.project_id)
    changed = FieldChange(field="watching", old=not watch.watching, new=watch.watching)
    return Change(EntityType.WATCH, Action.UPDATED, watch, watch.project_id, (changed,))


def _messages(notifications: list[Notification]) -> list[entities_pb2.Notification]:
    return [pb_entities.to_pb(n, entities_pb2.Notification) for n in notifications]


async def watch_work_item(ctx: Context, cmd: commands_pb2.WatchWorkItem) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        item = access.work_item(uow, principal, cmd.work_item_id, Role.VIEWER).entity
        watch, changed = uow.watches.choose(item, principal.user_id, watching=True)
        return Mutation(_watch_reply(watch), _choice(watch) if changed else None)

    return await mutate(ctx, unit)


async def unwatch_work_item(ctx: Context, cmd: commands_pb2.UnwatchWorkItem) -> bytes:
    principal = ctx.principal

    def unit(uow: UnitOfWork) -> Mutation:
        item = access.work_item(uow, principal, cmd.work_item_id, Role.VIEWER).entity
        if principal.user_id not in uow.watches.watchers(item):
            raise NotFoundError(EntityType.WATCH, item.id, "you do not watch this item")
        watch, _ = uow.watches.choose(item, principal.user_id, watching=False)
        return Mutation(_watch_reply(watch), _choice(watch))

    return await mutate(ctx, unit)


async def list_notifications(
    ctx: Context, cmd: commands_pb2.ListNotifications
) -> envelope_pb2.Reply:
    user_id = ctx.principal.user_id
    limit = cmd.limit or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    if cmd.before < 0:
        raise ValidationError("before", "before must not be negative")

    def read(uow: UnitOfWork) -> envelope_pb2.Reply:
        page = uow.notifications.page(
            user_id, before=cmd.before, limit=limit + 1, unread_only=cmd.unread_only
        )
        more = len(page) > limit
        page = page[:limit]
        return envelope_pb2.Reply(
            notifications=commands_pb2.NotificationList(
                notifications=_messages(page),
                next_cursor=page[-1].seq if more else 0,
                unread_count=uow.notifications.unread_count(user_id),
                seq=uow.events.latest_seq(),
            )
        )

    return await ctx.db.read(read)


async def mark_notifications_read(ctx: Context, cmd: commands_pb2.MarkNotificationsRead) -> bytes:
    user_id = ctx.principal.user_id
    ids = list(dict.fromkeys(cmd.notification_ids))
    if len(ids) > MAX_IDS:
        raise ValidationError("notification_ids", f"at most {MAX_IDS} ids")
    if cmd.up_to < 0:
        raise ValidationError("up_to", "up_to must not be negative")
    if ids and cmd.up_to:
        raise ValidationError("up_to", "send notification_ids or up_to, not both")

    def unit(uow: UnitOfWork) -> Mutation:
        up_to = cmd.up_to or uow.events.latest_seq()
        marked = uow.notifications.mark_read(user_id, ids=ids, up_to=up_to)
        reply = envelope_pb2.Reply(
            notifications_marked=commands_pb2.NotificationsMarked(
                notifications=_messages(marked),
                unread_count=uow.notifications.unread_count(user_id),
            )
        )
        return Mutation(reply, None)

    return await mutate(ctx, unit)
