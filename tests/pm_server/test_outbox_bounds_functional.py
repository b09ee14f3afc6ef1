"""Replies count against a connection's byte bound: a client that asks but never reads is closed.

Over a real socket: a project holds items with long descriptions, so one
``list_work_items(limit=1000)`` reply is larger than the byte bound. A client
sends such requests and never reads. The server must close it with 4008, and
what it queued for that client must never have passed the bound plus one frame
(one frame is always accepted into an empty queue). The figure checked is the
server-side session's own high-water mark of queued bytes, not a timing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server.connection import Connection
from pm_server.session import CLOSE_SLOW_CONSUMER
from tests.pm_server.conftest import create_project, start_server

#: PM_MAX_QUEUED_EVENT_BYTES for this server.
BOUND = 1024 * 1024
ITEMS = 150
DESCRIPTION = "d" * 9_000
#: Requests sent at most; the close comes once the socket's buffers are full (a few MiB).
REQUESTS = 100


def list_request(n: int, project_id: str) -> bytes:
    command = commands_pb2.ListWorkItems(project_id=project_id, limit=1000)
    return envelope_pb2.ClientMessage(
        request_id=f"list-{n:03}", list_work_items=command
    ).SerializeToString()


async def test_a_client_that_asks_for_big_lists_and_never_reads_is_closed_with_4008(
    tmp_path: Path,
) -> None:
    server, runner = await start_server(
        tmp_path / "data",
        max_queued_event_bytes=BOUND,
        rate_limit_connection_per_second=0,
        rate_limit_tenant_per_second=0,
        heartbeat_seconds=60,  # the deaf client answers no ping either
    )
    try:
        alice = await server.client()
        project = await create_project(alice, "BIG")
        for batch in range(0, ITEMS, 10):  # ten replies of ~9 KB in flight at most
            await asyncio.gather(
                *(
                    alice.request(
                        "create_work_item",
                        commands_pb2.CreateWorkItem(
                            project_id=project.id,
                            type=entities_pb2.WORK_ITEM_TYPE_STORY,
                            title=f"item {n}",
                            description=DESCRIPTION,
                        ),
                    )
                    for n in range(batch, batch + 10)
                )
            )
        listed = await alice.call(
            "list_work_items",
            commands_pb2.ListWorkItems(project_id=project.id, limit=1000),
            request_id="list-000",
        )
        assert len(listed.reply.work_items.items) == ITEMS
        reply_size = listed.ByteSize()
        assert reply_size > BOUND  # each reply alone passes the bound

        async with aiohttp.ClientSession() as session:
            deaf = await session.ws_connect(
                server.ws_url,
                headers={"Authorization": f"Bearer {server.token()}"},
                max_msg_size=0,
            )
            welcome = envelope_pb2.ServerMessage.FromString(await deaf.receive_bytes(timeout=5))
            [connection] = [
                c for c in server.state.connections if c.id == welcome.welcome.connection_id
            ]
            assert isinstance(connection, Connection)
            for n in range(1, REQUESTS + 1):  # and never read again
                if connection.closing:
                    break
                try:
                    await deaf.send_bytes(list_request(n, project.id))
                except (ConnectionError, aiohttp.ClientError):
                    break
                await asyncio.sleep(0.005)  # let the server answer as they come
            for _ in range(200):
                if server.state.metrics.slow_consumer_closes._value.get() >= 1:
                    break
                await asyncio.sleep(0.05)
            await deaf.close()

        assert connection.close_code == CLOSE_SLOW_CONSUMER
        assert connection.slow_consumer
        assert server.state.metrics.slow_consumer_closes._value.get() == 1
        # What the server held for it never passed the bound plus one frame.
        session_state = connection.session
        assert session_state.queued_bytes == 0  # dropped at the close
        assert reply_size <= session_state.peak_queued_bytes <= BOUND + reply_size
        # Everyone else is still served.
        await alice.request("ping", commands_pb2.Ping(nonce=1))
    finally:
        for client in server.clients:
            await client.close()
        await runner.cleanup()
