"""PmClient against a real server on a real socket: typed calls, errors, timeouts, events."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pm_client import (
    ClientError,
    ConnectError,
    ConnectionLost,
    PmClient,
    RequestTimeout,
    ServerError,
)
from pm_core.errors import RateLimitedError, SchemaTooNewError
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from pm_server.context import Answer
from pm_server.dispatch import HANDLERS
from tests.pm_server.conftest import Server, start_server

EPIC = entities_pb2.WORK_ITEM_TYPE_EPIC
STORY = entities_pb2.WORK_ITEM_TYPE_STORY
TASK = entities_pb2.WORK_ITEM_TYPE_TASK
VIEWER = entities_pb2.ROLE_VIEWER
EDITOR = entities_pb2.ROLE_EDITOR


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path / "data")
    yield srv
    await runner.cleanup()


@contextlib.asynccontextmanager
async def connected(
    server: Server, user: str = "alice", **options: object
) -> AsyncIterator[PmClient]:
    async with PmClient(server.ws_url, server.token(user=user), **options) as client:  # type: ignore[arg-type]
        yield client


async def new_project(pm: PmClient, key: str = "PM") -> entities_pb2.Project:
    return (await pm.create_project(key=key, name="Board")).project


def stored_events(data_dir: Path, project_id: str, after: int) -> list[events_pb2.Event]:
    """The project's events as the server's event log holds them."""
    path = data_dir / "tenants" / "acme" / "main.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT payload FROM events WHERE project_id = ? AND seq > ? ORDER BY seq",
            (project_id, after),
        ).fetchall()
    return [events_pb2.Event.FromString(payload) for (payload,) in rows]


async def take(stream: AsyncIterator[events_pb2.Event], count: int) -> list[events_pb2.Event]:
    got: list[events_pb2.Event] = []
    async with asyncio.timeout(10):
        while len(got) < count:
            got.append(await anext(stream))
    return got


# -- connecting -----------------------------------------------------------------


async def test_connect_returns_the_welcome_of_the_token_user(server: Server):
    client = PmClient(server.base_url, server.token(user="alice"))
    try:
        welcome = await client.connect()
        assert (welcome.user.id, welcome.tenant_id, welcome.protocol_version) == (
            "alice",
            "acme",
            1,
        )
        assert client.welcome == welcome
        assert client.connected
    finally:
        await client.close()
    assert not client.connected


async def test_connect_with_a_bad_token_is_refused_with_401_unauthenticated(server: Server):
    client = PmClient(server.ws_url, "not-a-token")
    with pytest.raises(ConnectError) as refused:
        await client.connect()
    assert (refused.value.status, refused.value.code) == (401, "UNAUTHENTICATED")
    assert refused.value.permanent
    await client.close()


async def test_connect_while_the_server_drains_is_refused_with_503_unavailable(server: Server):
    server.state.draining = True
    with pytest.raises(ConnectError) as refused:
        async with connected(server):
            pass
    assert (refused.value.status, refused.value.code) == (503, "UNAVAILABLE")
    assert not refused.value.permanent


async def test_connect_to_nothing_listening_is_a_connect_error_without_status():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PmClient(f"ws://127.0.0.1:{port}/v1/ws", "token")
    with pytest.raises(ConnectError, match="cannot connect") as refused:
        await client.connect()
    assert refused.value.status is None
    await client.close()


async def test_request_before_connect_or_after_close_raises_connection_lost(server: Server):
    client = PmClient(server.ws_url, server.token())
    with pytest.raises(ConnectionLost, match="connect"):
        await client.ping()
    await client.connect()
    await client.close()
    with pytest.raises(ConnectionLost, match="closed"):
        await client.ping()


# -- typed calls ----------------------------------------------------------------


async def test_typed_calls_for_projects_and_members(server: Server):
    async with connected(server, "bob"):
        pass  # users exist once they have connected
    async with connected(server) as pm:
        project = await new_project(pm)
        assert (project.key, project.name) == ("PM", "Board")
        assert (await pm.get_project(key="pm")).project.id == project.id
        renamed = await pm.update_project(
            project_id=project.id, expected_version=project.version, name="Renamed"
        )
        assert (renamed.project.name, renamed.project.description) == ("Renamed", "")
        listed = await pm.list_projects()
        assert [p.key for p in listed.projects] == ["PM"]
        assert listed.seq > 0

        member = await pm.add_member(project_id=project.id, user_id="bob", role=VIEWER)
        assert member.member.role == VIEWER
        promoted = await pm.change_member_role(project_id=project.id, user_id="bob", role=EDITOR)
        assert promoted.member.role == EDITOR
        members = await pm.list_members(project_id=project.id)
        assert sorted(m.user_id for m in members.members) == ["alice", "bob"]


async def test_typed_calls_for_work_items(server: Server):
    async with connected(server) as pm:
        project = await new_project(pm)
        epic = (await pm.create_work_item(project_id=project.id, type=EPIC, title="Epic")).item
        story = (
            await pm.create_work_item(
                project_id=project.id, type=STORY, title="Story", parent_id=epic.id, story_points=3
            )
        ).item
        task = (
            await pm.create_work_item(
                project_id=project.id, type=TASK, title="Task", parent_id=story.id
            )
        ).item
        assert [epic.display_key, story.display_key, task.display_key] == ["PM-1", "PM-2", "PM-3"]
        assert (await pm.get_work_item(display_key="pm-2")).item.id == story.id

        moved = await pm.update_work_item(
            item_id=task.id, status=entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS
        )
        assert (moved.item.status, moved.item.title) == (
            entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS,
            "Task",
        )
        tasks = await pm.list_work_items(project_id=project.id, types=[TASK])
        assert [i.title for i in tasks.items] == ["Task"]
        under_epic = await pm.list_work_items(project_id=project.id, descendants_of=epic.id)
        assert sorted(i.title for i in under_epic.items) == ["Story", "Task"]

        await pm.delete_work_item(item_id=task.id)
        left = await pm.list_work_items(project_id=project.id)
        assert sorted(i.title for i in left.items) == ["Epic", "Story"]


async def test_typed_calls_for_sprints_comments_and_time(server: Server):
    async with connected(server) as pm:
        project = await new_project(pm)
        item = (await pm.create_work_item(project_id=project.id, type=TASK, title="Task")).item

        sprint = (await pm.create_sprint(project_id=project.id, name="Sprint 1")).sprint
        active = await pm.transition_sprint(
            sprint_id=sprint.id, status=entities_pb2.SPRINT_STATUS_ACTIVE
        )
        assert active.sprint.status == entities_pb2.SPRINT_STATUS_ACTIVE
        listed = await pm.list_sprints(
            project_id=project.id, statuses=[entities_pb2.SPRINT_STATUS_ACTIVE]
        )
        assert [s.name for s in listed.sprints] == ["Sprint 1"]

        comment = (await pm.create_comment(work_item_id=item.id, body="first")).comment
        await pm.edit_comment(comment_id=comment.id, body="edited")
        comments = await pm.list_comments(work_item_id=item.id)
        assert [c.body for c in comments.comments] == ["edited"]

        started = await pm.start_timer(work_item_id=item.id, note="working")
        running = await pm.get_running_timer()
        assert running.entry.id == started.entry.id
        stopped = await pm.stop_timer()
        assert stopped.entry.HasField("ended_at")
        assert not (await pm.get_running_timer()).HasField("entry")

        end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        logged = await pm.create_time_entry(
            work_item_id=item.id, started_at=end - timedelta(minutes=30), ended_at=end
        )
        assert logged.entry.ended_at.ToDatetime(UTC) == end
        entries = await pm.list_time_entries(work_item_id=item.id)
        assert {e.id for e in entries.entries} == {started.entry.id, logged.entry.id}
        await pm.delete_time_entry(entry_id=logged.entry.id)
        entries = await pm.list_time_entries(work_item_id=item.id)
        assert [e.id for e in entries.entries] == [started.entry.id]


async def test_typed_calls_for_dependencies_lanes_activity_context_presence(server: Server):
    async with connected(server) as pm:
        project = await new_project(pm)
        a = (await pm.create_work_item(project_id=project.id, type=TASK, title="A")).item
        b = (await pm.create_work_item(project_id=project.id, type=TASK, title="B")).item

        blocks = await pm.create_dependency(
            from_item_id=a.id, to_item_id=b.id, type=entities_pb2.DEPENDENCY_TYPE_BLOCKS
        )
        deps = await pm.list_dependencies(item_id=b.id)
        assert [d.id for d in deps.incoming] == [blocks.dependency.id]
        await pm.delete_dependency(dependency_id=blocks.dependency.id)
        assert not (await pm.list_dependencies(item_id=b.id)).incoming

        # One lane per status: the default "To Do" lane makes way.
        defaults = await pm.list_swim_lanes(project_id=project.id)
        (todo,) = [x for x in defaults.lanes if x.status == entities_pb2.WORK_ITEM_STATUS_TODO]
        await pm.delete_swim_lane(lane_id=todo.id)
        lane = (
            await pm.create_swim_lane(
                project_id=project.id, name="Blocked", status=entities_pb2.WORK_ITEM_STATUS_TODO
            )
        ).lane
        await pm.update_swim_lane(lane_id=lane.id, wip_limit=3)
        lanes = await pm.list_swim_lanes(project_id=project.id)
        assert {(lane.name, lane.wip_limit) for lane in lanes.lanes} >= {("Blocked", 3)}
        await pm.delete_swim_lane(lane_id=lane.id)

        history = await pm.list_activity(
            entity=commands_pb2.EntityRef(type=entities_pb2.ENTITY_TYPE_SWIM_LANE, id=lane.id)
        )
        assert len(history.entries) >= 2
        assert (await pm.list_activity(project_id=project.id, limit=1)).entries

        context = (
            await pm.create_llm_context(
                project_id=project.id,
                context_type=entities_pb2.LLM_CONTEXT_TYPE_INSTRUCTION,
                title="Style",
                content="Write short titles.",
            )
        ).context
        await pm.update_llm_context(context_id=context.id, content="Write shorter titles.")
        contexts = await pm.list_llm_context(project_id=project.id, exclude_global=True)
        assert [c.content for c in contexts.contexts] == ["Write shorter titles."]
        await pm.delete_llm_context(context_id=context.id)

        assert list((await pm.join_presence(project_id=project.id)).user_ids) == ["alice"]
        assert list((await pm.list_presence(project_id=project.id)).user_ids) == ["alice"]
        assert not (await pm.leave_presence(project_id=project.id)).user_ids

        pong = await pm.ping(nonce=42)
        assert pong.nonce == 42


async def test_generic_request_returns_the_reply_and_checks_the_message_type(server: Server):
    async with connected(server) as pm:
        reply = await pm.request("ping", commands_pb2.Ping(nonce=7))
        assert reply.pong.nonce == 7
        with pytest.raises(TypeError, match="Ping"):
            await pm.request("ping", commands_pb2.StopTimer())
        with pytest.raises(ValueError, match="unknown command"):
            await pm.request("launch_rockets", commands_pb2.Ping())


# -- errors ---------------------------------------------------------------------


async def test_not_found_maps_to_server_error_with_entity(server: Server):
    async with connected(server) as pm:
        await new_project(pm)
        with pytest.raises(ServerError) as refused:
            await pm.get_work_item(display_key="PM-99")
    error = refused.value
    assert (error.code, error.retryable, error.command) == ("NOT_FOUND", False, "get_work_item")
    assert (error.error.entity, error.error.entity_id) == ("work_item", "PM-99")
    assert str(error).startswith("NOT_FOUND: ")


async def test_validation_error_maps_to_server_error_naming_the_field(server: Server):
    async with connected(server) as pm:
        with pytest.raises(ServerError) as refused:
            await pm.create_project(key="bad key!", name="Board")
    assert (refused.value.code, refused.value.field) == ("VALIDATION_ERROR", "key")


async def test_broken_domain_rule_maps_to_server_error_with_rule_and_path(server: Server):
    async with connected(server) as pm:
        project = await new_project(pm)
        a, b = [
            (await pm.create_work_item(project_id=project.id, type=TASK, title=t)).item
            for t in "AB"
        ]
        blocks = entities_pb2.DEPENDENCY_TYPE_BLOCKS
        await pm.create_dependency(from_item_id=a.id, to_item_id=b.id, type=blocks)
        with pytest.raises(ServerError) as refused:
            await pm.create_dependency(from_item_id=b.id, to_item_id=a.id, type=blocks)
    error = refused.value
    assert (error.code, error.rule, error.field) == (
        "VALIDATION_ERROR",
        "dependency.cycle",
        "to_item_id",
    )
    assert list(error.error.path) == [b.id, a.id, b.id]


async def test_forbidden_maps_to_server_error_naming_the_required_role(server: Server):
    async with connected(server) as alice, connected(server, "vic") as vic:
        project = await new_project(alice)
        await alice.add_member(project_id=project.id, user_id="vic", role=VIEWER)
        with pytest.raises(ServerError) as refused:
            await vic.create_work_item(project_id=project.id, type=TASK, title="Nope")
    assert (refused.value.code, refused.value.rule) == ("FORBIDDEN", "role.editor")


async def test_conflict_maps_to_server_error_carrying_the_current_row(server: Server):
    async with connected(server) as pm:
        project = await new_project(pm)
        item = (await pm.create_work_item(project_id=project.id, type=TASK, title="v1")).item
        await pm.update_work_item(item_id=item.id, expected_version=item.version, title="v2")
        with pytest.raises(ServerError) as refused:
            await pm.update_work_item(item_id=item.id, expected_version=item.version, title="v3")
    error = refused.value.error
    assert refused.value.code == "CONFLICT"
    assert error.current_version == item.version + 1
    assert error.WhichOneof("current") == "work_item"
    assert error.work_item.title == "v2"


async def test_delete_blocked_maps_to_server_error_naming_the_blockers(server: Server):
    async with connected(server) as pm:
        project = await new_project(pm)
        epic = (await pm.create_work_item(project_id=project.id, type=EPIC, title="E")).item
        story = (
            await pm.create_work_item(
                project_id=project.id, type=STORY, title="S", parent_id=epic.id
            )
        ).item
        with pytest.raises(ServerError) as refused:
            await pm.delete_work_item(item_id=epic.id)
    assert refused.value.code == "DELETE_BLOCKED"
    assert list(refused.value.error.blockers) == [story.id]


async def test_request_larger_than_the_server_accepts_is_refused_before_sending(server: Server):
    async with connected(server) as pm:
        too_big = "x" * (pm.welcome.max_frame_bytes + 1)
        with pytest.raises(ClientError, match="bytes") as refused:
            await pm.create_project(key="PM", name="Board", description=too_big)
        assert not isinstance(refused.value, ServerError)
        assert (await pm.ping(nonce=1)).nonce == 1  # the connection is still fine
        assert not (await pm.list_projects()).projects


# -- timeouts -------------------------------------------------------------------


async def test_request_without_a_reply_in_time_raises_request_timeout(
    server: Server, monkeypatch: pytest.MonkeyPatch
):
    async def slow_ping(ctx: object, cmd: commands_pb2.Ping) -> envelope_pb2.Reply:
        await asyncio.sleep(0.5 if cmd.nonce == 1 else 0)
        return envelope_pb2.Reply(pong=commands_pb2.Pong(nonce=cmd.nonce))

    monkeypatch.setitem(HANDLERS, "ping", slow_ping)
    async with connected(server, request_timeout=0.1) as pm:
        with pytest.raises(RequestTimeout) as late:
            await pm.ping(nonce=1)
        assert (late.value.command, late.value.timeout) == ("ping", 0.1)
        assert late.value.request_id
        assert (await pm.ping(nonce=2)).nonce == 2  # the late reply does not confuse the next
        await asyncio.sleep(0.5)
        assert (await pm.ping(nonce=3)).nonce == 3


async def test_timed_out_mutation_retried_with_its_request_id_is_written_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
):
    original = HANDLERS["create_project"]

    async def slow_create(ctx: object, cmd: commands_pb2.CreateProject) -> Answer:
        await asyncio.sleep(0.3)
        return await original(ctx, cmd)  # type: ignore[arg-type]

    monkeypatch.setitem(HANDLERS, "create_project", slow_create)
    async with connected(server) as pm:
        command = commands_pb2.CreateProject(key="PM", name="Board")
        with pytest.raises(RequestTimeout) as late:
            await pm.request("create_project", command, timeout=0.05)
        retried = await pm.request("create_project", command, request_id=late.value.request_id)
        assert retried.project.project.key == "PM"
        projects = await pm.list_projects()
        assert [p.id for p in projects.projects] == [retried.project.project.id]


async def test_rate_limited_request_is_sent_again_after_the_pause_the_server_asks_for(
    server: Server, monkeypatch: pytest.MonkeyPatch
):
    original = HANDLERS["create_project"]
    seen: list[str] = []

    async def limited_once(ctx: Any, cmd: commands_pb2.CreateProject) -> Answer:
        seen.append(ctx.request_id)
        if len(seen) == 1:
            raise RateLimitedError(retry_after=0.05)
        return await original(ctx, cmd)

    monkeypatch.setitem(HANDLERS, "create_project", limited_once)
    async with connected(server) as pm:
        project = await new_project(pm)
        assert len(seen) == 2
        assert seen[0] == seen[1]  # the same request id both times
        assert [p.id for p in (await pm.list_projects()).projects] == [project.id]


async def test_unavailable_error_not_marked_retryable_is_raised_at_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
):
    calls = 0

    async def too_new(ctx: Any, cmd: commands_pb2.Ping) -> envelope_pb2.Reply:
        nonlocal calls
        calls += 1
        raise SchemaTooNewError(found=9, supported=1)

    monkeypatch.setitem(HANDLERS, "ping", too_new)
    async with connected(server) as pm:
        with pytest.raises(ServerError) as refused:
            await pm.ping()
    assert (refused.value.code, refused.value.retryable, calls) == ("UNAVAILABLE", False, 1)


async def test_rate_limit_outlasting_the_request_timeout_raises_the_server_error(
    server: Server, monkeypatch: pytest.MonkeyPatch
):
    async def limited(ctx: Any, cmd: commands_pb2.Ping) -> envelope_pb2.Reply:
        raise RateLimitedError(retry_after=5)

    monkeypatch.setitem(HANDLERS, "ping", limited)
    async with connected(server, request_timeout=1) as pm:
        with pytest.raises(ServerError) as refused:
            await pm.ping()
    assert (refused.value.code, refused.value.error.retry_after_ms) == ("RATE_LIMITED", 5000)


# -- events ---------------------------------------------------------------------


async def test_events_arrive_in_order_as_the_event_log_holds_them(server: Server):
    async with connected(server) as watcher, connected(server) as writer:
        project = await new_project(writer)
        subscribed = await watcher.subscribe([project.id])
        assert (watcher.epoch, watcher.last_seq) == (subscribed.epoch, subscribed.seq)
        # Concurrent writes reach the watcher in batches (EventBatch frames).
        await asyncio.gather(
            *(
                writer.create_work_item(project_id=project.id, type=TASK, title=f"T{n}")
                for n in range(40)
            )
        )
        got = await take(watcher.events(), 40)
        assert got == stored_events(server.data_dir, project.id, subscribed.seq)
        assert sorted(e.work_item.title for e in got) == sorted(f"T{n}" for n in range(40))
        assert watcher.last_seq == got[-1].seq


async def test_events_of_unsubscribed_projects_stop(server: Server):
    async with connected(server) as pm:
        one, two = await new_project(pm, "ONE"), await new_project(pm, "TWO")
        await pm.subscribe([one.id, two.id])
        removed = await pm.unsubscribe([one.id])
        assert list(removed.project_ids) == [one.id]
        assert pm.subscribed == [two.id]
        await pm.create_work_item(project_id=one.id, type=TASK, title="unseen")
        await pm.create_work_item(project_id=two.id, type=TASK, title="seen")
        [event] = await take(pm.events(), 1)
        assert (event.project_id, event.work_item.title) == (two.id, "seen")


async def test_event_stream_ends_when_the_client_is_closed(server: Server):
    pm = PmClient(server.ws_url, server.token())
    await pm.connect()
    project = await new_project(pm)
    await pm.subscribe([project.id])
    await pm.create_work_item(project_id=project.id, type=TASK, title="last")
    stream = pm.events()
    first = await anext(stream)
    closing = asyncio.ensure_future(pm.close())
    rest = [event async for event in stream]
    await closing
    assert first.work_item.title == "last"
    assert rest == []
    assert [event async for event in pm.events()] == []  # ended for good


async def test_without_reconnect_a_dropped_connection_ends_requests_and_stream(server: Server):
    async with connected(server, reconnect=False) as pm:
        project = await new_project(pm)
        await pm.subscribe([project.id])
        [connection] = server.state.connections
        connection.begin_close(1011, "test: internal error")
        with pytest.raises(ConnectionLost) as lost:
            await anext(pm.events())
        assert lost.value.close_code == 1011
        with pytest.raises(ConnectionLost):
            await pm.ping()
        with pytest.raises(ConnectionLost):  # and it stays that way
            await anext(pm.events())
