"""llm_context over a real socket: list, create, update, delete; project and tenant-wide rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient

RULE = entities_pb2.LLM_CONTEXT_TYPE_BUSINESS_RULE
EXAMPLE = entities_pb2.LLM_CONTEXT_TYPE_EXAMPLE
INSTRUCTION = entities_pb2.LLM_CONTEXT_TYPE_INSTRUCTION
CONTEXT = entities_pb2.ENTITY_TYPE_LLM_CONTEXT


def changes_of(event: events_pb2.Event) -> dict[str, tuple[Any, Any]]:
    return {c.field: (json.loads(c.old_json), json.loads(c.new_json)) for c in event.changes}


@dataclass
class Board:
    project: entities_pb2.Project
    alice: WsClient  # project admin
    erin: WsClient  # editor (an agent, say)
    vic: WsClient  # viewer, subscribed: the second client that watches


async def board(server: Server) -> Board:
    alice = await server.client("acme", "alice")
    erin = await server.client("acme", "erin")
    vic = await server.client("acme", "vic")
    project = await create_project(alice)
    for user, role in (("erin", entities_pb2.ROLE_EDITOR), ("vic", entities_pb2.ROLE_VIEWER)):
        await alice.request(
            "add_member", commands_pb2.AddMember(project_id=project.id, user_id=user, role=role)
        )
    await subscribe(vic, project.id)
    return Board(project, alice, erin, vic)


def create_cmd(project_id: str | None = None, **fields: Any) -> commands_pb2.CreateLlmContext:
    values: dict[str, Any] = {
        "context_type": RULE,
        "category": "estimates",
        "title": "Points",
        "content": "Stories are estimated in points.",
    }
    values.update(fields)
    if project_id is not None:
        values["project_id"] = project_id
    return commands_pb2.CreateLlmContext(**values)


async def project_row(b: Board, **fields: Any) -> entities_pb2.LlmContext:
    reply = await b.erin.request("create_llm_context", create_cmd(b.project.id, **fields))
    await b.vic.next_event()
    return reply.llm_context.context


async def listed(client: WsClient, **filters: Any) -> commands_pb2.LlmContextList:
    reply = await client.request("list_llm_context", commands_pb2.ListLlmContext(**filters))
    return reply.llm_contexts


# -- create ----------------------------------------------------------------------


async def test_create_project_row_by_editor_is_seen(server: Server) -> None:
    b = await board(server)
    reply = await b.erin.request(
        "create_llm_context", create_cmd(b.project.id, example_sql="SELECT 1")
    )
    row = reply.llm_context.context
    assert (row.project_id, row.context_type, row.category, row.title) == (
        b.project.id,
        RULE,
        "estimates",
        "Points",
    )
    assert (row.example_sql, row.priority, row.created_by, row.version) == (
        "SELECT 1",
        50,
        "erin",
        1,
    )
    event = await b.vic.next_event()
    assert event.seq > 0
    assert (event.entity_type, event.action, event.project_id, event.actor_id) == (
        CONTEXT,
        entities_pb2.ACTION_CREATED,
        b.project.id,
        "erin",
    )
    assert event.llm_context == row


async def test_create_project_row_by_viewer_is_forbidden(server: Server) -> None:
    b = await board(server)
    error = await b.vic.error("create_llm_context", create_cmd(b.project.id))
    assert (error.code, error.rule) == (envelope_pb2.FORBIDDEN, "role.editor")
    await b.vic.no_event()


async def test_create_row_in_a_project_one_cannot_see_is_not_found(server: Server) -> None:
    b = await board(server)
    for client in (
        await server.client("acme", "carol"),
        await server.client("evil", "alice", admin=True),
    ):
        error = await client.error("create_llm_context", create_cmd(b.project.id))
        assert (error.code, error.entity, error.entity_id) == (
            envelope_pb2.NOT_FOUND,
            "project",
            b.project.id,
        )
    await b.vic.no_event()


async def test_create_row_with_bad_fields_is_a_validation_error(server: Server) -> None:
    b = await board(server)
    for cmd, field in [
        (create_cmd(b.project.id, context_type=0), "context_type"),
        (create_cmd(b.project.id, priority=101), "priority"),
    ]:
        error = await b.erin.error("create_llm_context", cmd)
        assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, field)
    await b.vic.no_event()


async def test_create_tenant_wide_row_needs_a_tenant_admin(server: Server) -> None:
    b = await board(server)
    error = await b.alice.error("create_llm_context", create_cmd(title="Global"))
    assert (error.code, error.rule) == (envelope_pb2.FORBIDDEN, "role.tenant_admin")

    boss = await server.client("acme", "boss", admin=True)
    reply = await boss.request("create_llm_context", create_cmd(title="Global", priority=99))
    row = reply.llm_context.context
    assert not row.HasField("project_id")
    assert row.created_by == "boss"
    await b.vic.no_event()  # no project: no project subscriber hears of it
    # Every user of the tenant reads it, member of a project or not.
    zoe = await server.client("acme", "zoe")
    for client in (zoe, b.vic):
        rows = (await listed(client, category="estimates")).contexts
        assert [r.id for r in rows] == [row.id]


# -- update ----------------------------------------------------------------------


async def test_update_project_row_is_seen_with_field_changes(server: Server) -> None:
    b = await board(server)
    row = await project_row(b, example_sql="SELECT 1")
    reply = await b.erin.request(
        "update_llm_context",
        commands_pb2.UpdateLlmContext(
            context_id=row.id,
            expected_version=1,
            context_type=EXAMPLE,
            title="Story points",
            priority=80,
            example_sql="",
        ),
    )
    updated = reply.llm_context.context
    assert (updated.context_type, updated.title, updated.priority, updated.version) == (
        EXAMPLE,
        "Story points",
        80,
        2,
    )
    assert not updated.HasField("example_sql")
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        CONTEXT,
        entities_pb2.ACTION_UPDATED,
        row.id,
    )
    assert event.llm_context == updated
    assert changes_of(event) == {
        "context_type": ("business_rule", "example"),
        "title": ("Points", "Story points"),
        "priority": (50, 80),
        "example_sql": ("SELECT 1", None),
    }


async def test_update_row_with_stale_version_conflicts_with_current(server: Server) -> None:
    b = await board(server)
    row = await project_row(b)
    await b.erin.request(
        "update_llm_context", commands_pb2.UpdateLlmContext(context_id=row.id, content="v2")
    )
    await b.vic.next_event()
    error = await b.alice.error(
        "update_llm_context",
        commands_pb2.UpdateLlmContext(context_id=row.id, expected_version=1, content="late"),
    )
    assert (error.code, error.current_version) == (envelope_pb2.CONFLICT, 2)
    assert error.WhichOneof("current") == "llm_context"
    assert error.llm_context.content == "v2"
    await b.vic.no_event()


async def test_update_row_by_viewer_is_forbidden(server: Server) -> None:
    b = await board(server)
    row = await project_row(b)
    error = await b.vic.error(
        "update_llm_context", commands_pb2.UpdateLlmContext(context_id=row.id, title="x")
    )
    assert error.code == envelope_pb2.FORBIDDEN
    await b.vic.no_event()


async def test_update_without_fields_is_a_validation_error(server: Server) -> None:
    b = await board(server)
    row = await project_row(b)
    error = await b.erin.error(
        "update_llm_context", commands_pb2.UpdateLlmContext(context_id=row.id)
    )
    assert error.code == envelope_pb2.VALIDATION_ERROR
    await b.vic.no_event()


async def test_tenant_wide_rows_are_changed_by_tenant_admins_only(server: Server) -> None:
    b = await board(server)
    seeded = (await listed(b.alice, types=[INSTRUCTION])).contexts[0]
    assert not seeded.HasField("project_id")
    for name, cmd in [
        ("update_llm_context", commands_pb2.UpdateLlmContext(context_id=seeded.id, title="x")),
        ("delete_llm_context", commands_pb2.DeleteLlmContext(context_id=seeded.id)),
    ]:
        error = await b.alice.error(name, cmd)
        assert error.code == envelope_pb2.FORBIDDEN

    boss = await server.client("acme", "boss", admin=True)
    reply = await boss.request(
        "update_llm_context",
        commands_pb2.UpdateLlmContext(
            context_id=seeded.id, expected_version=seeded.version, priority=1
        ),
    )
    assert reply.llm_context.context.priority == 1
    await boss.request("delete_llm_context", commands_pb2.DeleteLlmContext(context_id=seeded.id))
    assert seeded.id not in {r.id for r in (await listed(b.vic)).contexts}
    await b.vic.no_event()


async def test_row_commands_from_outside_the_project_are_not_found(server: Server) -> None:
    b = await board(server)
    row = await project_row(b)
    carol = await server.client("acme", "carol")
    mallory = await server.client("evil", "alice", admin=True)
    for client in (carol, mallory):
        for name, cmd in [
            ("update_llm_context", commands_pb2.UpdateLlmContext(context_id=row.id, title="x")),
            ("delete_llm_context", commands_pb2.DeleteLlmContext(context_id=row.id)),
        ]:
            error = await client.error(name, cmd)
            assert (error.code, error.entity, error.entity_id) == (
                envelope_pb2.NOT_FOUND,
                "llm_context",
                row.id,
            )
        error = await client.error(
            "list_llm_context", commands_pb2.ListLlmContext(project_id=b.project.id)
        )
        assert error.code == envelope_pb2.NOT_FOUND
        assert row.id not in {r.id for r in (await listed(client)).contexts}
    await b.vic.no_event()


# -- delete ----------------------------------------------------------------------


async def test_delete_project_row_is_seen_and_gone(server: Server) -> None:
    b = await board(server)
    row = await project_row(b)
    reply = await b.erin.request(
        "delete_llm_context", commands_pb2.DeleteLlmContext(context_id=row.id, expected_version=1)
    )
    assert reply.llm_context.context.HasField("deleted_at")
    event = await b.vic.next_event()
    assert (event.entity_type, event.action, event.entity_id) == (
        CONTEXT,
        entities_pb2.ACTION_DELETED,
        row.id,
    )
    assert event.llm_context.HasField("deleted_at")
    rows = await listed(b.vic, project_id=b.project.id, exclude_global=True)
    assert list(rows.contexts) == []


async def test_delete_row_by_viewer_is_forbidden(server: Server) -> None:
    b = await board(server)
    row = await project_row(b)
    error = await b.vic.error(
        "delete_llm_context", commands_pb2.DeleteLlmContext(context_id=row.id)
    )
    assert error.code == envelope_pb2.FORBIDDEN
    await b.vic.no_event()


async def test_delete_row_with_stale_version_conflicts(server: Server) -> None:
    b = await board(server)
    row = await project_row(b)
    error = await b.erin.error(
        "delete_llm_context", commands_pb2.DeleteLlmContext(context_id=row.id, expected_version=4)
    )
    assert (error.code, error.llm_context.id) == (envelope_pb2.CONFLICT, row.id)
    await b.vic.no_event()


# -- list ------------------------------------------------------------------------


async def test_list_filters_by_project_type_category_and_limit(server: Server) -> None:
    b = await board(server)
    low = await project_row(b, title="Low", priority=10)
    high = await project_row(b, title="High", priority=90, context_type=EXAMPLE, category="sql")

    only_project = await listed(b.vic, project_id=b.project.id, exclude_global=True)
    assert [r.id for r in only_project.contexts] == [high.id, low.id]  # by priority
    head = await subscribe(b.alice, b.project.id)
    assert only_project.seq == head.seq

    with_global = await listed(b.vic, project_id=b.project.id)
    ids = [r.id for r in with_global.contexts]
    assert {high.id, low.id} < set(ids)
    assert any(not r.HasField("project_id") for r in with_global.contexts)

    global_only = await listed(b.vic)
    assert {high.id, low.id}.isdisjoint(r.id for r in global_only.contexts)
    assert global_only.contexts  # the seeded rows

    by_type = await listed(b.vic, project_id=b.project.id, types=[EXAMPLE], exclude_global=True)
    assert [r.id for r in by_type.contexts] == [high.id]
    by_category = await listed(b.vic, project_id=b.project.id, category="estimates")
    assert [r.id for r in by_category.contexts] == [low.id]
    limited = await listed(b.vic, project_id=b.project.id, limit=1)
    assert len(limited.contexts) == 1


async def test_list_refuses_bad_filters(server: Server) -> None:
    b = await board(server)
    for cmd, field in [
        (commands_pb2.ListLlmContext(limit=-1), "limit"),
        (commands_pb2.ListLlmContext(types=[entities_pb2.LLM_CONTEXT_TYPE_UNSPECIFIED]), "types"),
    ]:
        error = await b.vic.error("list_llm_context", cmd)
        assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, field)
