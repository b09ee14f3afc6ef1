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

A connection holds at most ``Connection.max_subscriptions`` projects
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
from pm_core.models import StoredEvent
from pm_db.unit_of_work import UnitOfWork
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server.authz import require_role
from pm_server.connection import Subscription
from pm_server.context import Context

REPLAY_PAGE: Final = 500
MAX_PROJECTS_PER_SUBSCRIBE: Final = 1_000


async def subscribe(ctx: Context, cmd: commands_pb2.Subscribe) -> envelope_pb2.Reply:
    project_ids = list(dict.fromkeys(cmd.project_ids))
    if not project_ids:
        raise ValidationError("project_ids", "name at least one project")
    if len(project_ids) > MAX_PROJECTS_PER_SUBSCRIBE:
        raise ValidationError("project_ids", f"at most {MAX_PROJECTS_PER_SUBSCRIBE} projects")
    principal = ctx.principal
    connection = ctx.connection
    cap = connection.max_subscriptions  # checked with no await before registering
    if len(connection.subscriptions.keys() | project_ids) > cap:
        raise ValidationError(
            "project_ids", f"a connection may be subscribed to at most {cap} projects"
        )
    # Register first (live events held aside), then authorise and read the position in
    # one snapshot: a removal committed after that snapshot drops this subscription
    # (Hub.drop), one committed before it fails the authorisation. No window between.
    held = connection.subscriptions
    previous = {p: held[p] for p in project_ids if p in held}
    subscriptions = {}
    for project_id in project_ids:
        subscription = Subscription(project_id)
        connection.subscriptions[project_id] = subscription
        subscriptions[project_id] = subscription
        ctx.hub.subscribe(ctx.tenant_id, project_id, connection)

    def position(uow: UnitOfWork) -> tuple[int, int | None]:
        for project_id in project_ids:
            require_role(uow, principal, project_id, Role.VIEWER)
        return uow.events.latest_seq(), uow.events.oldest_seq()

    try:
        head, oldest = await ctx.db.read(position)
    except BaseException:
        # The client got an error: undo, rather than hold live events forever.
        _undo(ctx, subscriptions, previous)
        raise
    resume = cmd.resume if cmd.HasField("resume") else None
    must_refetch = resume is not None and not _can_resume(resume, ctx.db.epoch, head, oldest)
    if resume is None or must_refetch:
        for subscription in subscriptions.values():
            subscription.last_seq = head
            connection.finish_replay(subscription)
        start = head
    else:
        assert resume is not None
        start = resume.seq
        for subscription in subscriptions.values():
            subscription.last_seq = start
        ctx.deferred.append(lambda: _replay(ctx, subscriptions, start))
    return envelope_pb2.Reply(
        subscribed=commands_pb2.SubscribeReply(
            epoch=ctx.db.epoch,
            seq=start,
            must_refetch=must_refetch,
            project_ids=project_ids,
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
    connection = ctx.connection
    project_ids = list(subscriptions)

    def read_page(uow: UnitOfWork, start: int) -> list[StoredEvent]:
        return uow.events.after(start, project_ids=project_ids, limit=REPLAY_PAGE)

    def live(project_id: str | None) -> Subscription | None:
        # Still this subscription? (Unsubscribed, re-subscribed or dropped: stop feeding it.)
        subscription = subscriptions.get(project_id or "")
        if (
            subscription is None
            or connection.subscriptions.get(project_id or "") is not subscription
        ):
            return None
        return subscription

    while not connection.closing and any(live(p) for p in project_ids):
        page = await ctx.db.read(functools.partial(read_page, start=after))
        for event in page:
            subscription = live(event.project_id)
            if subscription is not None:
                connection.queue_replayed(subscription, event.seq, event.payload)
        if len(page) < REPLAY_PAGE:
            break
        after = page[-1].seq
        await connection.drained()
    for subscription in subscriptions.values():
        if connection.subscriptions.get(subscription.project_id) is subscription:
            connection.finish_replay(subscription)


def _undo(
    ctx: Context, subscriptions: dict[str, Subscription], previous: dict[str, Subscription]
) -> None:
    """Put the connection's subscriptions back as they were before a failed subscribe.

    A project newly named is unsubscribed and its held events are discarded
    (the caller may not be allowed to see them). A project that was already
    subscribed gets its earlier subscription back, with the events held
    meanwhile handed to it (de-duplicated by ``seq``): no gap.
    """
    connection = ctx.connection
    for project_id, subscription in subscriptions.items():
        if connection.subscriptions.get(project_id) is not subscription:
            continue  # dropped (access lost) or replaced meanwhile
        before = previous.get(project_id)
        if before is None:
            del connection.subscriptions[project_id]
            ctx.hub.unsubscribe(ctx.tenant_id, project_id, connection)
            continue
        connection.subscriptions[project_id] = before
        for seq, event in subscription.held:
            connection.deliver(project_id, seq, event)


async def unsubscribe(ctx: Context, cmd: commands_pb2.Unsubscribe) -> envelope_pb2.Reply:
    removed = []
    for project_id in dict.fromkeys(cmd.project_ids):
        if ctx.connection.subscriptions.pop(project_id, None) is not None:
            ctx.hub.unsubscribe(ctx.tenant_id, project_id, ctx.connection)
            removed.append(project_id)
    return envelope_pb2.Reply(unsubscribed=commands_pb2.UnsubscribeReply(project_ids=removed))


async def ping(ctx: Context, cmd: commands_pb2.Ping) -> envelope_pb2.Reply:
    return envelope_pb2.Reply(
        pong=commands_pb2.Pong(nonce=cmd.nonce, server_time=to_timestamp(datetime.now(UTC)))
    )
