"""The inbox and the watches against a real migrated tenant database."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest

from pm_core.enums import NotificationReason, WorkItemType
from pm_core.models import Notification, Project, User, WorkItem
from pm_db.codec import new_id
from pm_db.repositories.notifications import READ_RETENTION, RETENTION
from pm_db.unit_of_work import UnitOfWork


@pytest.fixture
def item(uow: UnitOfWork, project: Project, user: User) -> WorkItem:
    return uow.work_items.create(
        project_id=project.id, type=WorkItemType.TASK, title="Fix it", created_by=user.id
    )


def note(item: WorkItem, user_id: str, seq: int, at: datetime) -> Notification:
    return Notification(
        id=new_id(),
        user_id=user_id,
        project_id=item.project_id,
        work_item_id=item.id,
        actor_id=user_id,
        reason=NotificationReason.WATCHED,
        seq=seq,
        created_at=at,
        updated_at=at,
    )


def test_one_notification_per_user_and_seq(uow: UnitOfWork, item: WorkItem, user: User) -> None:
    uow.notifications.add([note(item, user.id, 1, uow.now)])
    with pytest.raises(sqlite3.IntegrityError):
        uow.notifications.add([note(item, user.id, 1, uow.now)])


def test_retention_purges_old_read_ones_and_any_very_old_one(
    conn: sqlite3.Connection, now: datetime, item: WorkItem, user: User
) -> None:
    past = now - RETENTION - timedelta(days=1)
    old = UnitOfWork(conn, past)
    old_unread, read_long_ago, too_old = (note(item, user.id, seq, past) for seq in (1, 2, 3))
    old.notifications.add([old_unread, read_long_ago])
    old.notifications.mark_read(user.id, ids=[read_long_ago.id])
    recent = UnitOfWork(conn, now - READ_RETENTION + timedelta(days=1))
    fresh = note(item, user.id, 4, recent.now)
    recent.notifications.add([fresh, too_old.model_copy(update={"created_at": past})])
    recent.notifications.mark_read(user.id, ids=[fresh.id])
    # Read 29 days ago: kept. Read long ago, or created more than 90 days ago: gone.
    assert UnitOfWork(conn, now).notifications.purge_expired() == 3
    left = UnitOfWork(conn, now).notifications.page(user.id)
    assert [n.id for n in left] == [fresh.id]


def test_watchers_are_creator_and_assignee_unless_they_unwatch(
    uow: UnitOfWork, item: WorkItem, user: User
) -> None:
    assert uow.watches.watchers(item) == {user.id}
    uow.users.upsert(user_id="other", display_name="Other")
    watch, changed = uow.watches.choose(item, "other", watching=True)
    assert changed
    assert watch.watching
    assert uow.watches.choose(item, "other", watching=True) == (watch, False)
    unwatched, changed = uow.watches.choose(item, user.id, watching=False)
    assert changed
    assert not unwatched.watching
    assert uow.watches.watchers(item) == {"other"}
