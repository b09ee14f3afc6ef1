"""Work items over a real socket: every command, its refusals, and the events a watcher sees."""

from __future__ import annotations

from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.boards import board, changes, code, new_item, update
from tests.pm_server.conftest import Server, create_project
from tests.pm_server.wsclient import WsClient

EPIC = entities_pb2.WORK_ITEM_TYPE_EPIC
STORY = entities_pb2.WORK_ITEM_TYPE_STORY
TASK = entities_pb2.WORK_ITEM_TYPE_TASK
WORK_ITEM = entities_pb2.ENTITY_TYPE_WORK_ITEM
CREATED = entities_pb2.ACTION_CREATED
UPDATED = entities_pb2.ACTION_UPDATED
DELETED = entities_pb2.ACTION_DELETED


async def list_items(client: WsClient, project_id: str, **filters: Any) -> list[str]:
    reply = await client.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=project_id, **filters)
    )
    return [item.title for item in reply.work_items.items]


# ---- create -------------------------------------------------------------------


async def test_create_work_item_replies_with_display_key_and_watcher_sees_it(
    server: Server,
) -> None:
    b = await board(server)
    item = await new_item(b.bob, b.project.id, "Login page", story_points=3)
    assert (item.display_key, item.item_number, item.version) == ("PM-1", 1, 1)
    assert item.status == entities_pb2.WORK_ITEM_STATUS_BACKLOG
    assert item.priority == entities_pb2.PRIORITY_MEDIUM
    assert (item.story_points, item.created_by) == (3, "bob")
    event = await b.vic.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action, event.entity_id) == (WORK_ITEM, CREATED, item.id)
    assert (event.actor_id, event.project_id) == ("bob", b.project.id)
    assert event.work_item.display_key == "PM-1"
    assert event.work_item.title == "Login page"


async def test_create_work_item_by_viewer_is_forbidden_and_writes_nothing(server: Server) -> None:
    b = await board(server)
    error = await b.vic.error(
        "create_work_item",
        commands_pb2.CreateWorkItem(project_id=b.project.id, type=TASK, title="Nope"),
    )
    assert code(error) == "FORBIDDEN"
    assert error.rule == "role.editor"
    await b.vic.no_event()
    assert await list_items(b.alice, b.project.id) == []


async def test_create_work_item_refuses_hierarchy_violations(server: Server) -> None:
    b = await board(server)
    epic = await new_item(b.alice, b.project.id, "Epic", EPIC)
    task = await new_item(b.alice, b.project.id, "Task", TASK)
    cases = [
        (STORY, task.id, "hierarchy.parent_type"),  # a story's parent must be an epic
        (TASK, epic.id, "hierarchy.parent_type"),  # a task's parent must be a story
        (EPIC, epic.id, "hierarchy.epic_has_no_parent"),
    ]
    for type, parent_id, rule in cases:
        error = await b.alice.error(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=b.project.id, type=type, title="x", parent_id=parent_id
            ),
        )
        assert (code(error), error.rule, error.field) == ("VALIDATION_ERROR", rule, "parent_id")
    assert await list_items(b.alice, b.project.id) == ["Epic", "Task"]


async def test_create_work_item_validates_the_command(server: Server) -> None:
    b = await board(server)
    no_type = await b.alice.error(
        "create_work_item", commands_pb2.CreateWorkItem(project_id=b.project.id, title="x")
    )
    assert (code(no_type), no_type.field) == ("VALIDATION_ERROR", "type")
    no_title = await b.alice.error(
        "create_work_item", commands_pb2.CreateWorkItem(project_id=b.project.id, type=TASK)
    )
    assert (code(no_title), no_title.field) == ("VALIDATION_ERROR", "title")


