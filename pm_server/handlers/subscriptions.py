"""Subscribe (with exact resume), unsubscribe, ping.

Subscribing registers the connection with the hub first, holding live events
of those projects aside; then reads where the client stands. With a resume
position in the current epoch, every stored event after it is replayed (in
``seq`` order, paged, paced by the client's reading) after the reply, then
the held live events not already replayed are released: no gap, no
duplicate. Without a position the subscription is live from the current
``seq``. A position from another epoch, from the future, or older than what
the log still holds gets ``must_refetch``: reload with snapshot queries and
subscribe from their ``seq``.

A project the connection is already subscribed to keeps its subscription
(and the highest ``seq`` sent for it): its events go on with no gap and no
duplicate; a ``resume`` ahead of what was sent, or ``must_refetch``, only
moves that position forward.

``tenant = true`` adds the tenant scope (:mod:`pm_server.tenant_stream`):
the tenant-wide events every user of the tenant may read, replayed and live
under the same rules, as one more subscription keyed ``TENANT_SCOPE``. It
needs no role: the connection's user belongs to the tenant.

``notifications = true`` adds the caller's inbox (:mod:`pm_server.notifying`):
a ``notification`` event for each notification the caller gets, keyed
``inbox_scope(user)``. Its events carry the seq of the change that caused
them, so the one resume position covers it too: replayed from the inbox
table (not the event log), held and deduplicated like any subscription's.
It needs no role either: it is the caller's own. It is subscribed on its own
(with no project and no tenant scope): one subscribe is one stream in seq
order, and the inbox's seqs are those of changes in any project.

A connection holds at most ``Session.max_subscriptions`` projects
(``PM_MAX_SUBSCRIPTIONS_PER_CONNECTION``): a subscribe that would pass it is a
VALIDATION_ERROR on ``project_ids`` and changes nothing. A subscribe that
fails after registering (authorisation, a handler timeout) leaves the
connection's subscriptions as they were.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Final

from pm_core.enums import Role
from pm_core.errors import ValidationError
from pm_core.models import Notification, StoredEvent
from pm_db.unit_of_work import UnitOfWork
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server import access
from pm_server.context import Context
from pm_server.notifying import INBOX_PREFIX, inbox_scope
from pm_server.notifying import encode as encode_notification
from pm_server.session import Subscription
from pm_server.tenant_stream import TENANT_SCOPE, readable

REPLAY_PAGE: Final = 500
MAX_PROJECTS_PER_SUBSCRIBE: Final = 1_000


async def subscribe(ctx: Context, cmd: commands_pb2.Subscribe) -> envelope_pb2.Reply:
    project_ids = list(dict.fromkeys(cmd.project_ids))
    if not project_ids and not cmd.tenant and not cmd.notifications:
        raise ValidationError(
            "project_ids", "name at least one project, the tenant scope or the notifications"
        )
    if cmd.notifications and (project_ids or cmd.tenant):
        raise ValidationError(
            "notifications", "subscribe to the notifications on their own, with no project"
        )
    if TENANT_SCOPE in project_ids:
        raise ValidationError("project_ids", "a project id cannot be empty")
    if any(project_id.startswith(INBOX_PREFIX) for project_id in project_ids):
        raise ValidationError("project_ids", "not a project id")
    if len(project_ids) > MAX_PROJECTS_PER_SUBSCRIBE:
        raise ValidationError("project_ids", f"at most {MAX_PROJECTS_PER_SUBSCRIBE} projects")
    principal = ctx.principal
    scopes = [
        *project_ids,
        *([TENANT_SCOPE] if cmd.tenant else []),
        *([inbox_scope(principal.user_id)] if cmd.notifications else []),
    ]
    connection = ctx.connection
    session = connection.session
    if session.would_exceed(scopes):  # checked with no await before registering
        raise ValidationError(
            "project_ids",
            f"a connection may be subscribed to at most {session.max_subscriptions} projects",
        )
    # Register first (live events held aside), then authorise and read the position in
    # one snapshot: a removal committed after that snapshot drops this subscription
    # (Hub.drop), one committed before it fails the authorisation. No window between.
    added: dict[str, Subscription] = {}
    kept: list[Subscription] = []
    for project_id in scopes:
        subscription = ctx.hub.subscribe(ctx.tenant_id, project_id, connection)
        if subscription is not None:
            added[project_id] = subscription
        elif (existing := session.subscription(project_id)) is not None:
            kept.append(existing)

    def position(uow: UnitOfWork) -> tuple[int, int | None]:
        for project_id in project_ids:
            access.project(uow, principal, project_id, Role.VIEWER)
        return uow.events.latest_seq(), uow.events.oldest_seq()

    try:
        head, oldest = await ctx.db.read(position)
    except BaseException:
        # The client got an error: undo, rather than hold live events forever.
        for project_id, subscription in added.items():
            ctx.hub.unsubscribe(ctx.tenant_id, project_id, connection, subscription)
        raise
    resume = cmd.resume if cmd.HasField("resume") else None
    must_refetch = resume is not None and not _can_resume(resume, ctx.db.epoch, head, oldest)
    if resume is None or must_refetch:
        start = head
        for subscription in added.values():
            session.raise_floor(subscription, head)
            connection.go_live(subscription)
        if must_refetch:  # the client reloads at head or later
            for subscription in kept:
                session.raise_floor(subscription, head)
    else:
        start = resume.seq
        for subscription in (*added.values(), *kept):
            session.raise_floor(subscription, start)
        if added:
            ctx.deferred.append(lambda: _replay(ctx, added, start))
    return envelope_pb2.Reply(
        subscribed=commands_pb2.SubscribeReply(
            epoch=ctx.db.epoch,
            seq=start,
            must_refetch=must_refetch,
            project_ids=project_ids,
            tenant=cmd.tenant,
            notifications=cmd.notifications,
        )
    )


def _can_resume(
    resume: commands_pb2.ResumePosition, epoch: str, head: int, oldest: int | None
) -> bool:
    if resume.epoch != epoch or resume.seq < 0 or resume.seq > head:
        return False
    if resume.seq == head:
        return True
    # Events after resume.seq must all still be stored.
    return oldest is not None and resume.seq >= oldest - 1


async def _replay(ctx: Context, subscriptions: dict[str, Subscription], after: int) -> None:
    inbox = subscriptions.get(inbox_scope(ctx.principal.user_id))
    if inbox is not None:  # subscribed on its own
        await _replay_inbox(ctx, inbox, after)
    else:
        await _replay_log(ctx, subscriptions, after)


async def _replay_inbox(ctx: Context, subscription: Subscription, after: int) -> None:
    """The caller's notifications after ``after``, from the inbox table, then live."""
    connection = ctx.connection
    user_id = ctx.principal.user_id

    def read_page(uow: UnitOfWork, start: int) -> list[Notification]:
        return uow.notifications.after(user_id, start, REPLAY_PAGE)

    while not connection.closing and connection.session.is_current(subscription):
        page = await ctx.db.read(functools.partial(read_page, start=after))
        for notification in page:
            connection.replayed(subscription, notification.seq, encode_notification(notification))
        if len(page) < REPLAY_PAGE:
            break
        after = page[-1].seq
        await connection.drained()
    connection.go_live(subscription)


