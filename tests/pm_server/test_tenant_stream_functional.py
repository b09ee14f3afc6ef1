"""The tenant scope of a subscription: tenant-wide llm_context events, live and on resume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pm_client import PmClient
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2
from tests.pm_server.conftest import Server, create_project, start_server
from tests.pm_server.wsclient import WsClient

RULE = entities_pb2.LLM_CONTEXT_TYPE_BUSINESS_RULE
TASK = entities_pb2.WORK_ITEM_TYPE_TASK


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path / "data")
    yield srv
    for client in srv.clients:
        await client.close()
    await runner.cleanup()


async def tenant_rule(admin: WsClient, title: str) -> entities_pb2.LlmContext:
    reply = await admin.request(
        "create_llm_context",
        commands_pb2.CreateLlmContext(context_type=RULE, title=title, content=f"{title}."),
    )
    return reply.llm_context.context


async def subscribe_tenant(
    client: WsClient, *project_ids: str, resume: tuple[str, int] | None = None
) -> commands_pb2.SubscribeReply:
    command = commands_pb2.Subscribe(project_ids=list(project_ids), tenant=True)
    if resume is not None:
        command.resume.epoch, command.resume.seq = resume
    return (await client.request("subscribe", command)).subscribed


async def next_events(client: WsClient, count: int) -> list[events_pb2.Event]:
    async with asyncio.timeout(10):
        return [await client.events.get() for _ in range(count)]


async def nothing_more(client: WsClient, marker: WsClient) -> None:
    """Nothing queued for ``client`` before a marker event it must receive next."""
    await marker.request("ping", commands_pb2.Ping())
    assert client.events.empty()


async def test_tenant_wide_llm_context_reaches_every_user_subscribed_to_the_tenant_scope(
    server: Server,
) -> None:
    root = await server.client(user="root", admin=True)
    alice = await server.client(user="alice")  # a member of no project at all
    bob = await server.client(user="bob")
    reply = await subscribe_tenant(alice)
    assert reply.tenant
    assert not reply.project_ids
    bobs = await create_project(bob, "BOB")
    await bob.request("subscribe", commands_pb2.Subscribe(project_ids=[bobs.id]))

    row = await tenant_rule(root, "Be brief")
    [event] = await next_events(alice, 1)
    assert event.WhichOneof("entity") == "llm_context"
    assert event.llm_context.id == row.id
    assert event.project_id == ""
    assert event.seq > reply.seq
    assert bob.events.empty()  # a project's subscriber gets no tenant-wide event


async def test_tenant_scope_and_projects_make_one_ordered_stream(server: Server) -> None:
    root = await server.client(user="root", admin=True)
    alice = await server.client(user="alice")
    project = await create_project(alice, "PM")
    await subscribe_tenant(alice, project.id)
    await tenant_rule(root, "First")
    await alice.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(project_id=project.id, type=TASK, title="Between"),
    )
    await tenant_rule(root, "Last")
    events = await next_events(alice, 3)
    assert [e.WhichOneof("entity") for e in events] == ["llm_context", "work_item", "llm_context"]
    assert [e.seq for e in events] == sorted(e.seq for e in events)


async def test_tenant_scope_resumes_with_no_gap_and_no_duplicate(server: Server) -> None:
    root = await server.client(user="root", admin=True)
    first = await server.client(user="alice")
    reply = await subscribe_tenant(first)
    await tenant_rule(root, "Seen")
    [seen] = await next_events(first, 1)
    await first.close()

    missed = [await tenant_rule(root, f"Missed {n}") for n in range(3)]
    other = await create_project(root, "OTHER")  # a project alice cannot read
    await root.request(
        "create_work_item", commands_pb2.CreateWorkItem(project_id=other.id, type=TASK, title="x")
    )
    again = await server.client(user="alice")
    resumed = await subscribe_tenant(again, resume=(reply.epoch, seen.seq))
    assert not resumed.must_refetch
    live = await tenant_rule(root, "Live")
    events = await next_events(again, 4)
    assert [e.llm_context.id for e in events] == [*(m.id for m in missed), live.id]
    await nothing_more(again, root)


async def test_tenant_scope_resume_from_another_epoch_must_refetch(server: Server) -> None:
    alice = await server.client(user="alice")
    reply = await subscribe_tenant(alice, resume=("another-epoch", 1))
    assert reply.must_refetch
    assert reply.tenant


async def test_unsubscribing_the_tenant_scope_ends_its_events(server: Server) -> None:
    root = await server.client(user="root", admin=True)
    alice = await server.client(user="alice")
    await subscribe_tenant(alice)
    ended = await alice.request("unsubscribe", commands_pb2.Unsubscribe(tenant=True))
    assert ended.unsubscribed.tenant
    await tenant_rule(root, "Unseen")
    await nothing_more(alice, root)


async def test_empty_subscribe_and_empty_project_id_are_validation_errors(server: Server) -> None:
    alice = await server.client(user="alice")
    empty = await alice.error("subscribe", commands_pb2.Subscribe())
    blank = await alice.error("subscribe", commands_pb2.Subscribe(project_ids=[""], tenant=True))
    assert (empty.code, empty.field) == (envelope_pb2.VALIDATION_ERROR, "project_ids")
    assert (blank.code, blank.field) == (envelope_pb2.VALIDATION_ERROR, "project_ids")


async def test_pm_client_keeps_the_tenant_scope_across_a_reconnect(server: Server) -> None:
    root = await server.client(user="root", admin=True)
    async with PmClient(server.ws_url, server.token()) as pm:
        await pm.subscribe(tenant=True)
        assert pm.tenant_subscribed
        before = await tenant_rule(root, "Before")
        events = pm.events()
        assert (await anext(events)).llm_context.id == before.id
        [connection] = [c for c in server.state.connections if c.id == pm.welcome.connection_id]
        connection.begin_close(1011, "dropped by the test")
        during = await tenant_rule(root, "During")  # before or after the reconnect
        async with asyncio.timeout(30):
            while pm.reconnects < 1:
                await asyncio.sleep(0.05)
        after = await tenant_rule(root, "After")
        async with asyncio.timeout(10):
            assert (await anext(events)).llm_context.id == during.id
            assert (await anext(events)).llm_context.id == after.id
