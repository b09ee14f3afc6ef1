"""Full-text search in the tenant database: what the triggers index, ranking, reach."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pm_core.enums import Role, WorkItemStatus, WorkItemType
from pm_core.errors import ValidationError
from pm_core.models import WorkItemPatch
from pm_core.search import MARK_END, MARK_START, match_query
from pm_db.migrator import load_migrations, migrate
from pm_db.repositories.search import SearchFilter
from pm_db.unit_of_work import UnitOfWork

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TASK = WorkItemType.TASK


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "main.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, load_migrations())
    uow = UnitOfWork(conn, NOW)
    for user in ("alice", "bob"):
        uow.users.upsert(user_id=user, display_name=user.title())
    yield conn
    conn.close()


def uow_of(conn: sqlite3.Connection) -> UnitOfWork:
    return UnitOfWork(conn, NOW)


def titles(
    conn: sqlite3.Connection, text: str, user: str = "alice", **filters: object
) -> list[str]:
    hits = uow_of(conn).search.search(
        SearchFilter(query=match_query(text), **filters),  # type: ignore[arg-type]
        user_id=user,
        everywhere=False,
    )
    return [hit.item.title for hit in hits]


def project(conn: sqlite3.Connection, key: str, owner: str = "alice") -> str:
    uow = uow_of(conn)
    created = uow.projects.create(key=key, name=key, created_by=owner)
    uow.members.add(project_id=created.id, user_id=owner, role=Role.ADMIN)
    return created.id


def item(conn: sqlite3.Connection, project_id: str, title: str, description: str = "") -> str:
    created = uow_of(conn).work_items.create(
        project_id=project_id, type=TASK, title=title, description=description, created_by="alice"
    )
    return created.id


def test_an_exact_title_match_ranks_above_a_description_match(conn: sqlite3.Connection) -> None:
    pid = project(conn, "PM")
    item(conn, pid, "Payment page", "nothing about it")
    item(conn, pid, "Checkout", "the invoice goes to the billing system")
    item(conn, pid, "Invoice", "render it as a PDF")
    assert titles(conn, "invoice") == ["Invoice", "Checkout"]


def test_words_match_as_prefixes_all_of_them_required(conn: sqlite3.Connection) -> None:
    pid = project(conn, "PM")
    item(conn, pid, "Login page redesign")
    item(conn, pid, "Logout button")
    assert sorted(titles(conn, "log")) == ["Login page redesign", "Logout button"]
    assert titles(conn, "log pag") == ["Login page redesign"]
    assert titles(conn, 'LOGIN "page" -redesign*') == ["Login page redesign"]


def test_comments_are_found_and_leave_the_index_when_deleted(conn: sqlite3.Connection) -> None:
    pid = project(conn, "PM")
    item_id = item(conn, pid, "Crash on start")
    uow = uow_of(conn)
    comment = uow.comments.create(
        item=uow.work_items.get(item_id), author_id="bob", body="stack trace mentions zebra"
    )
    assert titles(conn, "zebra") == ["Crash on start"]
    uow_of(conn).comments.edit(comment.id, None, "stack trace mentions okapi")
    assert titles(conn, "zebra") == []
    assert titles(conn, "okapi") == ["Crash on start"]
    uow_of(conn).comments.soft_delete(comment.id, None)
    assert titles(conn, "okapi") == []


def test_edits_and_deletes_of_items_reach_the_index(conn: sqlite3.Connection) -> None:
    pid = project(conn, "PM")
    item_id = item(conn, pid, "Old wording")
    uow_of(conn).work_items.update(item_id, None, WorkItemPatch(title="New wording"))
    assert titles(conn, "old") == []
    assert titles(conn, "new") == ["New wording"]
    uow_of(conn).work_items.soft_delete(item_id, None)
    assert titles(conn, "wording") == []


def test_only_projects_the_caller_is_a_member_of_are_searched(conn: sqlite3.Connection) -> None:
    mine = project(conn, "MINE")
    theirs = project(conn, "THEIRS", owner="bob")
    item(conn, mine, "Shared word alpha")
    item(conn, theirs, "Secret word alpha")
    assert titles(conn, "alpha") == ["Shared word alpha"]
    assert titles(conn, "alpha", user="bob") == ["Secret word alpha"]
    everything = uow_of(conn).search.search(
        SearchFilter(query=match_query("alpha")), user_id="root", everywhere=True
    )
    assert len(everything) == 2
    uow_of(conn).members.add(project_id=theirs, user_id="alice", role=Role.VIEWER)
    assert sorted(titles(conn, "alpha")) == ["Secret word alpha", "Shared word alpha"]


def test_filters_narrow_the_matches(conn: sqlite3.Connection) -> None:
    pid = project(conn, "PM")
    first = item(conn, pid, "Report one")
    item(conn, pid, "Report two")
    uow_of(conn).work_items.update(first, None, WorkItemPatch(status=WorkItemStatus.DONE))
    assert titles(conn, "report", statuses=[WorkItemStatus.DONE]) == ["Report one"]
    assert titles(conn, "report", project_id="elsewhere") == []


def test_the_snippet_marks_the_matched_words(conn: sqlite3.Connection) -> None:
    pid = project(conn, "PM")
    item(conn, pid, "Plain title", "a long description where the keyword appears once")
    (hit,) = uow_of(conn).search.search(
        SearchFilter(query=match_query("keyword")), user_id="alice", everywhere=False
    )
    assert f"{MARK_START}keyword{MARK_END}" in hit.snippet


def test_existing_items_are_indexed_by_the_migration(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        migrations = load_migrations()
        (search_version,) = [m.version for m in migrations if m.name == "search"]
        migrate(conn, migrations[: search_version - 1])
        uow = uow_of(conn)
        uow.users.upsert(user_id="alice", display_name="Alice")
        pid = project(conn, "OLD")
        old = item(conn, pid, "Written before search", "existed already")
        uow.comments.create(item=uow.work_items.get(old), author_id="alice", body="giraffe")
        migrate(conn, migrations)
        assert titles(conn, "giraffe") == ["Written before search"]
        assert titles(conn, "existed") == ["Written before search"]
    finally:
        conn.close()


@pytest.mark.parametrize("text", ["", "   ", "!!! ???", " ".join(["w"] * 17), "x" * 501])
def test_a_query_without_words_or_too_long_is_refused(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        match_query(text)
    assert raised.value.field == "query"
