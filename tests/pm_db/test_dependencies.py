"""DependencyRepository against a real migrated tenant database."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from pm_core.enums import DependencyType, WorkItemType
from pm_core.errors import DependencyCycleError, DuplicateError, NotFoundError, RuleViolationError
from pm_core.models import Dependency, Project, User, WorkItem
from pm_core.rules.dependencies import MAX_DEPENDENCIES_PER_ITEM
from pm_db.codec import db_time, new_id
from pm_db.repositories.dependencies import DependencyRepository
from pm_db.unit_of_work import UnitOfWork

BLOCKS, RELATES = DependencyType.BLOCKS, DependencyType.RELATES_TO


@pytest.fixture
def deps(uow: UnitOfWork) -> DependencyRepository:
    return uow.dependencies


@pytest.fixture
def new_item(uow: UnitOfWork, project: Project, user: User) -> Callable[..., WorkItem]:
    def make(title: str = "item", project_id: str | None = None) -> WorkItem:
        return uow.work_items.create(
            project_id=project_id or project.id,
            type=WorkItemType.TASK,
            title=title,
            created_by=user.id,
        )

    return make


@pytest.fixture
def a(new_item: Callable[..., WorkItem]) -> WorkItem:
    return new_item("A")


@pytest.fixture
def b(new_item: Callable[..., WorkItem]) -> WorkItem:
    return new_item("B")


@pytest.fixture
def c(new_item: Callable[..., WorkItem]) -> WorkItem:
    return new_item("C")


@pytest.fixture
def link(
    deps: DependencyRepository, user: User
) -> Callable[[WorkItem, WorkItem, DependencyType], Dependency]:
    def make(source: WorkItem, target: WorkItem, type_: DependencyType = BLOCKS) -> Dependency:
        return deps.create(from_item=source, to_item=target, type=type_, created_by=user.id)

    return make


def test_create_dependency_reads_back_equal(deps, link, a, b, now) -> None:
    created = link(a, b)

    assert (created.from_item_id, created.to_item_id, created.type) == (a.id, b.id, BLOCKS)
    assert (created.project_id, created.version, created.created_at) == (a.project_id, 1, now)
    assert deps.get(created.id) == created


def test_list_for_item_splits_outgoing_and_incoming(deps, link, a, b, c) -> None:
    a_blocks_b = link(a, b)
    c_blocks_a = link(c, a)
    a_relates_c = link(a, c, RELATES)

    outgoing, incoming = deps.list_for_item(a.id)

    assert outgoing == [a_blocks_b, a_relates_c]
    assert incoming == [c_blocks_a]
    assert deps.list_for_item(b.id) == ([], [a_blocks_b])


def test_create_dependency_on_itself_or_across_projects_is_refused(uow, link, new_item, a, user):
    other = uow.projects.create(key="OPS", name="Ops", created_by=user.id)

    with pytest.raises(RuleViolationError) as info:
        link(a, a)
    assert info.value.rule == "dependency.self"
    with pytest.raises(RuleViolationError) as info:
        link(a, new_item("X", other.id))
    assert (info.value.rule, info.value.field) == ("dependency.same_project", "to_item_id")


def test_create_duplicate_dependency_is_refused(link, a, b) -> None:
    first = link(a, b)

    with pytest.raises(DuplicateError) as info:
        link(a, b)
    assert info.value.entity_id == first.id
    assert link(a, b, RELATES).type == RELATES


def test_relates_to_in_reverse_direction_is_a_duplicate(link, a, b) -> None:
    link(a, b, RELATES)

    with pytest.raises(DuplicateError):
        link(b, a, RELATES)


def test_blocks_in_reverse_direction_is_a_cycle(link, a, b) -> None:
    link(a, b)

    with pytest.raises(DependencyCycleError) as info:
        link(b, a)
    assert info.value.path == (b.id, a.id, b.id)


def test_blocks_closing_a_longer_loop_names_the_cycle(deps, link, a, b, c) -> None:
    link(a, b)
    link(b, c)

    with pytest.raises(DependencyCycleError) as info:
        link(c, a)
    assert info.value.path == (c.id, a.id, b.id, c.id)
    keys = tuple(f"PM-{x.item_number}" for x in (c, a, b, c))
    assert info.value.keys == keys
    assert info.value.message.endswith(" -> ".join(keys))  # display keys, for people
    assert info.value.rule == "dependency.cycle"
    assert deps.list_for_item(c.id)[0] == []  # the edge that closed the loop was not written


def test_deleted_blocks_edge_no_longer_closes_a_cycle(deps, link, a, b) -> None:
    a_blocks_b = link(a, b)
    deps.soft_delete(a_blocks_b.id)

    assert link(b, a).from_item_id == b.id


def test_dependency_cap_is_enforced_per_item(link, new_item, a) -> None:
    targets = [new_item(f"T{n}") for n in range(MAX_DEPENDENCIES_PER_ITEM // 2)]
    for target in targets:
        link(a, target, BLOCKS)
        link(target, a, RELATES)

    with pytest.raises(RuleViolationError) as info:
        link(a, new_item("one too many"), RELATES)
    assert (info.value.rule, info.value.field) == ("dependency.cap", "from_item_id")
    with pytest.raises(RuleViolationError) as info:
        link(new_item("another"), a, RELATES)
    assert (info.value.rule, info.value.field) == ("dependency.cap", "to_item_id")


def test_soft_delete_dependency_hides_it_and_allows_re_adding(conn, deps, link, a, b, now):
    first = link(a, b)

    deleted = deps.soft_delete(first.id)

    assert (deleted.version, deleted.deleted_at) == (2, now)
    assert deps.find(first.id) is None
    assert deps.list_for_item(a.id) == ([], [])
    row = conn.execute("SELECT deleted_at FROM dependencies WHERE id = ?", (first.id,)).fetchone()
    assert row["deleted_at"] == db_time(now)
    with pytest.raises(NotFoundError):
        deps.soft_delete(first.id)
    again = link(a, b)
    assert again.id != first.id
    assert deps.list_for_item(a.id) == ([again], [])


def test_database_refuses_a_second_live_identical_dependency(conn, now, link, a, b, user):
    link(a, b)

    with pytest.raises(sqlite3.IntegrityError):
        insert_dependency(conn, now, a.project_id, a.id, b.id, user.id)


def test_dependency_on_unknown_item_is_refused_by_database(conn, now, a, user) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        insert_dependency(conn, now, a.project_id, a.id, "nope", user.id)


def test_hard_delete_of_work_item_removes_its_dependencies(conn, link, a, b, c) -> None:
    outgoing, incoming, unrelated = link(a, b), link(c, a), link(c, b)

    conn.execute("DELETE FROM work_items WHERE id = ?", (a.id,))

    remaining = {row[0] for row in conn.execute("SELECT id FROM dependencies")}
    assert remaining == {unrelated.id}
    assert not {outgoing.id, incoming.id} & remaining


def insert_dependency(
    conn: sqlite3.Connection, now, project_id: str, from_id: str, to_id: str, user_id: str
) -> None:
    conn.execute(
        "INSERT INTO dependencies (id, project_id, from_item_id, to_item_id, type, created_by,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, 'blocks', ?, ?, ?)",
        (new_id(), project_id, from_id, to_id, user_id, db_time(now), db_time(now)),
    )
