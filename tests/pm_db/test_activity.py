"""The activity log: one row per changed field, newest first, never deleted."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import Action, EntityType
from pm_core.errors import ValidationError
from pm_core.models import FieldChange
from pm_db.codec import new_id
from pm_db.repositories.activity import ActivityLogRepository

PROJECT = "p-1"
ITEM = "w-1"


@pytest.fixture
def activity(conn: sqlite3.Connection, now: datetime) -> ActivityLogRepository:
    return ActivityLogRepository(conn, now)


def _update(repo: ActivityLogRepository, entity_id: str, *changes: FieldChange) -> None:
    repo.record(
        entity_type=EntityType.WORK_ITEM,
        entity_id=entity_id,
        project_id=PROJECT,
        action=Action.UPDATED,
        actor_id="u-alice",
        changes=changes,
    )


def test_record_update_writes_one_row_per_changed_field(
    activity: ActivityLogRepository, conn: sqlite3.Connection
) -> None:
    changes = [
        FieldChange(field="status", old="todo", new="done"),
        FieldChange(field="story_points", old=None, new=5),
    ]

    written = activity.record(
        entity_type=EntityType.WORK_ITEM,
        entity_id=ITEM,
        project_id=PROJECT,
        action=Action.UPDATED,
        actor_id="u-alice",
        changes=changes,
    )

    assert [(e.field, e.old_value, e.new_value) for e in written] == [
        ("status", "todo", "done"),
        ("story_points", None, 5),
    ]
    stored = conn.execute(
        "SELECT field, old_value, new_value FROM activity_log ORDER BY id"
    ).fetchall()
    assert [tuple(row) for row in stored] == [
        ("status", '"todo"', '"done"'),
        ("story_points", None, "5"),
    ]
    assert activity.list_for_entity(EntityType.WORK_ITEM, ITEM) == list(reversed(written))


def test_record_update_without_changes_writes_nothing(activity: ActivityLogRepository) -> None:
    _update(activity, ITEM)

    assert activity.list_for_entity(EntityType.WORK_ITEM, ITEM) == []


def test_record_created_writes_one_row_without_field(activity: ActivityLogRepository) -> None:
    plain = activity.record(
        entity_type=EntityType.PROJECT,
        entity_id="p-1",
        project_id="p-1",
        action=Action.CREATED,
        actor_id="u-alice",
    )
    with_values = activity.record(
        entity_type=EntityType.WORK_ITEM,
        entity_id=ITEM,
        project_id=PROJECT,
        action=Action.CREATED,
        actor_id="u-alice",
        changes=[FieldChange(field="title", new="Ship it"), FieldChange(field="type", new="task")],
    )

    assert [(e.action, e.field, e.old_value, e.new_value) for e in plain] == [
        (Action.CREATED, None, None, None)
    ]
    assert [(e.field, e.new_value) for e in with_values] == [
        (None, {"title": "Ship it", "type": "task"})
    ]
    assert activity.list_for_entity(EntityType.WORK_ITEM, ITEM) == with_values


def test_record_deleted_writes_one_row_with_the_last_values(
    activity: ActivityLogRepository,
) -> None:
    written = activity.record(
        entity_type=EntityType.COMMENT,
        entity_id="c-1",
        project_id=PROJECT,
        action=Action.DELETED,
        actor_id=None,
        changes=[FieldChange(field="body", old="bye")],
    )

    [entry] = activity.list_for_entity(EntityType.COMMENT, "c-1")
    assert entry == written[0]
    assert (entry.action, entry.field, entry.old_value, entry.new_value) == (
        Action.DELETED,
        None,
        {"body": "bye"},
        None,
    )
    assert entry.actor_id is None


def test_activity_log_has_no_soft_delete_or_version_column(conn: sqlite3.Connection) -> None:
    columns = {row["name"] for row in conn.execute("PRAGMA table_info(activity_log)")}

    assert "deleted_at" not in columns
    assert "version" not in columns


def test_record_with_invalid_entity_id_writes_nothing(
    activity: ActivityLogRepository, conn: sqlite3.Connection
) -> None:
    with pytest.raises(ValidationError) as caught:
        _update(activity, "", FieldChange(field="status", old="a", new="b"))

    assert caught.value.field == "entity_id"
    assert conn.execute("SELECT count(*) FROM activity_log").fetchone()[0] == 0


def test_list_for_entity_pages_newest_first_without_gaps(
    conn: sqlite3.Connection, now: datetime
) -> None:
    for minute in range(7):
        repo = ActivityLogRepository(conn, now + timedelta(minutes=minute))
        _update(repo, ITEM, FieldChange(field="position", old=minute, new=minute + 1))
    _update(ActivityLogRepository(conn, now), "w-other", FieldChange(field="title", new="x"))
    repo = ActivityLogRepository(conn, now)

    pages = []
    before: str | None = None
    while True:
        page = repo.list_for_entity(EntityType.WORK_ITEM, ITEM, limit=3, before_id=before)
        if not page:
            break
        pages.append(page)
        before = page[-1].id

    assert [len(page) for page in pages] == [3, 3, 1]
    entries = [entry for page in pages for entry in page]
    assert [e.new_value for e in entries] == [7, 6, 5, 4, 3, 2, 1]
    assert [e.created_at for e in entries] == sorted((e.created_at for e in entries), reverse=True)


def test_list_for_project_returns_only_that_project_newest_first(
    activity: ActivityLogRepository,
) -> None:
    for entity_id, project_id in [("w-1", "p-1"), ("w-2", "p-2"), ("w-3", "p-1")]:
        activity.record(
            entity_type=EntityType.WORK_ITEM,
            entity_id=entity_id,
            project_id=project_id,
            action=Action.CREATED,
            actor_id="u-alice",
        )

    first = activity.list_for_project("p-1", limit=1)
    rest = activity.list_for_project("p-1", before_id=first[0].id)

    assert [e.entity_id for e in first + rest] == ["w-3", "w-1"]
    assert activity.list_for_project("p-3") == []


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_list_with_out_of_range_limit_is_refused(
    activity: ActivityLogRepository, limit: int
) -> None:
    with pytest.raises(ValidationError) as caught:
        activity.list_for_entity(EntityType.WORK_ITEM, ITEM, limit=limit)

    assert caught.value.field == "limit"


_TEXT = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("漢字テスト😀👍🏽"))
_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=8,
)


@settings(max_examples=50)
@given(
    changes=st.lists(
        st.builds(FieldChange, field=_TEXT, old=_JSON, new=_JSON), min_size=1, max_size=5
    ),
    project_id=st.none() | st.text(alphabet="abc-123漢😀", min_size=1, max_size=64),
    actor_id=st.none() | st.just("u-😀-漢字"),
)
def test_activity_entries_round_trip(
    activity: ActivityLogRepository,
    changes: list[FieldChange],
    project_id: str | None,
    actor_id: str | None,
) -> None:
    entity_id = new_id()

    written = activity.record(
        entity_type=EntityType.TIME_ENTRY,
        entity_id=entity_id,
        project_id=project_id,
        action=Action.UPDATED,
        actor_id=actor_id,
        changes=changes,
    )

    read = activity.list_for_entity(EntityType.TIME_ENTRY, entity_id, limit=10)
    assert read == list(reversed(written))
    assert [(e.field, e.old_value, e.new_value) for e in reversed(read)] == [
        (c.field, c.old, c.new) for c in changes
    ]
