"""What one mutation costs the tenant's single writer, counted statement by statement.

Every statement on the writer is time the other writers of the tenant wait,
so the hot path's count is pinned here: the trace is SQLite's own
(``set_trace_callback``), taken on the server's writer connection while a
real client sends commands over a real socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pm_proto.v1 import commands_pb2, entities_pb2
from tests.pm_server.conftest import Server, create_project

TASK = entities_pb2.WORK_ITEM_TYPE_TASK


@asynccontextmanager
async def traced(server: Server, tenant_id: str) -> AsyncIterator[list[str]]:
    """Every statement the tenant's writer runs inside the block."""
    statements: list[str] = []
    async with server.state.databases.use(tenant_id) as db:
        writer = db._writer  # the one connection every write of the tenant goes through
        writer.set_trace_callback(statements.append)
        try:
            yield statements
        finally:
            writer.set_trace_callback(None)


async def test_create_work_item_runs_at_most_eight_statements(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "PM", "Board")
    command = commands_pb2.CreateWorkItem(project_id=project.id, type=TASK, title="counted")

    async with traced(server, "acme") as statements:
        reply = await alice.request("create_work_item", command)

    assert reply.work_item.item.display_key == "PM-1"
    # BEGIN, the caller's role with the project, the item number, the item, its activity row,
    # its event, the idempotency record, COMMIT. The trace also shows what runs inside the
    # item's INSERT, none of it a statement of ours: the INSERT's text again for the trigger
    # program that indexes the item (the search index), and FTS5's own SQL ("-- " lines and
    # statements on 'main'.'search_index_...').
    own: list[str] = []
    for statement in statements:
        if statement.startswith("-- ") or "'main'." in statement:
            continue
        if not own or own[-1] != statement:
            own.append(statement)
    assert len(own) <= 8, "\n".join(own)


async def test_a_retried_create_writes_nothing_and_returns_the_first_reply(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "PM", "Board")
    command = commands_pb2.CreateWorkItem(project_id=project.id, type=TASK, title="once")
    first = await alice.request("create_work_item", command, request_id="create-1")

    async with traced(server, "acme") as statements:
        again = await alice.request("create_work_item", command, request_id="create-1")

    assert again == first
    listed = await alice.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=project.id)
    )
    assert [item.id for item in listed.work_items.items] == [first.work_item.item.id]
    # The retry ran, could not record its key, and was rolled back whole.
    assert statements[-1] == "ROLLBACK"
    assert "COMMIT" not in statements


async def test_two_sockets_of_one_user_each_get_the_reply_of_their_own_request(
    server: Server,
) -> None:
    # Request ids are idempotency keys per user, not per socket: the test client must never
    # send one id from two sockets (it once counted from 1 on each, and the second socket
    # got the first one's stored reply).
    tab, other_tab = await server.client(user="alice"), await server.client(user="alice")
    first = await tab.request("create_project", commands_pb2.CreateProject(key="ONE", name="1"))
    second = await other_tab.request(
        "create_project", commands_pb2.CreateProject(key="TWO", name="2")
    )
    assert (first.project.project.key, second.project.project.key) == ("ONE", "TWO")
