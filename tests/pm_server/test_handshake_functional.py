"""The request-head guard over a real socket: a deadline for the whole upgrade request, a
cap on connections still sending it, and 431 for a head over the limit (no traceback)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.pm_server.conftest import Server, start_server

HEAD = b"GET /v1/ws HTTP/1.1\r\nHost: localhost\r\n"


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[tuple[Server, web.AppRunner]]:
    srv, runner = await start_server(
        tmp_path / "data",
        handshake_timeout_seconds=1.0,
        max_handshakes=3,
        max_request_head_bytes=4_096,
    )
    yield srv, runner
    for client in srv.clients:
        await client.close()
    await runner.cleanup()


async def open_raw(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = int(server.base_url.rsplit(":", 1)[1])
    return await asyncio.open_connection("127.0.0.1", port)


async def answer_of(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """The status and JSON body the server sent before closing (EOF within 10 s)."""
    raw = await asyncio.wait_for(reader.read(), timeout=10)
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def refused(server: Server, reason: str) -> float:
    value = server.state.metrics.registry.get_sample_value(
        "pm_connections_refused_total", {"reason": reason}
    )
    return value or 0.0


async def test_request_head_sent_too_slowly_is_answered_408_and_closed(
    guarded: tuple[Server, web.AppRunner],
) -> None:
    server, _ = guarded
    reader, writer = await open_raw(server)
    writer.write(HEAD[:10])  # and then nothing more, like a slowloris client
    status, body = await answer_of(reader)
    writer.close()
    assert status == 408
    assert body["code"] == "UNAVAILABLE"
    assert refused(server, "handshake_timeout") == 1
    await server.client()  # real clients are served meanwhile and after


async def test_byte_by_byte_sender_is_closed_at_the_deadline_whatever_it_sends(
    guarded: tuple[Server, web.AppRunner],
) -> None:
    server, _ = guarded
    reader, writer = await open_raw(server)

    async def trickle() -> None:
        for byte in HEAD + b"X-Pad: " + b"a" * 1_000:
            if writer.is_closing():
                return
            writer.write(bytes([byte]))
            await asyncio.sleep(0.01)

    sender = asyncio.ensure_future(trickle())
    try:
        status, _ = await answer_of(reader)
    finally:
        sender.cancel()
        writer.close()
    assert status == 408


async def test_connections_beyond_the_handshake_cap_get_503_at_once_and_upgraded_ones_do_not_count(
    guarded: tuple[Server, web.AppRunner],
) -> None:
    server, _ = guarded
    served = [await server.client(user=f"u{i}") for i in range(4)]  # more than the cap
    slow = [await open_raw(server) for _ in range(3)]
    for _, writer in slow:
        writer.write(HEAD[:5])
    await asyncio.sleep(0.1)  # let the server see the three connections
    reader, writer = await open_raw(server)
    status, body = await answer_of(reader)
    writer.close()
    assert status == 503
    assert "still sending" in body["message"]
    assert refused(server, "max_handshakes") == 1
    for client in served:  # upgraded connections are untouched
        assert not client.ws.closed
    for reader, writer in slow:  # the slow ones meet their deadline, freeing the slots
        assert (await answer_of(reader))[0] == 408
        writer.close()
    await server.client(user="after")


async def test_request_head_over_the_limit_gets_431_without_a_traceback(
    guarded: tuple[Server, web.AppRunner], caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = guarded
    caplog.set_level(logging.DEBUG)
    reader, writer = await open_raw(server)
    writer.write(HEAD + b"Authorization: Bearer " + b"t" * 5_000 + b"\r\n\r\n")
    status, body = await answer_of(reader)
    writer.close()
    assert status == 431
    assert body["code"] == "INVALID_MESSAGE"
    assert refused(server, "request_head_too_large") == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert "ttttt" not in caplog.text
    # A head that trickles past the limit in small pieces is refused the same way.
    reader, writer = await open_raw(server)
    writer.write(HEAD)
    for _ in range(10):
        writer.write(b"X-Pad: " + b"p" * 500 + b"\r\n")
        await writer.drain()
    status, _ = await answer_of(reader)
    writer.close()
    assert status == 431


async def answer_on(
    reader: asyncio.StreamReader,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One answer read off a connection that stays open: status, headers, JSON body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    status_line, *lines = head.decode().strip().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, json.loads(body) if body else {}


def rpc_request(
    server: Server, command: str, body: bytes, content_type: str = "application/json"
) -> bytes:
    token = server.token("acme", "alice")
    return (
        f"POST /v1/rpc/{command} HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def test_requests_reuse_one_connection_and_each_head_meets_the_guard(
    guarded: tuple[Server, web.AppRunner],
) -> None:
    server, _ = guarded
    reader, writer = await open_raw(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    status, headers, _ = await answer_on(reader)
    assert status == 200
    assert headers.get("connection", "keep-alive").lower() != "close"
    # The same TCP connection serves the next requests, a malformed one included.
    writer.write(rpc_request(server, "list_projects", b"{}"))
    status, headers, body = await answer_on(reader)
    assert status == 200, body
    writer.write(rpc_request(server, "create_project", b"{not json"))
    status, headers, body = await answer_on(reader)
    assert status == 400
    assert body["code"] == "INVALID_MESSAGE"
    assert headers.get("connection", "keep-alive").lower() != "close"
    writer.write(rpc_request(server, "list_projects", b""))
    status, _, body = await answer_on(reader)
    assert status == 200, body
    # A later head on the kept-alive connection meets the guard as the first did: 431.
    writer.write(HEAD + b"Authorization: Bearer " + b"t" * 5_000 + b"\r\n\r\n")
    status, body = await answer_of(reader)
    writer.close()
    assert status == 431
    assert body["code"] == "INVALID_MESSAGE"
    assert refused(server, "request_head_too_large") == 1


async def test_a_later_head_sent_too_slowly_on_a_kept_alive_connection_is_cut(
    guarded: tuple[Server, web.AppRunner],
) -> None:
    server, _ = guarded
    reader, writer = await open_raw(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert (await answer_on(reader))[0] == 200
    writer.write(HEAD[:10])  # and then nothing more
    rest = await asyncio.wait_for(reader.read(), timeout=10)  # EOF: the server closed it
    writer.close()
    assert rest == b"" or rest.startswith(b"HTTP/1.1 408")


async def test_an_answer_sent_before_the_whole_body_came_closes_its_connection(
    guarded: tuple[Server, web.AppRunner],
) -> None:
    server, _ = guarded
    reader, writer = await open_raw(server)
    # Refused (415) whole: the body had come, the connection serves the next request.
    writer.write(rpc_request(server, "list_projects", b"x" * 3_000, "text/plain"))
    status, headers, body = await answer_on(reader)
    assert status == 415
    assert headers.get("connection", "keep-alive").lower() != "close"
    # Refused before the whole body came: the rest of it cannot pass for a new head.
    request = rpc_request(server, "list_projects", b"x" * 3_000, "text/plain")
    writer.write(request[:-2_000])
    status, headers, body = await answer_on(reader)
    writer.write(request[-2_000:])  # read and dropped by aiohttp, then the connection closes
    assert status == 415
    assert body["code"] == "INVALID_MESSAGE"
    assert headers["connection"].lower() == "close"
    assert await asyncio.wait_for(reader.read(), timeout=10) == b""
    writer.close()


async def test_refused_upgrade_keeps_its_connection_and_the_retry_meets_the_guard(
    guarded: tuple[Server, web.AppRunner],
) -> None:
    server, _ = guarded
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(server.ws_url) as response:
            assert response.status == 401
        big = {"Authorization": "Bearer " + "t" * 5_000}
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(server.ws_url, headers=big)
        assert info.value.status == 431
        # A good upgrade after both: the guard steps aside for the WebSocket.
        ws = await session.ws_connect(
            server.ws_url, headers={"Authorization": f"Bearer {server.token('acme', 'alice')}"}
        )
        assert await ws.receive_bytes(timeout=5)
        await ws.close()