async def test_create_work_item_under_a_parent_of_a_hidden_project_is_not_found(
    server: Server,
) -> None:
    b = await board(server)
    carol = await server.client(user="carol")
    secret = await create_project(carol, "SEC", "Secret")
    hidden_epic = await new_item(carol, secret.id, "Hidden", EPIC)
    error = await b.alice.error(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=b.project.id, type=STORY, title="x", parent_id=hidden_epic.id
        ),
    )
    assert (code(error), error.entity, error.entity_id) == (
        "NOT_FOUND",
        "work_item",
        hidden_epic.id,
    )
    # Visible in both: the hierarchy rule speaks instead.
    mine = await create_project(b.alice, "TWO", "Two")
    other_epic = await new_item(b.alice, mine.id, "Other", EPIC)
    error = await b.alice.error(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=b.project.id, type=STORY, title="x", parent_id=other_epic.id
        ),
    )
    assert (code(error), error.rule) == ("VALIDATION_ERROR", "hierarchy.same_project")


async def test_create_work_item_in_a_project_one_is_not_member_of_is_not_found(
    server: Server,
) -> None:
    b = await board(server)
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error(
            "create_work_item",
            commands_pb2.CreateWorkItem(project_id=b.project.id, type=TASK, title="x"),
        )
        assert (code(error), error.entity, error.entity_id) == (
            "NOT_FOUND",
            "project",
            b.project.id,
        )
    await b.vic.no_event()


# ---- update -------------------------------------------------------------------


async def test_update_work_item_sends_field_level_changes(server: Server) -> None:
    b = await board(server)
    item = await new_item(b.bob, b.project.id, "Old title", story_points=5)
    await b.vic.next_event()
    updated = await update(
        b.bob,
        item.id,
        expected_version=1,
        title="New title",
        status=entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS,
        priority=entities_pb2.PRIORITY_HIGH,
        clear_story_points=True,
        assignee_id="bob",
        position=0.5,
    )
    assert (updated.version, updated.title, updated.display_key) == (2, "New title", "PM-1")
    assert not updated.HasField("story_points")
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (WORK_ITEM, UPDATED, item.id)
    assert event.work_item.display_key == "PM-1"
    assert changes(event) == {
        "title": ("Old title", "New title"),
        "status": ("backlog", "in_progress"),
        "priority": ("medium", "high"),
        "story_points": (5, None),
        "position": (1.0, 0.5),
        "assignee_id": (None, "bob"),
    }
    unassigned = await update(b.bob, item.id, assignee_id="")
    assert not unassigned.HasField("assignee_id")
    assert changes(await b.vic.next_event()) == {"assignee_id": ("bob", None)}


async def test_update_work_item_reparent_event_shows_old_and_new_parent(server: Server) -> None:
    b = await board(server)
    first = await new_item(b.alice, b.project.id, "Epic one", EPIC)
    second = await new_item(b.alice, b.project.id, "Epic two", EPIC)
    story = await new_item(b.alice, b.project.id, "Story", parent_id=first.id)
    for _ in range(3):
        await b.vic.next_event()
    moved = await update(b.bob, story.id, parent_id=second.id)
    assert moved.parent_id == second.id
    assert changes(await b.vic.next_event()) == {"parent_id": (first.id, second.id)}
    orphan = await update(b.bob, story.id, parent_id="")
    assert not orphan.HasField("parent_id")
    assert changes(await b.vic.next_event()) == {"parent_id": (second.id, None)}


async def test_update_work_item_moves_to_a_sprint_and_back_to_the_backlog(
    server: Server,
) -> None:
    b = await board(server)
    item = await new_item(b.alice, b.project.id, "Item")
    sprint = (
        await b.alice.request(
            "create_sprint", commands_pb2.CreateSprint(project_id=b.project.id, name="S1")
        )
    ).sprint.sprint
    await b.vic.next_event()
    await b.vic.next_event()
    assert (await update(b.bob, item.id, sprint_id=sprint.id)).sprint_id == sprint.id
    assert changes(await b.vic.next_event()) == {"sprint_id": (None, sprint.id)}
    assert await list_items(b.vic, b.project.id, sprint_id=sprint.id) == ["Item"]
    assert not (await update(b.bob, item.id, sprint_id="")).HasField("sprint_id")
    assert changes(await b.vic.next_event()) == {"sprint_id": (sprint.id, None)}


