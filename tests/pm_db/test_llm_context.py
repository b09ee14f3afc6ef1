"""llm_context rows: create, read, list filters, versioned update, soft delete."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.enums import LlmContextType
from pm_core.errors import ConflictError, NotFoundError, ValidationError
from pm_core.models import LlmContext, LlmContextPatch, Project, User
from pm_db.codec import db_time
from pm_db.repositories.llm_context import LlmContextRepository
from pm_db.unit_of_work import UnitOfWork

TEST_CATEGORY = "test-only"


@pytest.fixture
def contexts(conn: sqlite3.Connection, now: datetime) -> LlmContextRepository:
    return LlmContextRepository(conn, now)


@pytest.fixture
def other_project(uow: UnitOfWork, user: User) -> Project:
    return uow.projects.create(key="OT", name="Other", created_by=user.id)


def _rule(
    repo: LlmContextRepository,
    title: str,
    *,
    context_type: LlmContextType = LlmContextType.BUSINESS_RULE,
    category: str = TEST_CATEGORY,
    priority: int = 50,
    project_id: str | None = None,
    created_by: str | None = None,
) -> LlmContext:
    return repo.create(
        context_type=context_type,
        title=title,
        content=f"content of {title}",
        category=category,
        priority=priority,
        project_id=project_id,
        created_by=created_by,
    )


def test_create_then_get_returns_the_same_row(
    contexts: LlmContextRepository, project: Project, user: User, now: datetime
) -> None:
    created = contexts.create(
        context_type=LlmContextType.QUERY_PATTERN,
        title="Open bugs",
        content="Bugs are tasks with 'bug' in the title.\n\tIndented line.",
        category="work_items",
        example_sql="SELECT id FROM work_items WHERE deleted_at IS NULL",
        priority=75,
        project_id=project.id,
        created_by=user.id,
    )

    assert contexts.get(created.id) == created
    assert (created.version, created.created_at, created.deleted_at) == (1, now, None)
    assert created.project_id == project.id


def test_create_defaults_to_a_tenant_wide_row(contexts: LlmContextRepository) -> None:
    created = contexts.create(
        context_type=LlmContextType.INSTRUCTION, title="Be brief", content="Answer briefly."
    )

    assert contexts.get(created.id) == created
    assert (created.project_id, created.category, created.priority) == (None, "", 50)
    assert created.example_sql is None


def test_create_in_unknown_or_deleted_project_is_not_found(
    contexts: LlmContextRepository, uow: UnitOfWork, other_project: Project
) -> None:
    uow.projects.soft_delete(other_project.id, other_project.version)

    for project_id in ("p-missing", other_project.id):
        with pytest.raises(NotFoundError) as caught:
            _rule(contexts, "Orphan", project_id=project_id)
        assert (caught.value.entity, caught.value.entity_id) == ("project", project_id)


def test_create_by_unknown_user_is_not_found(contexts: LlmContextRepository) -> None:
    with pytest.raises(NotFoundError) as caught:
        _rule(contexts, "Ghost", created_by="u-missing")

    assert (caught.value.entity, caught.value.entity_id) == ("user", "u-missing")


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "   "), ("title", "two\nlines"), ("content", ""), ("priority", 101)],
)
def test_create_with_invalid_field_is_refused(
    contexts: LlmContextRepository, conn: sqlite3.Connection, field: str, value: object
) -> None:
    fields: dict[str, object] = {
        "context_type": LlmContextType.EXAMPLE,
        "title": "ok",
        "content": "ok",
        "priority": 10,
    }
    fields[field] = value

    with pytest.raises(ValidationError) as caught:
        contexts.create(**fields)  # type: ignore[arg-type]

    assert caught.value.field == field
    assert conn.execute("SELECT count(*) FROM llm_context WHERE title = 'ok'").fetchone()[0] == 0


def test_get_unknown_context_is_not_found(contexts: LlmContextRepository) -> None:
    assert contexts.find("nope") is None
    with pytest.raises(NotFoundError):
        contexts.get("nope")


def test_list_returns_project_and_global_rows_by_priority_then_title(
    contexts: LlmContextRepository, project: Project, other_project: Project
) -> None:
    b = _rule(contexts, "B global", priority=60)
    a = _rule(contexts, "A project", priority=60, project_id=project.id)
    top = _rule(contexts, "Z project", priority=90, project_id=project.id)
    low = _rule(contexts, "C global", priority=10)
    _rule(contexts, "Other project", priority=99, project_id=other_project.id)

    listed = contexts.list(project_id=project.id, category=TEST_CATEGORY)
    project_only = contexts.list(
        project_id=project.id, include_global=False, category=TEST_CATEGORY
    )
    global_only = contexts.list(category=TEST_CATEGORY)

    assert [c.title for c in listed] == [top.title, a.title, b.title, low.title]
    assert [c.title for c in project_only] == [top.title, a.title]
    assert [c.title for c in global_only] == [b.title, low.title]
    assert contexts.list(project_id=project.id, category=TEST_CATEGORY, limit=2) == [top, a]


def test_list_filters_by_context_type_and_category(
    contexts: LlmContextRepository, project: Project
) -> None:
    rule = _rule(contexts, "Rule", project_id=project.id)
    query = _rule(
        contexts, "Query", project_id=project.id, context_type=LlmContextType.QUERY_PATTERN
    )
    _rule(contexts, "Elsewhere", project_id=project.id, category="other")

    def listed(
        context_types: list[LlmContextType] | set[LlmContextType] | None = None,
        category: str | None = None,
    ) -> list[str]:
        found = contexts.list(
            project_id=project.id,
            include_global=False,
            context_types=context_types,
            category=category,
        )
        return [c.title for c in found]

    assert listed(context_types=[LlmContextType.BUSINESS_RULE], category=TEST_CATEGORY) == [
        rule.title
    ]
    assert listed(
        context_types={LlmContextType.BUSINESS_RULE, LlmContextType.QUERY_PATTERN},
        category=TEST_CATEGORY,
    ) == [query.title, rule.title]
    assert listed(context_types=[]) == []
    assert listed(category="other") == ["Elsewhere"]
    assert len(listed()) == 3


def test_list_includes_the_seeded_global_rows(contexts: LlmContextRepository) -> None:
    docs = contexts.list(context_types=[LlmContextType.SCHEMA_DOC])

    assert "work_items" in {c.category for c in docs}
    assert all(c.project_id is None for c in docs)


def test_update_with_current_version_writes_and_reports_changes(
    conn: sqlite3.Connection, contexts: LlmContextRepository, now: datetime
) -> None:
    created = _rule(contexts, "Rule", priority=20)
    later = now + timedelta(minutes=5)

    updated = LlmContextRepository(conn, later).update(
        created.id, 1, LlmContextPatch(priority=80, example_sql="SELECT 1", title="Rule")
    )

    assert (updated.entity.version, updated.entity.priority, updated.entity.updated_at) == (
        2,
        80,
        later,
    )
    assert [(c.field, c.old, c.new) for c in updated.changes] == [
        ("example_sql", None, "SELECT 1"),
        ("priority", 20, 80),
    ]
    assert contexts.get(created.id) == updated.entity


def test_update_with_stale_version_conflicts_with_the_current_row(
    contexts: LlmContextRepository,
) -> None:
    created = _rule(contexts, "Rule")
    current = contexts.update(created.id, 1, LlmContextPatch(content="newer")).entity

    with pytest.raises(ConflictError) as caught:
        contexts.update(created.id, 1, LlmContextPatch(content="stale"))

    assert caught.value.current_version == 2
    assert caught.value.current == current
    assert contexts.get(created.id).content == "newer"


def test_soft_delete_hides_the_row_but_keeps_it_in_the_table(
    conn: sqlite3.Connection, contexts: LlmContextRepository, now: datetime
) -> None:
    created = _rule(contexts, "Rule")

    deleted = contexts.soft_delete(created.id, 1)

    assert (deleted.version, deleted.deleted_at) == (2, now)
    assert contexts.find(created.id) is None
    with pytest.raises(NotFoundError):
        contexts.update(created.id, 2, LlmContextPatch(content="zombie"))
    assert contexts.list(category=TEST_CATEGORY) == []
    row = conn.execute(
        "SELECT version, deleted_at, content FROM llm_context WHERE id = ?", (created.id,)
    ).fetchone()
    assert tuple(row) == (2, db_time(now), created.content)


def test_soft_delete_with_stale_version_conflicts(contexts: LlmContextRepository) -> None:
    created = _rule(contexts, "Rule")
    contexts.update(created.id, 1, LlmContextPatch(priority=1))

    with pytest.raises(ConflictError) as caught:
        contexts.soft_delete(created.id, 1)

    assert caught.value.current_version == 2
    assert contexts.get(created.id).priority == 1


_LINE = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")) | st.sampled_from(
    "漢字テスト😀👍🏽🇩🇪"
)
_TITLE = st.text(alphabet=_LINE, min_size=1, max_size=60).filter(lambda s: s.strip() != "")
_CONTENT = st.text(alphabet=_LINE | st.sampled_from("\n\t"), min_size=1, max_size=300)


@settings(max_examples=50)
@given(
    context_type=st.sampled_from(LlmContextType),
    title=_TITLE,
    content=_CONTENT,
    category=st.text(alphabet=_LINE, max_size=30),
    example_sql=st.none() | _CONTENT,
    priority=st.integers(min_value=0, max_value=100),
    with_project=st.booleans(),
)
def test_llm_context_round_trip(
    contexts: LlmContextRepository,
    project: Project,
    context_type: LlmContextType,
    title: str,
    content: str,
    category: str,
    example_sql: str | None,
    priority: int,
    with_project: bool,
) -> None:
    created = contexts.create(
        context_type=context_type,
        title=title,
        content=content,
        category=category,
        example_sql=example_sql,
        priority=priority,
        project_id=project.id if with_project else None,
    )

    assert contexts.get(created.id) == created
    assert created.content == content
    assert created.example_sql == example_sql
    assert created.title == title.strip()
    listed = contexts.list(project_id=project.id, category=created.category, limit=1000)
    assert created in listed
