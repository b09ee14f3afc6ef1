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

    def authorise(uow: UnitOfWork) -> None:
        for project_id in project_ids:
            require_role(uow, principal, project_id, Role.VIEWER)

    await ctx.db.read(authorise)

    connection = ctx.connection
    subscriptions = {}
    for project_id in project_ids:
        subscription = Subscription(project_id)
        connection.subscriptions[project_id] = subscription
        subscriptions[project_id] = subscription
        ctx.hub.subscribe(ctx.tenant_id, project_id, connection)

    def position(uow: UnitOfWork) -> tuple[int, int | None]:
        return uow.events.latest_seq(), uow.events.oldest_seq()

    head, oldest = await ctx.db.read(position)
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

    while not connection.closing:
        page = await ctx.db.read(functools.partial(read_page, start=after))
        for event in page:
            if event.project_id is not None and event.project_id in subscriptions:
                connection.queue_replayed(subscriptions[event.project_id], event.seq, event.payload)
        if len(page) < REPLAY_PAGE:
            break
        after = page[-1].seq
        await connection.drained()
    for subscription in subscriptions.values():
        if connection.subscriptions.get(subscription.project_id) is subscription:
            connection.finish_replay(subscription)


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