async def test_update_work_item_refuses_hierarchy_violations(server: Server) -> None:
    b = await board(server)
    epic = await new_item(b.alice, b.project.id, "Epic", EPIC)
    story = await new_item(b.alice, b.project.id, "Story", parent_id=epic.id)
    await new_item(b.alice, b.project.id, "Task", TASK, parent_id=story.id)
    other_epic = await new_item(b.alice, b.project.id, "Other epic", EPIC)
    for _ in range(4):
        await b.vic.next_event()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"item_id": epic.id, "parent_id": story.id}, "hierarchy.cycle", "parent_id"),
        ({"item_id": story.id, "type": EPIC}, "hierarchy.parent_type", "type"),
        ({"item_id": story.id, "type": TASK}, "hierarchy.parent_type", "type"),
        (
            {"item_id": other_epic.id, "parent_id": epic.id},
            "hierarchy.epic_has_no_parent",
            "parent_id",
        ),
        ({"item_id": story.id, "parent_id": story.id}, "hierarchy.cycle", "parent_id"),
    ]
    for fields, rule, field in cases:
        error = await b.bob.error("update_work_item", commands_pb2.UpdateWorkItem(**fields))
        assert (code(error), error.rule, error.field) == ("VALIDATION_ERROR", rule, field)
    # An orphan story with a task cannot become an epic (an epic holds stories, not tasks).
    await update(b.alice, story.id, parent_id="")
    await b.vic.next_event()
    error = await b.bob.error(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=story.id, type=EPIC)
    )
    assert (code(error), error.rule, error.field) == (
        "VALIDATION_ERROR",
        "hierarchy.child_type",
        "type",
    )
    await b.vic.no_event()


async def test_update_work_item_with_stale_version_conflicts_with_current_item(
    server: Server,
) -> None:
    b = await board(server)
    item = await new_item(b.alice, b.project.id, "v1")
    await update(b.alice, item.id, expected_version=1, title="v2")
    for _ in range(2):
        await b.vic.next_event()
    error = await b.bob.error(
        "update_work_item",
        commands_pb2.UpdateWorkItem(item_id=item.id, expected_version=1, title="stale"),
    )
    assert (code(error), error.entity, error.entity_id) == ("CONFLICT", "work_item", item.id)
    assert error.current_version == 2
    assert (error.work_item.title, error.work_item.version) == ("v2", 2)
    assert error.work_item.display_key == item.display_key
    await b.vic.no_event()


async def test_update_work_item_refusals_by_role_membership_and_tenant(server: Server) -> None:
    b = await board(server)
    item = await new_item(b.alice, b.project.id, "Item")
    await b.vic.next_event()
    viewer = await b.vic.error(
        "update_work_item", commands_pb2.UpdateWorkItem(item_id=item.id, title="x")
    )
    assert code(viewer) == "FORBIDDEN"
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error(
            "update_work_item", commands_pb2.UpdateWorkItem(item_id=item.id, title="x")
        )
        assert (code(error), error.entity, error.entity_id) == ("NOT_FOUND", "work_item", item.id)
    empty = await b.bob.error("update_work_item", commands_pb2.UpdateWorkItem(item_id=item.id))
    assert code(empty) == "VALIDATION_ERROR"
    await b.vic.no_event()


# ---- delete -------------------------------------------------------------------