async def _replay_log(ctx: Context, subscriptions: dict[str, Subscription], after: int) -> None:
    connection = ctx.connection
    session = connection.session
    project_ids = [scope for scope in subscriptions if scope != TENANT_SCOPE]
    tenant_wide = TENANT_SCOPE in subscriptions

    def read_page(uow: UnitOfWork, start: int) -> list[StoredEvent]:
        return uow.events.after(
            start, project_ids=project_ids, limit=REPLAY_PAGE, include_tenant_wide=tenant_wide
        )

    def current() -> bool:
        # Unsubscribed, re-subscribed or dropped meanwhile: stop reading for it.
        return any(session.is_current(s) for s in subscriptions.values())

    while not connection.closing and current():
        page = await ctx.db.read(functools.partial(read_page, start=after))
        for event in page:
            if event.project_id is None and not readable(event.payload):
                continue
            subscription = subscriptions.get(event.project_id or TENANT_SCOPE)
            if subscription is not None:
                connection.replayed(subscription, event.seq, event.payload)
        if len(page) < REPLAY_PAGE:
            break
        after = page[-1].seq
        await connection.drained()
    for subscription in subscriptions.values():
        connection.go_live(subscription)


async def unsubscribe(ctx: Context, cmd: commands_pb2.Unsubscribe) -> envelope_pb2.Reply:
    removed = [
        project_id
        for project_id in dict.fromkeys(cmd.project_ids)
        if project_id != TENANT_SCOPE
        and not project_id.startswith(INBOX_PREFIX)
        and ctx.hub.unsubscribe(ctx.tenant_id, project_id, ctx.connection)
    ]
    tenant = cmd.tenant and ctx.hub.unsubscribe(ctx.tenant_id, TENANT_SCOPE, ctx.connection)
    inbox = cmd.notifications and ctx.hub.unsubscribe(
        ctx.tenant_id, inbox_scope(ctx.principal.user_id), ctx.connection
    )
    return envelope_pb2.Reply(
        unsubscribed=commands_pb2.UnsubscribeReply(
            project_ids=removed, tenant=tenant, notifications=inbox
        )
    )


async def ping(ctx: Context, cmd: commands_pb2.Ping) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        pong=commands_pb2.Pong(nonce=cmd.nonce, server_time=to_timestamp(datetime.now(UTC)))
    )
