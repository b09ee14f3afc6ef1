"""Access changes racing subscriptions and replays: nobody keeps receiving what they lost."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from pm_auth.tokens import Principal
from pm_core.enums import Role
from pm_core.models import Project
from pm_db.unit_of_work import UnitOfWork
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from pm_server import access
from pm_server import connection as connection_module
from pm_server.app import purge_tenant
from pm_server.handlers import subscriptions as subscriptions_module
from tests.pm_server.conftest import Server, create_project, start_server, subscribe
from tests.pm_server.wsclient import WsClient


async def add_member(
    admin: WsClient,
    project_id: str,
    user: str,
    role: entities_pb2.Role.ValueType = entities_pb2.ROLE_VIEWER,
) -> None:
    await admin.request(
        "add_member", commands_pb2.AddMember(project_id=project_id, user_id=user, role=role)
    )


async def fill_events(server: Server, project_id: str, count: int) -> None:
    """Store ``count`` events of the project directly: a long backlog to replay."""

    def unit(uow: UnitOfWork) -> None:
        for _ in range(count):
            uow.events.append_encoded(
                project_id=project_id,
                encode=lambda s: events_pb2.Event(seq=s, project_id=project_id).SerializeToString(),
            )

    async with server.state.databases.use("acme") as db:
        await db.write(unit)


def gate_replay_of(user: str, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Make ``user`` a slow reader: its replay waits between pages until the gate opens."""
    gate = asyncio.Event()
    original = connection_module.Connection.drained

    async def slow_drained(self: connection_module.Connection) -> None:
        await original(self)
        if self.principal.user_id == user:
            await gate.wait()

    monkeypatch.setattr(connection_module.Connection, "drained", slow_drained)
    return gate


async def resume_from_start(client: WsClient, project_id: str, epoch: str) -> None:
    await client.request(
        "subscribe",
        commands_pb2.Subscribe(
            project_ids=[project_id], resume=commands_pb2.ResumePosition(epoch=epoch, seq=0)
        ),
    )


async def new_epic(client: WsClient, project_id: str, title: str) -> None:
    await client.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project_id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title=title
        ),
    )


async def test_member_removed_during_a_replay_gets_nothing_committed_after(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "REM")
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob")
    epoch = (await subscribe(alice, project.id)).epoch
    await fill_events(server, project.id, subscriptions_module.REPLAY_PAGE + 10)
    gate = gate_replay_of("bob", monkeypatch)
    await resume_from_start(bob, project.id, epoch)
    await asyncio.sleep(0.2)
    await alice.request(
        "remove_member", commands_pb2.RemoveMember(project_id=project.id, user_id="bob")
    )
    await new_epic(alice, project.id, "secret after removal")
    gate.set()
    await asyncio.sleep(0.3)
    titles = [e.work_item.title for e in bob.drain_events() if e.HasField("work_item")]
    assert "secret after removal" not in titles


async def test_resubscribing_during_a_replay_keeps_seq_order(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "ORD")
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob")
    epoch = (await subscribe(alice, project.id)).epoch
    await fill_events(server, project.id, subscriptions_module.REPLAY_PAGE + 10)
    gate = gate_replay_of("bob", monkeypatch)
    await resume_from_start(bob, project.id, epoch)
    await asyncio.sleep(0.2)
    await bob.request("unsubscribe", commands_pb2.Unsubscribe(project_ids=[project.id]))
    await subscribe(bob, project.id)  # live from the head
    await new_epic(alice, project.id, "live")
    await asyncio.sleep(0.2)
    gate.set()
    await asyncio.sleep(0.3)
    received = [e.seq for e in bob.drain_events()]
    assert received == sorted(set(received))  # in order, nothing twice