async def test_delete_work_item_cascades_and_watcher_sees_it(server: Server) -> None:
    b = await board(server)
    item = await new_item(b.alice, b.project.id, "Doomed")
    other = await new_item(b.alice, b.project.id, "Other")
    comment = await b.bob.request(
        "create_comment", commands_pb2.CreateComment(work_item_id=item.id, body="hi")
    )
    dependency = await b.bob.request(
        "create_dependency",
        commands_pb2.CreateDependency(
            from_item_id=other.id, to_item_id=item.id, type=entities_pb2.DEPENDENCY_TYPE_BLOCKS
        ),
    )
    for _ in range(4):
        await b.vic.next_event()
    reply = await b.bob.request(
        "delete_work_item", commands_pb2.DeleteWorkItem(item_id=item.id, expected_version=1)
    )
    deleted = reply.work_item.item
    assert deleted.HasField("deleted_at")
    assert deleted.display_key == "PM-1"
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (WORK_ITEM, DELETED, item.id)
    assert set(event.cascaded_ids) == {
        comment.comment.comment.id,
        dependency.dependency.dependency.id,
    }
    gone = await b.vic.error("get_work_item", commands_pb2.GetWorkItem(item_id=item.id))
    assert code(gone) == "NOT_FOUND"
    listed = await b.vic.request(
        "list_dependencies", commands_pb2.ListDependencies(item_id=other.id)
    )
    assert list(listed.dependencies.outgoing) == []


async def test_delete_work_item_with_children_is_blocked_by_them(server: Server) -> None:
    b = await board(server)
    epic = await new_item(b.alice, b.project.id, "Epic", EPIC)
    child = await new_item(b.alice, b.project.id, "Story", parent_id=epic.id)
    for _ in range(2):
        await b.vic.next_event()
    error = await b.bob.error("delete_work_item", commands_pb2.DeleteWorkItem(item_id=epic.id))
    assert (code(error), error.entity, error.entity_id) == ("DELETE_BLOCKED", "work_item", epic.id)
    assert list(error.blockers) == [child.id]
    assert error.message == (
        f"{epic.display_key} cannot be deleted: it still has child items: {child.display_key}"
    )
    await b.vic.no_event()


async def test_delete_work_item_refusals(server: Server) -> None:
    b = await board(server)
    item = await new_item(b.alice, b.project.id, "Item")
    await b.vic.next_event()
    viewer = await b.vic.error("delete_work_item", commands_pb2.DeleteWorkItem(item_id=item.id))
    assert code(viewer) == "FORBIDDEN"
    stale = await b.bob.error(
        "delete_work_item", commands_pb2.DeleteWorkItem(item_id=item.id, expected_version=7)
    )
    assert (code(stale), stale.current_version, stale.work_item.id) == ("CONFLICT", 1, item.id)
    stranger = await server.client(tenant="other", user="bob")
    hidden = await stranger.error("delete_work_item", commands_pb2.DeleteWorkItem(item_id=item.id))
    assert (code(hidden), hidden.entity_id) == ("NOT_FOUND", item.id)
    await b.vic.no_event()


# ---- get ----------------------------------------------------------------------


async def test_get_work_item_by_id_and_by_lower_case_display_key(server: Server) -> None:
    b = await board(server)
    await new_item(b.alice, b.project.id, "First")
    second = await new_item(b.alice, b.project.id, "Second")
    by_id = await b.vic.request("get_work_item", commands_pb2.GetWorkItem(item_id=second.id))
    by_key = await b.vic.request("get_work_item", commands_pb2.GetWorkItem(display_key="pm-2"))
    assert by_id.work_item.item == by_key.work_item.item
    assert (by_key.work_item.item.id, by_key.work_item.item.display_key) == (second.id, "PM-2")


