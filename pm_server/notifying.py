"""Who a committed change notifies, written in the change's own unit of work.

:func:`mutate` hands every change of a mutation here, inside its transaction,
so a notification is committed with its cause or not at all: a crash loses
neither, an idempotent retry (rolled back, the first reply sent) repeats
neither. The rules:

- An item's creator and its assignee watch it, unless they unwatched it, and
  so does whoever chose to watch it (:mod:`pm_db.repositories.watches`).
- Assigned: the new assignee of a created or updated item, unless they
  assigned themselves (reason ``assigned``).
- Mentioned: each member a new comment names with ``@name``
  (:mod:`pm_core.mentions`), and on an edit each member the new text names
  and the old did not (``mentioned``).
- Watched: each watcher of an item that changed (but for its position alone:
  a reorder is no news), was deleted, or got a new comment (``watched``).

Never the actor of the change, never anyone who is not a live member of the
item's project when the change commits (a removed member is no longer
notified, a tenant admin outside the project neither), and at most one
notification per user and change: ``assigned`` before ``mentioned`` before
``watched``. Each notification takes the seq of its change's event (unique per
user), and its event, encoded once, goes only to the recipient's inbox
subscription (:func:`inbox_scope`), never to a project's subscribers, the
event log or webhooks; creating or reading a notification writes no activity
row (an inbox is private, the activity log is the project's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pm_core.enums import Action, EntityType, NotificationReason
from pm_core.mentions import mentioned_names, names_of
from pm_core.models import Comment, Notification, Watch, WorkItem
from pm_db.codec import new_id
from pm_db.repositories.watches import default_watchers
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import entities_pb2, events_pb2
from pm_server.events import Change

#: The subscription key of a user's inbox in the hub and the session: never a project id
#: (those are UUIDs; a subscribe naming one that starts so is refused).
INBOX_PREFIX: Final = "\x00inbox:"
#: Fields whose change alone tells watchers nothing (a drag within a column).
_QUIET_FIELDS: Final = frozenset({"position"})


def inbox_scope(user_id: str) -> str:
    return INBOX_PREFIX + user_id


@dataclass(frozen=True, slots=True)
class Pending:
    """A notification to write once its change has its seq."""

    change: Change
    user_id: str
    reason: NotificationReason
    work_item_id: str
    comment_id: str | None = None


class _Audience:
    """The live members of each project the changes touch, read once per unit."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._members: dict[str, list[tuple[str, str, str | None]]] = {}

    def members(self, project_id: str) -> list[tuple[str, str, str | None]]:
        if project_id not in self._members:
            self._members[project_id] = self._uow.notifications.audience(project_id)
        return self._members[project_id]

    def ids(self, project_id: str) -> set[str]:
        return {user_id for user_id, _, _ in self.members(project_id)}

    def named(self, project_id: str, text: str) -> set[str]:
        """The members ``text`` mentions."""
        names = mentioned_names(text)
        if not names:
            return set()
        return {
            user_id
            for user_id, display_name, email in self.members(project_id)
            if names & names_of(display_name, email)
        }


def follow_up(uow: UnitOfWork, changes: Sequence[Change], actor_id: str) -> list[Pending]:
    """The notifications ``changes`` (already written) call for.

    A change that can notify nobody but its actor reads nothing more (a create with no
    assignee, or assigned to its creator, costs no statement here)."""
    audience = _Audience(uow)
    pending: list[Pending] = []
    for change in changes:
        if change.entity_type is EntityType.WORK_ITEM and isinstance(change.entity, WorkItem):
            _item_changed(uow, audience, change, changes, actor_id, pending)
        elif change.entity_type is EntityType.COMMENT and isinstance(change.entity, Comment):
            _commented(uow, audience, change, actor_id, pending)
    return pending


