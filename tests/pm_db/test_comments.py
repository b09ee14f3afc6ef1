"""CommentRepository against a real migrated tenant database."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import WorkItemType
from pm_core.errors import ConflictError, NotFoundError, ValidationError
from pm_core.models import Project, User, WorkItem
from pm_core.text import COMMENT_MAX
from pm_db.codec import db_time, new_id
from pm_db.repositories.comments import CommentRepository
from pm_db.unit_of_work import UnitOfWork


@pytest.fixture
def comments(uow: UnitOfWork) -> CommentRepository:
    return uow.comments


@pytest.fixture
def item(uow: UnitOfWork, project: Project, user: User) -> WorkItem:
    return uow.work_items.create(
        project_id=project.id, type=WorkItemType.TASK, title="Fix it", created_by=user.id
    )


def test_create_comment_reads_back_equal(comments, item, user, now) -> None:
    created = comments.create(item=item, author_id=user.id, body="Looks good 👍")

    assert created.project_id == item.project_id
    assert (created.version, created.created_at, created.deleted_at) == (1, now, None)
    assert comments.get(created.id) == created
    assert comments.find(created.id) == created


@pytest.mark.parametrize("body", ["", "x" * (COMMENT_MAX + 1), "bell \x07"])
def test_create_comment_with_invalid_body_is_refused(comments, item, user, body) -> None:
    with pytest.raises(ValidationError) as info:
        comments.create(item=item, author_id=user.id, body=body)
    assert info.value.field == "body"


def test_list_comments_oldest_first_with_paging(conn, now, item, user) -> None:
    made = [
        CommentRepository(conn, now + timedelta(seconds=offset)).create(
            item=item, author_id=user.id, body=f"c{offset}"
        )
        for offset in (0, 1, 1, 2, 3)
    ]
    comments = CommentRepository(conn, now)

    first = comments.list(item.id, limit=2)
    rest = comments.list(item.id, limit=10, after_id=first[-1].id)

    assert first + rest == made
    assert comments.list(item.id, after_id=made[-1].id) == []


def test_list_comments_excludes_deleted_and_other_items(uow, comments, item, project, user):
    other = uow.work_items.create(
        project_id=project.id, type=WorkItemType.TASK, title="Other", created_by=user.id
    )
    kept = comments.create(item=item, author_id=user.id, body="kept")
    gone = comments.create(item=item, author_id=user.id, body="gone")
    comments.create(item=other, author_id=user.id, body="elsewhere")
    comments.soft_delete(gone.id, gone.version)

    assert comments.list(item.id) == [kept]


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_comments_with_out_of_range_limit_is_refused(comments, item, limit) -> None:
    with pytest.raises(ValidationError) as info:
        comments.list(item.id, limit=limit)
    assert info.value.field == "limit"


def test_edit_comment_returns_change_and_persists(conn, now, comments, item, user) -> None:
    created = comments.create(item=item, author_id=user.id, body="typo")
    later = now + timedelta(minutes=1)

    edited = CommentRepository(conn, later).edit(created.id, 1, "fixed")

    assert (edited.entity.body, edited.entity.version, edited.entity.updated_at) == (
        "fixed",
        2,
        later,
    )
    assert [(c.field, c.old, c.new) for c in edited.changes] == [("body", "typo", "fixed")]
    assert comments.get(created.id) == edited.entity


def test_edit_comment_with_stale_version_conflicts(comments, item, user) -> None:
    created = comments.create(item=item, author_id=user.id, body="one")
    current = comments.edit(created.id, 1, "two").entity

    with pytest.raises(ConflictError) as info:
        comments.edit(created.id, 1, "three")
    assert (info.value.current_version, info.value.current) == (2, current)
    assert comments.get(created.id).body == "two"


def test_edit_comment_with_empty_body_is_refused(comments, item, user) -> None:
    created = comments.create(item=item, author_id=user.id, body="one")

    with pytest.raises(ValidationError):
        comments.edit(created.id, 1, "")
    assert comments.get(created.id) == created


def test_soft_delete_comment_hides_it_and_keeps_the_row(conn, comments, item, user, now) -> None:
    created = comments.create(item=item, author_id=user.id, body="bye")

    deleted = comments.soft_delete(created.id, 1)

    assert (deleted.version, deleted.deleted_at) == (2, now)
    assert comments.find(created.id) is None
    with pytest.raises(NotFoundError):
        comments.get(created.id)
    with pytest.raises(NotFoundError):
        comments.edit(created.id, 2, "again")
    row = conn.execute(
        "SELECT body, deleted_at FROM comments WHERE id = ?", (created.id,)
    ).fetchone()
    assert (row["body"], row["deleted_at"]) == ("bye", db_time(now))


def test_soft_delete_comment_with_stale_version_conflicts(comments, item, user) -> None:
    created = comments.create(item=item, author_id=user.id, body="one")
    comments.edit(created.id, 1, "two")

    with pytest.raises(ConflictError) as info:
        comments.soft_delete(created.id, 1)
    assert info.value.current_version == 2
    assert comments.find(created.id) is not None


def test_comment_on_unknown_item_is_refused_by_database(conn, now, project, user) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO comments (id, project_id, work_item_id, author_id, body, created_at,"
            " updated_at) VALUES (?, ?, 'nope', ?, 'x', ?, ?)",
            (new_id(), project.id, user.id, db_time(now), db_time(now)),
        )


def test_hard_delete_of_work_item_removes_its_comments(conn, comments, item, user) -> None:
    created = comments.create(item=item, author_id=user.id, body="x")

    conn.execute("DELETE FROM work_items WHERE id = ?", (item.id,))

    assert conn.execute("SELECT 1 FROM comments WHERE id = ?", (created.id,)).fetchone() is None


comment_text = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n\r\t"),
    min_size=1,
    max_size=300,
)


@settings(max_examples=50)
@given(
    body=st.one_of(
        comment_text,
        st.sampled_from(["😀" * COMMENT_MAX, "界" * COMMENT_MAX, "x", "🇺🇳\n\t界"]),
    ),
    new_body=comment_text,
)
def test_comment_round_trip(comments, item, user, body, new_body) -> None:
    created = comments.create(item=item, author_id=user.id, body=body)
    assert comments.get(created.id) == created
    assert created.body == body

    edited = comments.edit(created.id, created.version, new_body).entity
    assert comments.get(created.id) == edited
    assert edited.body == new_body
