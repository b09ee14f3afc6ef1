"""An archived project is read-only over a real socket: every write into it is refused with
``project.archived`` and changes nothing, reads still answer, and an admin's
``update_project`` back to active opens it again (the event a watcher sees)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from google.protobuf.message import Message

from pm_proto.v1 import commands_pb2 as P
from pm_proto.v1 import entities_pb2, envelope_pb2
from tests.pm_server.boards import Board, board, new_item
from tests.pm_server.conftest import Server, start_server
from tests.pm_server.wsclient import WsClient

ACTIVE = entities_pb2.PROJECT_STATUS_ACTIVE

# One server for the module: each test has a tenant of its own.
pytestmark = pytest.mark.asyncio(loop_scope="module")
_TENANTS = (f"arch{n}" for n in itertools.count())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    srv, runner = await start_server(Path(tmp_path_factory.mktemp("archived")) / "data")
    yield srv
    await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="module")
async def server(shared: Server) -> AsyncIterator[Server]:
    """The shared server, seen by one test: its clients are closed after it."""
    yield shared
    while shared.clients:
        await shared.clients.pop().close()


async def archived_board(server: Server) -> tuple[Board, entities_pb2.WorkItem, str]:
    """A board with an item and a comment (in a tenant of its own), then archived."""
    b = await board(server, tenant=next(_TENANTS))
    item = await new_item(b.bob, b.project.id, "Ship it")
    comment = await b.bob.request(
        "create_comment", P.CreateComment(work_item_id=item.id, body="first")
    )
    await b.alice.request("archive_project", P.ArchiveProject(project_id=b.project.id))
    for _ in range(3):  # item, comment, archive
        await b.vic.next_event()
    return b, item, comment.comment.comment.id


Write = Callable[[str, str, str], tuple[str, Message]]

WRITES: list[tuple[str, Write]] = [
    (
        "create_work_item",
        lambda p, i, c: (
            "create_work_item",
            P.CreateWorkItem(project_id=p, type=entities_pb2.WORK_ITEM_TYPE_TASK, title="t"),
        ),
    ),
    (
        "update_work_item",
        lambda p, i, c: ("update_work_item", P.UpdateWorkItem(item_id=i, title="x")),
    ),
    ("delete_work_item", lambda p, i, c: ("delete_work_item", P.DeleteWorkItem(item_id=i))),
    (
        "create_comment",
        lambda p, i, c: ("create_comment", P.CreateComment(work_item_id=i, body="b")),
    ),
    ("edit_comment", lambda p, i, c: ("edit_comment", P.EditComment(comment_id=c, body="b2"))),
    ("create_sprint", lambda p, i, c: ("create_sprint", P.CreateSprint(project_id=p, name="S1"))),
    (
        "create_swim_lane",
        lambda p, i, c: (
            "create_swim_lane",
            P.CreateSwimLane(
                project_id=p, name="QA", status=entities_pb2.WORK_ITEM_STATUS_IN_REVIEW
            ),
        ),
    ),
    ("start_timer", lambda p, i, c: ("start_timer", P.StartTimer(work_item_id=i))),
    (
        "add_member",
        lambda p, i, c: (
            "add_member",
            P.AddMember(project_id=p, user_id="erin", role=entities_pb2.ROLE_VIEWER),
        ),
    ),
    (
        "rename the archived project",
        lambda p, i, c: ("update_project", P.UpdateProject(project_id=p, name="Renamed")),
    ),
]


@pytest.mark.parametrize(("name", "write"), WRITES, ids=[w[0] for w in WRITES])
async def test_write_into_archived_project_is_refused_and_changes_nothing(
    server: Server, name: str, write: Write
) -> None:
    b, item, comment_id = await archived_board(server)
    command, message = write(b.project.id, item.id, comment_id)
    writer: WsClient = b.alice if command in ("add_member", "update_project") else b.bob
    error = await writer.error(command, message)
    assert (error.code, error.rule, error.field) == (
        envelope_pb2.VALIDATION_ERROR,
        "project.archived",
        "project_id",
    )
    assert "PM is archived" in error.message
    await b.vic.no_event()
    # Reads still answer, and show the item as it was.
    got = await b.vic.request("get_work_item", P.GetWorkItem(item_id=item.id))
    assert (got.work_item.item.title, got.work_item.item.version) == ("Ship it", 1)


async def test_tenant_admin_is_refused_too(server: Server) -> None:
    b, item, _ = await archived_board(server)
    admin = await server.client(tenant=b.tenant, user="root", admin=True)
    error = await admin.error("update_work_item", P.UpdateWorkItem(item_id=item.id, title="x"))
    assert error.rule == "project.archived"


async def test_unarchive_by_update_project_opens_writes_again(server: Server) -> None:
    b, item, _ = await archived_board(server)
    reply = await b.alice.request(
        "update_project", P.UpdateProject(project_id=b.project.id, status=ACTIVE)
    )
    assert reply.project.project.status == ACTIVE
    event = await b.vic.next_event()
    assert event.project.status == ACTIVE
    updated = await b.bob.request("update_work_item", P.UpdateWorkItem(item_id=item.id, title="x"))
    assert updated.work_item.item.title == "x"
    assert (await b.vic.next_event()).work_item.title == "x"


async def test_only_an_admin_unarchives(server: Server) -> None:
    b, _, _ = await archived_board(server)
    error = await b.bob.error(
        "update_project", P.UpdateProject(project_id=b.project.id, status=ACTIVE)
    )
    assert error.code == envelope_pb2.FORBIDDEN
    await b.vic.no_event()


async def test_archived_project_may_still_be_deleted_by_its_admin(server: Server) -> None:
    b, _, _ = await archived_board(server)
    reply = await b.alice.request("delete_project", P.DeleteProject(project_id=b.project.id))
    assert reply.project.project.HasField("deleted_at")


async def test_timer_running_when_archived_can_still_be_stopped(server: Server) -> None:
    b = await board(server, tenant=next(_TENANTS))
    item = await new_item(b.bob, b.project.id, "Timed")
    await b.bob.request("start_timer", P.StartTimer(work_item_id=item.id))
    await b.alice.request("archive_project", P.ArchiveProject(project_id=b.project.id))
    stopped = await b.bob.request("stop_timer", P.StopTimer())
    assert stopped.time_entry.entry.HasField("ended_at")