def _item_changed(
    uow: UnitOfWork,
    audience: _Audience,
    change: Change,
    changes: Sequence[Change],
    actor_id: str,
    pending: list[Pending],
) -> None:
    item = change.entity
    assert isinstance(item, WorkItem)
    assigned: str | None = None
    watchers: set[str] = set()
    if change.action is Action.CREATED:
        assigned = item.assignee_id
    elif change.action is Action.UPDATED:
        fields = {c.field for c in change.changes}
        if "assignee_id" in fields:
            assigned = item.assignee_id
        if fields - _QUIET_FIELDS or change.cascaded_ids:
            watchers = uow.watches.watchers(item)
    else:  # deleted: the choices of its watchers went with it, in this same mutation
        watchers = default_watchers(item)
        for c in changes:
            if isinstance(c.entity, Watch) and c.entity.work_item_id == item.id:
                if c.entity.watching:
                    watchers.add(c.entity.user_id)
                else:
                    watchers.discard(c.entity.user_id)
    reasons: dict[str, NotificationReason] = {}
    if assigned is not None:
        reasons[assigned] = NotificationReason.ASSIGNED
    for user_id in sorted(watchers):
        reasons.setdefault(user_id, NotificationReason.WATCHED)
    _add(pending, audience, change, reasons, actor_id, item.project_id, item.id)


def _commented(
    uow: UnitOfWork,
    audience: _Audience,
    change: Change,
    actor_id: str,
    pending: list[Pending],
) -> None:
    comment = change.entity
    assert isinstance(comment, Comment)
    project_id = comment.project_id
    reasons: dict[str, NotificationReason] = {}
    if change.action is Action.CREATED:
        for user_id in sorted(audience.named(project_id, comment.body)):
            reasons[user_id] = NotificationReason.MENTIONED
        item = uow.work_items.find(comment.work_item_id)
        for user_id in sorted(uow.watches.watchers(item)) if item is not None else ():
            reasons.setdefault(user_id, NotificationReason.WATCHED)
    elif change.action is Action.UPDATED:
        old = next((c.old for c in change.changes if c.field == "body"), None)
        if not isinstance(old, str):
            return
        newly = audience.named(project_id, comment.body) - audience.named(project_id, old)
        for user_id in sorted(newly):
            reasons[user_id] = NotificationReason.MENTIONED
    _add(pending, audience, change, reasons, actor_id, project_id, comment.work_item_id, comment.id)


def _add(
    pending: list[Pending],
    audience: _Audience,
    change: Change,
    reasons: Mapping[str, NotificationReason],
    actor_id: str,
    project_id: str,
    work_item_id: str,
    comment_id: str | None = None,
) -> None:
    """The notifications of ``reasons`` but the actor's and non-members'."""
    recipients = [user_id for user_id in reasons if user_id != actor_id]
    if not recipients:  # nobody to check: no read of the members
        return
    members = audience.ids(project_id)
    for user_id in recipients:
        if user_id in members:
            pending.append(Pending(change, user_id, reasons[user_id], work_item_id, comment_id))


def write(
    uow: UnitOfWork, pending: Sequence[Pending], seqs: Mapping[int, int], actor_id: str
) -> list[tuple[str, int, bytes]]:
    """Store the pending notifications (``seqs``: each change's event seq, by ``id()``);
    each recipient's inbox scope, seq and encoded event, to publish after the commit."""
    notifications = [
        Notification(
            id=new_id(),
            user_id=p.user_id,
            project_id=str(p.change.project_id),
            work_item_id=p.work_item_id,
            comment_id=p.comment_id,
            actor_id=actor_id,
            reason=p.reason,
            seq=seqs[id(p.change)],
            created_at=uow.now,
            updated_at=uow.now,
        )
        for p in pending
        if id(p.change) in seqs
    ]
    if not notifications:
        return []
    uow.notifications.add(notifications)
    return [(inbox_scope(n.user_id), n.seq, encode(n)) for n in notifications]


def encode(notification: Notification) -> bytes:
    """The event carrying ``notification`` to its user's inbox subscription."""
    # No project_id: the event is the inbox's, not the project's (a client keys its
    # streams by it); the notification names its project.
    return events_pb2.Event(
        seq=notification.seq,
        actor_id=notification.actor_id,
        occurred_at=to_timestamp(notification.created_at),
        entity_type=pb_enums.to_pb_entity_type(EntityType.NOTIFICATION),
        entity_id=notification.id,
        action=pb_enums.to_pb_action(Action.CREATED),
        notification=pb_entities.to_pb(notification, entities_pb2.Notification),
    ).SerializeToString()
