"""The write path: one mutation = one unit of work on the tenant's single writer.

Inside the transaction, in order: the handler's own work (authorisation,
domain checks, writes with the atomic version predicate), the activity-log
rows, the event-log rows with their ``seq``, and the idempotency record of
(user, request id) with the encoded reply. A retry of a committed request
cannot record its key again (or fails earlier, on what its first run
changed): only then is the stored reply looked up, the retry's own writes are
rolled back, and the first reply answers it. So the first run of a request,
the common case, reads no idempotency key at all. An update that changes
nothing changed no row and gets neither activity rows nor an event (only the
idempotency record). The notifications the changes call for
(:mod:`pm_server.notifying`) are written in the same transaction, each with
its change's seq. Only after the commit are the events published (in commit
order, by the database's ``on_commit`` hook) and the reply returned to be
sent, encoded once (the request id is spliced in front of it). Nothing is
published for a rolled-back write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from pm_core.enums import Action
from pm_db.unit_of_work import UnitOfWork
from pm_proto.v1 import envelope_pb2
from pm_server import notifying
from pm_server.context import Context
from pm_server.events import Change, encode_event
from pm_server.tenant_stream import scope_of


@dataclass(frozen=True, slots=True)
class Mutation:
    """What a handler's unit of work returns: the reply and the change (if any).

    ``side_changes`` are further rows the mutation changed that subscribers must
    hear about on their own (e.g. the timer a ``start_timer`` stopped, possibly
    in another project): each gets its activity rows and its own event.
    ``after_commit`` runs on the event loop right after the events are
    published, before any later commit of the tenant is published (e.g. to
    stop a removed member's subscriptions exactly at the removal).
    """

    reply: envelope_pb2.Reply
    change: Change | None
    after_commit: Callable[[], None] | None = None
    side_changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class Published:
    #: Where it is delivered: its project, the tenant scope, a user's inbox
    #: (:func:`~pm_server.notifying.inbox_scope`), or nowhere (None).
    project_id: str | None
    seq: int
    event: bytes


@dataclass(frozen=True, slots=True)
class Committed:
    reply: bytes
    events: tuple[Published, ...] = ()
    after_commit: Callable[[], None] | None = None


async def mutate(ctx: Context, unit: Callable[[UnitOfWork], Mutation]) -> bytes:
    """Run ``unit`` as one idempotent mutation and return its committed reply, encoded
    (without a request id: :func:`pm_proto.frames.reply_frame` adds it)."""
    user_id = ctx.user_id
    actor_kind = ctx.principal.kind
    request_id = ctx.request_id

    def record(uow: UnitOfWork, change: Change) -> Published:
        uow.activity.record(
            entity_type=change.entity_type,
            entity_id=change.entity.id,
            project_id=change.project_id,
            action=change.action,
            actor_id=user_id,
            changes=change.changes,
        )
        stored = uow.events.append_encoded(
            project_id=change.project_id,
            encode=lambda s: encode_event(
                change, seq=s, actor_id=user_id, now=uow.now, actor_kind=actor_kind
            ),
        )
        scope = scope_of(change.project_id, change.entity_type)
        return Published(scope, stored.seq, stored.payload)

    def run(uow: UnitOfWork) -> Committed:
        try:
            mutation = unit(uow)
            reply = mutation.reply.SerializeToString()
            main = (mutation.change,) if mutation.change is not None else ()
            changes = [c for c in (*main, *mutation.side_changes) if not _changes_nothing(c)]
            events = tuple(record(uow, c) for c in changes)
            pending = notifying.follow_up(uow, changes, user_id)
            if pending:
                seqs = {id(c): e.seq for c, e in zip(changes, events, strict=True)}
                inbox = notifying.write(uow, pending, seqs, user_id)
                events += tuple(Published(scope, seq, event) for scope, seq, event in inbox)
            uow.idempotency.record(user_id, request_id, reply)
        except Exception:
            # A retry of a committed request fails (its key is taken, or its first run changed
            # what it checks): that run is rolled back and the stored reply answers it. Looked
            # up only now, so the first run of a request reads no key at all.
            stored = _stored_reply(uow, user_id, request_id)
            if stored is not None:
                raise Replayed(stored) from None
            raise
        return Committed(reply, events, mutation.after_commit)

    def publish(committed: Committed) -> None:
        for event in committed.events:
            if event.project_id is not None:
                ctx.hub.publish(ctx.tenant_id, event.project_id, event.seq, event.event)
        if committed.events:
            ctx.hub.committed(ctx.tenant_id)
        if committed.after_commit is not None:
            committed.after_commit()

    try:
        committed = await ctx.db.write(run, on_commit=publish)
    except Replayed as replayed:
        return replayed.reply
    return committed.reply


class Replayed(Exception):
    """The request id was already committed: this run is rolled back, the stored reply sent."""

    def __init__(self, reply: bytes) -> None:
        super().__init__("request already committed")
        self.reply = reply


def _stored_reply(uow: UnitOfWork, user_id: str, request_id: str) -> bytes | None:
    """The reply committed for this request id, if any (None when it cannot be read: the
    original error is the better answer)."""
    try:
        return uow.idempotency.get(user_id, request_id)
    except sqlite3.Error:
        return None


def _changes_nothing(change: Change) -> bool:
    """An update that found every field already as asked: no activity row, no event."""
    return change.action is Action.UPDATED and not change.changes and not change.cascaded_ids