async def test_get_work_item_refusals(server: Server) -> None:
    b = await board(server)
    item = await new_item(b.alice, b.project.id, "Item")
    missing = await b.vic.error("get_work_item", commands_pb2.GetWorkItem(display_key="PM-99"))
    assert (code(missing), missing.entity, missing.entity_id) == ("NOT_FOUND", "work_item", "PM-99")
    malformed = await b.vic.error(
        "get_work_item", commands_pb2.GetWorkItem(display_key="not a key")
    )
    assert (code(malformed), malformed.field) == ("VALIDATION_ERROR", "display_key")
    neither = await b.vic.error("get_work_item", commands_pb2.GetWorkItem())
    assert code(neither) == "VALIDATION_ERROR"
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        for command, asked in (
            (commands_pb2.GetWorkItem(item_id=item.id), item.id),
            (commands_pb2.GetWorkItem(display_key="pm-1"), "pm-1"),
        ):
            error = await client.error("get_work_item", command)
            assert (code(error), error.entity_id) == ("NOT_FOUND", asked)
            assert not error.HasField("work_item")


# ---- list ---------------------------------------------------------------------


async def test_list_work_items_applies_every_filter(server: Server) -> None:
    b = await board(server)
    pid = b.project.id
    sprint = (
        await b.alice.request("create_sprint", commands_pb2.CreateSprint(project_id=pid, name="S"))
    ).sprint.sprint
    epic = await new_item(b.alice, pid, "Epic", EPIC, sprint_id=sprint.id)
    story = await new_item(b.alice, pid, "Story", parent_id=epic.id, assignee_id="bob")
    task = await new_item(
        b.alice,
        pid,
        "Task",
        TASK,
        parent_id=story.id,
        status=entities_pb2.WORK_ITEM_STATUS_DONE,
        sprint_id=sprint.id,
    )
    await new_item(b.alice, pid, "Loose", TASK, status=entities_pb2.WORK_ITEM_STATUS_TODO)

    assert await list_items(b.vic, pid) == ["Epic", "Story", "Task", "Loose"]
    assert await list_items(b.vic, pid, types=[TASK]) == ["Task", "Loose"]
    assert await list_items(b.vic, pid, types=[EPIC, STORY]) == ["Epic", "Story"]
    assert await list_items(
        b.vic,
        pid,
        statuses=[entities_pb2.WORK_ITEM_STATUS_TODO, entities_pb2.WORK_ITEM_STATUS_DONE],
    ) == ["Task", "Loose"]
    assert await list_items(b.vic, pid, sprint_id=sprint.id) == ["Epic", "Task"]
    assert await list_items(b.vic, pid, sprint_id="") == ["Story", "Loose"]
    assert await list_items(b.vic, pid, parent_id=epic.id) == ["Story"]
    assert await list_items(b.vic, pid, parent_id="") == ["Epic", "Loose"]
    assert await list_items(b.vic, pid, assignee_id="bob") == ["Story"]
    assert await list_items(b.vic, pid, assignee_id="") == ["Epic", "Task", "Loose"]
    assert await list_items(b.vic, pid, descendants_of=epic.id) == ["Story", "Task"]
    assert await list_items(b.vic, pid, ancestors_of=task.id) == ["Epic", "Story"]
    assert await list_items(b.vic, pid, exclude_done=True) == ["Epic", "Story", "Loose"]
    assert await list_items(b.vic, pid, limit=2) == ["Epic", "Story"]
    assert await list_items(b.vic, pid, types=[TASK], exclude_done=True, parent_id="") == ["Loose"]


async def test_list_work_items_carries_display_keys_and_the_seq_it_was_read_at(
    server: Server,
) -> None:
    b = await board(server)
    await new_item(b.alice, b.project.id, "One")
    event = await b.vic.next_event()
    reply = await b.vic.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=b.project.id)
    )
    assert reply.work_items.seq == event.seq
    assert [i.display_key for i in reply.work_items.items] == ["PM-1"]


