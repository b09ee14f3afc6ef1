"""Subscriptions over a real socket: ordered live events, exact resume, presence, slow consumers."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, subscribe
from tests.pm_server.wsclient import WsClient, seqs


async def add_member(
    admin: WsClient, project_id: str, user: str, role: entities_pb2.Role.ValueType
) -> None:
    await admin.request(
        "add_member", commands_pb2.AddMember(project_id=project_id, user_id=user, role=role)
    )


async def rename(client: WsClient, project_id: str, name: str) -> None:
    await client.request(
        "update_project", commands_pb2.UpdateProject(project_id=project_id, name=name)
    )


async def test_second_client_sees_every_mutation_in_seq_order_with_changes(
    server: Server,
) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "LIVE", "Live")
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob", entities_pb2.ROLE_VIEWER)
    await subscribe(bob, project.id)
    for n in range(10):
        await rename(alice, project.id, f"Name {n}")
    events = [await bob.next_event() for _ in range(10)]
    assert seqs(events) == sorted(seqs(events))
    assert len(set(seqs(events))) == 10
    assert all(e.entity_type == entities_pb2.ENTITY_TYPE_PROJECT for e in events)
    assert all(e.action == entities_pb2.ACTION_UPDATED for e in events)
    assert all(e.actor_id == "alice" for e in events)
    first = events[0].changes[0]
    assert (first.field, json.loads(first.old_json), json.loads(first.new_json)) == (
        "name",
        "Live",
        "Name 0",
    )
    assert events[-1].project.name == "Name 9"
    await bob.no_event()


async def test_subscribe_reply_carries_epoch_and_current_seq(server: Server) -> None:
    alice = await server.client()
    project = await create_project(alice, "SEQ")
    listed = await alice.request("list_projects", commands_pb2.ListProjects())
    reply = await subscribe(alice, project.id)
    assert reply.seq == listed.projects.seq >= 1
    assert len(reply.epoch) == 32
    assert not reply.must_refetch


async def test_resume_replays_exactly_the_missed_events_then_live(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "RES", "Resume")
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob", entities_pb2.ROLE_VIEWER)
    first = await subscribe(bob, project.id)
    await rename(alice, project.id, "seen")
    seen = await bob.next_event()
    await bob.close()

    for n in range(25):
        await rename(alice, project.id, f"missed {n}")

    # Keep writing while bob reconnects and resumes.
    async def writer() -> None:
        for n in range(25):
            await rename(alice, project.id, f"during {n}")

    writing = asyncio.ensure_future(writer())
    bob2 = await server.client(user="bob")
    reply = await bob2.request(
        "subscribe",
        commands_pb2.Subscribe(
            project_ids=[project.id],
            resume=commands_pb2.ResumePosition(epoch=first.epoch, seq=seen.seq),
        ),
    )
    await writing
    assert not reply.subscribed.must_refetch
    await rename(alice, project.id, "live")
    events: list[events_pb2.Event] = []
    while not events or events[-1].project.name != "live":
        events.append(await bob2.next_event())
    names = [e.project.name for e in events]
    assert names == [f"missed {n}" for n in range(25)] + [f"during {n}" for n in range(25)] + [
        "live"
    ]
    assert seqs(events) == sorted(set(seqs(events)))
    await bob2.no_event()


async def test_resume_from_another_epoch_or_the_future_must_refetch(server: Server) -> None:
    alice = await server.client()
    project = await create_project(alice, "EPO")
    head = (await subscribe(alice, project.id)).seq
    for epoch, seq in (("0" * 32, 1), (None, head + 100)):
        reply = await alice.request(
            "subscribe",
            commands_pb2.Subscribe(
                project_ids=[project.id],
                resume=commands_pb2.ResumePosition(epoch=epoch or alice_epoch(alice), seq=seq),
            ),
        )
        assert reply.subscribed.must_refetch
        assert reply.subscribed.seq == head
    await rename(alice, project.id, "after refetch")
    event = await alice.next_event()
    assert event.seq == head + 1


def alice_epoch(client: WsClient) -> str:
    for frame in client.frames:
        if frame.WhichOneof("kind") == "reply" and frame.reply.WhichOneof("result") == "subscribed":
            return frame.reply.subscribed.epoch
    raise AssertionError("no subscribe reply yet")


async def test_events_of_unsubscribed_projects_are_not_delivered(server: Server) -> None:
    alice = await server.client()
    one = await create_project(alice, "ONE")
    two = await create_project(alice, "TWO")
    await subscribe(alice, one.id)
    await rename(alice, two.id, "elsewhere")
    await alice.no_event()
    await alice.request("unsubscribe", commands_pb2.Unsubscribe(project_ids=[one.id]))
    await rename(alice, one.id, "after unsubscribe")
    await alice.no_event()


async def test_presence_join_leave_and_disconnect_are_events(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "PRE")
    await subscribe(alice, project.id)
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob", entities_pb2.ROLE_VIEWER)
    await alice.next_event()  # the membership event
    reply = await bob.request("join_presence", commands_pb2.JoinPresence(project_id=project.id))
    assert list(reply.presence.user_ids) == ["bob"]
    joined = await alice.next_event()
    assert (joined.seq, joined.presence.user_id, joined.presence.present) == (0, "bob", True)
    listed = await alice.request("list_presence", commands_pb2.ListPresence(project_id=project.id))
    assert list(listed.presence.user_ids) == ["bob"]
    await bob.close()
    left = await alice.next_event()
    assert (left.presence.user_id, left.presence.present) == ("bob", False)


async def test_outsider_cannot_join_presence(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "OUT")
    eve = await server.client(user="eve")
    error = await eve.error("join_presence", commands_pb2.JoinPresence(project_id=project.id))
    assert error.code == envelope_pb2.NOT_FOUND


@pytest.mark.parametrize(
    "limits",
    [
        {"max_queued_events": 50},
        # Few but big events: the byte bound closes it long before the count would.
        {"max_queued_events": 100_000, "max_queued_event_bytes": 256 * 1024},
    ],
    ids=["events", "bytes"],
)
async def test_slow_consumer_is_closed_and_others_keep_receiving(tmp_path, limits) -> None:
    from tests.pm_server.conftest import start_server

    server, runner = await start_server(tmp_path / "data", **limits)
    try:
        alice = await server.client(user="alice")
        project = await create_project(alice, "SLOW")
        # A raw socket that subscribes and then never reads again.
        session = aiohttp.ClientSession()
        slow = await session.ws_connect(
            server.ws_url,
            headers={"Authorization": f"Bearer {server.token('acme', 'alice')}"},
            max_msg_size=0,
        )
        await slow.receive_bytes(timeout=5)
        sub = envelope_pb2.ClientMessage(
            request_id="s", subscribe=commands_pb2.Subscribe(project_ids=[project.id])
        )
        await slow.send_bytes(sub.SerializeToString())
        await slow.receive_bytes(timeout=5)
        await subscribe(alice, project.id)
        big = "x" * 9_000
        for n in range(400):
            await alice.request(
                "update_project",
                commands_pb2.UpdateProject(project_id=project.id, description=f"{n}{big}"),
            )
        received = [await alice.next_event() for _ in range(400)]
        assert len(received) == 400
        for _ in range(100):
            if server.state.metrics.slow_consumer_closes._value.get() >= 1:
                break
            await asyncio.sleep(0.05)
        assert server.state.metrics.slow_consumer_closes._value.get() == 1
        await session.close()
        for client in server.clients:
            await client.close()
    finally:
        await runner.cleanup()


async def test_removed_member_stops_receiving_events_at_the_removal(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "KICK")
    bob = await server.client(user="bob")
    await add_member(alice, project.id, "bob", entities_pb2.ROLE_VIEWER)
    await subscribe(bob, project.id)
    await alice.request(
        "remove_member", commands_pb2.RemoveMember(project_id=project.id, user_id="bob")
    )
    removal = await bob.next_event()
    assert (removal.entity_type, removal.action) == (
        entities_pb2.ENTITY_TYPE_MEMBER,
        entities_pb2.ACTION_DELETED,
    )
    await rename(alice, project.id, "secret plans")
    await bob.no_event()
    error = await bob.error("subscribe", commands_pb2.Subscribe(project_ids=[project.id]))
    assert error.code == envelope_pb2.NOT_FOUND


async def test_deleting_a_project_ends_its_subscriptions(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "GONE")
    await subscribe(alice, project.id)
    await alice.request("delete_project", commands_pb2.DeleteProject(project_id=project.id))
    deleted = await alice.next_event()
    assert deleted.action == entities_pb2.ACTION_DELETED
    assert server.state.hub.subscriber_count("acme", project.id) == 0


async def test_leave_presence_is_an_event_and_outsiders_cannot_list(server: Server) -> None:
    alice = await server.client(user="alice")
    project = await create_project(alice, "LEAVE")
    await subscribe(alice, project.id)
    await alice.request("join_presence", commands_pb2.JoinPresence(project_id=project.id))
    assert (await alice.next_event()).presence.present
    reply = await alice.request("leave_presence", commands_pb2.LeavePresence(project_id=project.id))
    assert list(reply.presence.user_ids) == []
    left = await alice.next_event()
    assert (left.presence.user_id, left.presence.present) == ("alice", False)
    eve = await server.client(user="eve")
    error = await eve.error("list_presence", commands_pb2.ListPresence(project_id=project.id))
    assert error.code == envelope_pb2.NOT_FOUND


async def test_unsubscribe_names_only_what_was_subscribed(server: Server) -> None:
    alice = await server.client()
    project = await create_project(alice, "UNS")
    reply = await alice.request(
        "unsubscribe", commands_pb2.Unsubscribe(project_ids=[project.id, "nope"])
    )
    assert list(reply.unsubscribed.project_ids) == []
    await subscribe(alice, project.id)
    reply = await alice.request(
        "unsubscribe", commands_pb2.Unsubscribe(project_ids=[project.id, "nope"])
    )
    assert list(reply.unsubscribed.project_ids) == [project.id]