async def test_subscribe_racing_a_removal_leaves_no_live_subscription(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "RACE")
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob")
    original = access.project

    def slow_require_role(
        uow: UnitOfWork, principal: Principal, project_id: str, required: Role
    ) -> Project:
        allowed = original(uow, principal, project_id, required)
        if principal.user_id == "bob":
            time.sleep(0.3)  # widen the window between the check and what follows
        return allowed

    monkeypatch.setattr(access, "project", slow_require_role)
    pending = asyncio.ensure_future(
        bob.call("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
    )
    await asyncio.sleep(0.05)
    await alice.request(
        "remove_member", commands_pb2.RemoveMember(project_id=project.id, user_id="bob")
    )
    await pending
    await new_epic(alice, project.id, "after removal")
    await asyncio.sleep(0.2)
    assert not [e for e in bob.drain_events() if e.HasField("work_item")]
    assert server.state.hub.subscriber_count("acme", project.id) == 0


async def test_leave_presence_shows_nothing_to_a_non_member(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "PRES")
    await alice.request("join_presence", commands_pb2.JoinPresence(project_id=project.id))
    mallory = await server.client(user="mallory")
    error = await mallory.error("leave_presence", commands_pb2.LeavePresence(project_id=project.id))
    assert error.code == envelope_pb2.NOT_FOUND


def timestamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


async def test_removed_member_cannot_change_their_time_entries(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "TE")
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob", entities_pb2.ROLE_EDITOR)
    item = (
        await alice.request(
            "create_work_item",
            commands_pb2.CreateWorkItem(
                project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="x"
            ),
        )
    ).work_item.item
    now = datetime.now(UTC)
    entry = (
        await bob.request(
            "create_time_entry",
            commands_pb2.CreateTimeEntry(
                work_item_id=item.id,
                started_at=timestamp(now - timedelta(hours=2)),
                ended_at=timestamp(now - timedelta(hours=1)),
            ),
        )
    ).time_entry.entry
    await alice.request(
        "remove_member", commands_pb2.RemoveMember(project_id=project.id, user_id="bob")
    )
    error = await bob.error(
        "update_time_entry", commands_pb2.UpdateTimeEntry(entry_id=entry.id, note="sneaky")
    )
    assert (error.code, error.entity_id) == (envelope_pb2.NOT_FOUND, entry.id)
    error = await bob.error("delete_time_entry", commands_pb2.DeleteTimeEntry(entry_id=entry.id))
    assert error.code == envelope_pb2.NOT_FOUND


async def test_replay_of_a_closed_slow_consumer_ends_and_frees_the_tenant(
    tmp_path: Path,
) -> None:
    srv, runner = await start_server(
        tmp_path / "data", shutdown_grace_seconds=0.5, max_queued_events=10
    )
    try:
        alice = await srv.client(user="alice")
        project = await create_project(alice, "SLOW")
        head = await subscribe(alice, project.id)
        await fill_events(srv, project.id, 1200)
        reader = await srv.client(user="bob", admin=True)
        assert reader._reader is not None
        reader._reader.cancel()  # never reads again
        envelope = envelope_pb2.ClientMessage(
            request_id="s1",
            subscribe=commands_pb2.Subscribe(
                project_ids=[project.id],
                resume=commands_pb2.ResumePosition(epoch=head.epoch, seq=0),
            ),
        )
        await reader.ws.send_bytes(envelope.SerializeToString())
        for _ in range(100):
            if srv.state.metrics.slow_consumer_closes._value.get() >= 1:
                break
            await asyncio.sleep(0.05)
        assert srv.state.metrics.slow_consumer_closes._value.get() == 1
        await asyncio.sleep(0.3)
        assert len(srv.state.connections) == 1  # only alice's
        assert srv.state.databases._leases == {}
    finally:
        for client in srv.clients:
            await client.close()
        await asyncio.wait_for(runner.cleanup(), 20)


async def test_maintenance_purges_expired_events_and_resume_then_must_refetch(
    tmp_path: Path,
) -> None:
    srv, runner = await start_server(
        tmp_path / "data", event_retention_hours=1e-6, idempotency_retention_hours=1e-6
    )
    try:
        alice = await srv.client(user="alice")
        project = await create_project(alice, "OLD")
        head = await subscribe(alice, project.id)
        await new_epic(alice, project.id, "soon purged")
        await asyncio.sleep(0.05)
        events, keys = await purge_tenant(srv.state, "acme")
        assert (events, keys) >= (2, 2)
        reply = await alice.request(
            "subscribe",
            commands_pb2.Subscribe(
                project_ids=[project.id],
                resume=commands_pb2.ResumePosition(epoch=head.epoch, seq=0),
            ),
        )
        assert reply.subscribed.must_refetch
        assert reply.subscribed.seq == head.seq + 1
    finally:
        for client in srv.clients:
            await client.close()
        await runner.cleanup()