async def test_list_work_items_pages_with_next_after_until_the_last_page(server: Server) -> None:
    b = await board(server)
    for n in range(7):
        await new_item(b.bob, b.project.id, f"Item {n}")
    # Two items share a position: the item number breaks the tie, no item is lost or repeated.
    await update(b.bob, (await list_pages(b.vic, b.project.id, 7))[0][0].id, position=2.0)
    whole = await b.vic.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=b.project.id)
    )
    order = [item.display_key for item in whole.work_items.items]
    positions = [item.position for item in whole.work_items.items]
    assert len(set(positions)) == 6  # the tie
    assert sorted(order) == sorted(f"PM-{n}" for n in range(1, 8))
    assert whole.work_items.next_after == ""  # not a full page: the last one
    # Pages of one put the tie across a page boundary; pages of three within one.
    for limit, sizes in ((1, [1] * 7), (3, [3, 3, 1])):
        pages = await list_pages(b.vic, b.project.id, limit)
        assert [len(page) for page in pages] == sizes
        assert [item.display_key for page in pages for item in page] == order


async def list_pages(
    client: WsClient, project_id: str, limit: int
) -> list[list[entities_pb2.WorkItem]]:
    pages: list[list[entities_pb2.WorkItem]] = []
    after = ""
    while True:
        reply = await client.request(
            "list_work_items",
            commands_pb2.ListWorkItems(project_id=project_id, limit=limit, after=after),
        )
        page = list(reply.work_items.items)
        if page:
            pages.append(page)
        after = reply.work_items.next_after
        if not after:
            return pages


async def test_list_work_items_refusals(server: Server) -> None:
    b = await board(server)
    limit = await b.vic.error(
        "list_work_items", commands_pb2.ListWorkItems(project_id=b.project.id, limit=100_000)
    )
    assert (code(limit), limit.field) == ("VALIDATION_ERROR", "limit")
    anchor = await b.vic.error(
        "list_work_items",
        commands_pb2.ListWorkItems(project_id=b.project.id, descendants_of="nope"),
    )
    assert (code(anchor), anchor.entity_id) == ("NOT_FOUND", "nope")
    for cursor in ("garbage", "1.0", "nan/3", "1.0/0", "1.0/x"):
        bad = await b.vic.error(
            "list_work_items", commands_pb2.ListWorkItems(project_id=b.project.id, after=cursor)
        )
        assert (code(bad), bad.field) == ("VALIDATION_ERROR", "after"), cursor
    outsider = await server.client(user="mallory")
    stranger = await server.client(tenant="other", user="alice")
    for client in (outsider, stranger):
        error = await client.error(
            "list_work_items", commands_pb2.ListWorkItems(project_id=b.project.id)
        )
        assert (code(error), error.entity, error.entity_id) == (
            "NOT_FOUND",
            "project",
            b.project.id,
        )


async def test_update_that_changes_nothing_writes_nothing_and_emits_no_event(
    server: Server,
) -> None:
    b = await board(server)
    item = await new_item(b.bob, b.project.id, "Login page", story_points=3)
    assert (await b.vic.next_event()).action == CREATED
    same = await update(b.bob, item.id, expected_version=1, title="Login page", story_points=3)
    assert (same.version, same.title, same.updated_at) == (1, "Login page", item.updated_at)
    await b.vic.no_event()
    history = await b.bob.request(
        "list_activity",
        commands_pb2.ListActivity(entity=commands_pb2.EntityRef(type=WORK_ITEM, id=item.id)),
    )
    assert [e.action for e in history.activity.entries] == [CREATED]
    # A stale version is still a conflict, even for a change of nothing.
    error = await b.bob.error(
        "update_work_item",
        commands_pb2.UpdateWorkItem(item_id=item.id, expected_version=7, title="Login page"),
    )
    assert code(error) == "CONFLICT"
    # A real change after it is version 2, and the watcher sees only that one.
    changed = await update(b.bob, item.id, expected_version=1, title="Sign-in page")
    assert changed.version == 2
    event = await b.vic.next_event()
    assert (event.action, changes(event)) == (UPDATED, {"title": ("Login page", "Sign-in page")})
