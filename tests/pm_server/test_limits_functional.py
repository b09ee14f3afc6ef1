"""Every limit of docs/security.md, triggered over a real socket.

Each test runs a server with a small limit, trips it, checks the documented
error or close code, and then checks that normal traffic is still served.
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_core.text import DESCRIPTION_MAX
from pm_db.unit_of_work import UnitOfWork
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2
from pm_server.limits import TokenBucket
from pm_server.settings import Settings
from tests.pm_server.conftest import Server, create_project, start_server, subscribe
from tests.pm_server.wsclient import WsClient

#: Rate limits off, for tests of the other limits.
NO_RATE_LIMITS: dict[str, Any] = {
    "rate_limit_connection_per_second": 0,
    "rate_limit_tenant_per_second": 0,
}


@pytest.fixture
async def launch(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await launch(**settings)``: a server with those settings, cleaned up after the test."""
    started: list[tuple[Server, Any]] = []

    async def start(**overrides: Any) -> Server:
        srv, runner = await start_server(tmp_path / f"data{len(started)}", **overrides)
        started.append((srv, runner))
        return srv

    yield start
    for srv, runner in started:
        for client in srv.clients:
            await client.close()
        await runner.cleanup()


async def ping_works(client: WsClient) -> None:
    reply = await client.request("ping", commands_pb2.Ping(nonce=42))
    assert reply.pong.nonce == 42


async def closed_with(client: WsClient, timeout: float = 10) -> int | None:
    assert client._reader is not None
    await asyncio.wait_for(asyncio.shield(client._reader), timeout)
    return client.close_code


async def metrics_text(server: Server) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.base_url + "/metrics") as response,
    ):
        return await response.text()


async def upgrade(server: Server, token: str, origin: str | None = None) -> tuple[int, Any]:
    """A raw upgrade request: the HTTP status and the JSON body of a refusal."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    if origin is not None:
        headers["Origin"] = origin
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.ws_url, headers=headers) as response,
    ):
        body = await response.json() if response.status != 101 else None
        return response.status, body


def error_code(message: envelope_pb2.ServerMessage) -> str:
    if message.WhichOneof("kind") != "error":
        return "OK"
    return envelope_pb2.ErrorCode.Name(message.error.code)


# -- token bucket (unit, with a fake clock) ------------------------------------------


def test_token_bucket_grants_its_burst_then_tells_the_wait_for_the_next_token() -> None:
    bucket = TokenBucket.full(rate=10, capacity=3, now=100.0)
    for _ in range(3):
        assert bucket.wait(100.0) == 0
        bucket.take()
    assert bucket.wait(100.0) == pytest.approx(0.1)
    assert bucket.wait(100.05) == pytest.approx(0.05)
    assert bucket.wait(100.1) == 0


def test_token_bucket_refills_no_further_than_its_capacity() -> None:
    bucket = TokenBucket.full(rate=10, capacity=3, now=0.0)
    bucket.take()
    assert not bucket.is_full(0.0)
    assert bucket.is_full(3600.0)
    assert bucket.tokens == 3


# -- frame size --------------------------------------------------------------------------


async def test_frame_above_the_configured_size_closes_with_1009_and_others_are_served(
    launch: Callable[..., Any],
) -> None:
    server = await launch(max_frame_bytes=1024)
    client = await server.client()
    assert client.welcome.max_frame_bytes == 1024
    await ping_works(client)
    await client.send_raw(b"\x00" * 1025)
    assert await closed_with(client) == 1009
    await ping_works(await server.client())


# -- rate limits -------------------------------------------------------------------------


async def test_command_over_the_connection_rate_gets_rate_limited_with_retry_after(
    launch: Callable[..., Any],
) -> None:
    server = await launch(
        rate_limit_connection_per_second=5,
        rate_limit_connection_burst=5,
        rate_limit_tenant_per_second=0,
    )
    client = await server.client()
    answers = await asyncio.gather(
        *(client.call("ping", commands_pb2.Ping(nonce=n)) for n in range(8))
    )
    codes = [error_code(a) for a in answers]
    assert codes.count("OK") == 5, codes
    assert codes.count("RATE_LIMITED") == 3, codes
    refused = [a.error for a in answers if a.WhichOneof("kind") == "error"]
    assert all(e.retryable and 0 < e.retry_after_ms <= 1000 for e in refused), refused
    assert all(e.request_id for e in refused)  # the client can match each refusal
    # Waiting as told is enough: the same connection is served again.
    await asyncio.sleep(max(e.retry_after_ms for e in refused) / 1000)
    await ping_works(client)
    assert 'pm_rate_limited_total{scope="connection"} 3.0' in await metrics_text(server)


async def test_tenant_rate_limit_is_shared_by_its_connections_and_spares_other_tenants(
    launch: Callable[..., Any],
) -> None:
    server = await launch(
        rate_limit_connection_per_second=0,
        rate_limit_tenant_per_second=2,
        rate_limit_tenant_burst=4,
    )
    first = await server.client("acme", "alice")
    second = await server.client("acme", "bob")
    other = await server.client("globex", "carol")
    for n in range(4):
        await first.request("ping", commands_pb2.Ping(nonce=n))
    error = await second.error("ping", commands_pb2.Ping())
    assert error.code == envelope_pb2.RATE_LIMITED
    assert 0 < error.retry_after_ms <= 500
    await ping_works(other)
    await asyncio.sleep(error.retry_after_ms / 1000)
    await ping_works(second)


async def test_client_that_keeps_sending_after_rate_limited_is_closed_with_1008(
    launch: Callable[..., Any],
) -> None:
    server = await launch(
        rate_limit_connection_per_second=1,
        rate_limit_connection_burst=2,
        rate_limit_tenant_per_second=0,
        rate_limit_flood_refusals=5,
        rate_limit_flood_window_seconds=10,
        max_inflight_per_connection=4,
    )
    flooder = await server.client()
    for n in range(20):
        envelope = envelope_pb2.ClientMessage(request_id=f"f{n}", ping=commands_pb2.Ping())
        await flooder.send_raw(envelope.SerializeToString())
    assert await closed_with(flooder) == 1008
    refusals = [
        f
        for f in flooder.frames
        if f.WhichOneof("kind") == "error" and f.error.code == envelope_pb2.RATE_LIMITED
    ]
    # Two admitted (the burst), four refused while within the in-flight allowance, then
    # five counted refusals: no answer after the fifth closed it.
    assert len(refusals) == 4 + 5
    # Each was told its own slot, one token (1 s) after the one before.
    assert [r.error.retry_after_ms for r in refusals[:3]] == pytest.approx(
        [1000, 2000, 3000], abs=20
    )
    assert 'pm_limit_closes_total{reason="flood"} 1.0' in await metrics_text(server)
    await ping_works(await server.client())


async def test_client_that_resends_a_request_before_its_retry_time_is_closed_with_1008(
    launch: Callable[..., Any],
) -> None:
    server = await launch(
        rate_limit_connection_per_second=1,
        rate_limit_connection_burst=1,
        rate_limit_tenant_per_second=0,
        rate_limit_flood_refusals=5,
    )
    spinner = await server.client()
    await ping_works(spinner)  # the burst
    envelope = envelope_pb2.ClientMessage(request_id="again", ping=commands_pb2.Ping())
    for _ in range(10):
        await spinner.send_raw(envelope.SerializeToString())
    assert await closed_with(spinner) == 1008
    refusals = [f.error for f in spinner.frames if f.WhichOneof("kind") == "error"]
    assert len(refusals) == 1 + 5  # the first refusal, then five early resends
    assert all(r.request_id == "again" for r in refusals)


async def test_sequential_client_waiting_as_told_is_never_closed_however_often_refused(
    launch: Callable[..., Any],
) -> None:
    # The known case: sending the next request as soon as the last is answered, and after a
    # refusal waiting retry_after_ms, got closed after flood_refusals refusals.
    server = await launch(
        rate_limit_connection_per_second=200,
        rate_limit_connection_burst=5,
        rate_limit_tenant_per_second=0,
        rate_limit_flood_refusals=5,
    )
    client = await server.client()
    refusals = 0
    for n in range(60):
        while True:
            message = await client.call("ping", commands_pb2.Ping(nonce=n))
            if message.WhichOneof("kind") == "reply":
                break
            assert message.error.code == envelope_pb2.RATE_LIMITED
            assert message.error.rate_per_second == 200
            refusals += 1
            await asyncio.sleep(message.error.retry_after_ms / 1000)
    # Refused more often than the flood threshold, and every request answered: never closed
    # (a closed flooder gets no more answers).
    assert refusals > 5
    assert client.close_code is None


async def test_concurrent_client_waiting_as_told_is_served_and_never_closed(
    launch: Callable[..., Any],
) -> None:
    server = await launch(
        rate_limit_connection_per_second=100,
        rate_limit_connection_burst=5,
        rate_limit_tenant_per_second=0,
        rate_limit_flood_refusals=5,
    )
    client = await server.client()
    refusals = 0

    async def worker(w: int) -> None:
        nonlocal refusals
        for n in range(5):
            request_id = f"w{w}-{n}"
            while True:
                message = await client.call(
                    "ping", commands_pb2.Ping(nonce=n), request_id=request_id
                )
                if message.WhichOneof("kind") == "reply":
                    break
                refusals += 1
                await asyncio.sleep(message.error.retry_after_ms / 1000)

    await asyncio.gather(*(worker(w) for w in range(16)))
    assert refusals > 5
    assert client.close_code is None


async def test_page_load_burst_of_100_requests_passes_with_default_limits(
    server: Server,
) -> None:
    loader = await server.client()
    project = await create_project(loader, "LOAD")
    reads: list[tuple[str, Any]] = [
        ("get_project", commands_pb2.GetProject(project_id=project.id)),
        ("list_work_items", commands_pb2.ListWorkItems(project_id=project.id)),
        ("list_sprints", commands_pb2.ListSprints(project_id=project.id)),
        ("list_swim_lanes", commands_pb2.ListSwimLanes(project_id=project.id)),
        ("list_members", commands_pb2.ListMembers(project_id=project.id)),
    ]
    # Five users' page loads at once: 100 requests each on five connections.
    clients = [loader] + [await server.client() for _ in range(4)]
    answers = await asyncio.gather(
        *(client.call(*reads[n % len(reads)]) for client in clients for n in range(100))
    )
    assert [error_code(a) for a in answers] == ["OK"] * 500


def test_default_limits_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PM_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.max_frame_bytes == 65_536
    assert (settings.rate_limit_connection_per_second, settings.rate_limit_connection_burst) == (
        250,
        500,
    )
    assert (settings.rate_limit_tenant_per_second, settings.rate_limit_tenant_burst) == (
        2_000,
        4_000,
    )
    assert (settings.rate_limit_flood_refusals, settings.rate_limit_flood_window_seconds) == (
        200,
        10,
    )
    assert (
        settings.max_connections,
        settings.max_connections_per_tenant,
        settings.max_connections_per_user,
    ) == (10_000, 1_000, 128)
    assert settings.allowed_origins == ()
    assert settings.max_subscriptions_per_connection == 1_000
    assert settings.max_list_items == 1_000
    assert settings.handler_timeout_seconds == 10
    assert settings.db_max_queued_writes == 1_000


def test_allowed_origins_setting_takes_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PM_ALLOWED_ORIGINS", "https://App.example.com/, http://localhost:3000")
    assert Settings().allowed_origins == ("https://app.example.com", "http://localhost:3000")
    monkeypatch.setenv("PM_ALLOWED_ORIGINS", "app.example.com")
    with pytest.raises(ValueError, match="allowed_origins"):
        Settings()


# -- connection caps ---------------------------------------------------------------------


async def test_connections_beyond_the_per_user_cap_are_refused_with_503_before_upgrade(
    launch: Callable[..., Any],
) -> None:
    server = await launch(max_connections_per_user=2)
    first = await server.client("acme", "alice")
    await server.client("acme", "alice")
    status, body = await upgrade(server, server.token("acme", "alice"))
    assert status == 503
    assert body["code"] == "UNAVAILABLE"
    assert "user" in body["message"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await WsClient.connect(server.ws_url, server.token("acme", "alice"))
    assert refused.value.status == 503
    await ping_works(await server.client("acme", "bob"))  # another user is not counted
    text = await metrics_text(server)
    assert 'pm_connections_refused_total{reason="max_connections_per_user"} 2.0' in text
    await first.close()
    await ping_works(await server.client("acme", "alice"))  # a freed slot is reusable


async def test_connections_beyond_the_per_tenant_cap_are_refused_with_503(
    launch: Callable[..., Any],
) -> None:
    server = await launch(max_connections_per_tenant=2)
    await server.client("acme", "alice")
    await server.client("acme", "bob")
    status, body = await upgrade(server, server.token("acme", "carol"))
    assert (status, body["code"]) == (503, "UNAVAILABLE")
    assert "tenant" in body["message"]
    await ping_works(await server.client("globex", "carol"))
    assert 'reason="max_connections_per_tenant"} 1.0' in await metrics_text(server)


async def test_connections_beyond_the_total_cap_are_refused_with_503(
    launch: Callable[..., Any],
) -> None:
    server = await launch(max_connections=2)
    first = await server.client("acme", "alice")
    await server.client("globex", "bob")
    status, body = await upgrade(server, server.token("initech", "carol"))
    assert (status, body["code"]) == (503, "UNAVAILABLE")
    assert 'reason="max_connections"} 1.0' in await metrics_text(server)
    await first.close()
    await ping_works(await server.client("initech", "carol"))


# -- origins ------------------------------------------------------------------------------


async def test_browser_from_a_foreign_origin_is_refused_with_403_by_default(
    server: Server,
) -> None:
    token = server.token()
    status, body = await upgrade(server, token, origin="https://evil.example")
    assert status == 403
    assert body["code"] == "FORBIDDEN"
    same_origin = server.base_url  # the page the server itself would serve
    client = await WsClient.connect(server.ws_url, token, origin=same_origin)
    server.clients.append(client)
    await ping_works(client)
    assert 'pm_connections_refused_total{reason="origin"} 1.0' in await metrics_text(server)


async def test_configured_origins_are_allowed_and_others_refused(
    launch: Callable[..., Any],
) -> None:
    server = await launch(allowed_origins=("https://app.example.com",))
    token = server.token()
    client = await WsClient.connect(server.ws_url, token, origin="https://app.example.com")
    server.clients.append(client)
    await ping_works(client)
    status, _ = await upgrade(server, token, origin="https://app.example.com.evil.example")
    assert status == 403
    status, _ = await upgrade(server, token, origin="http://app.example.com")
    assert status == 403
    await ping_works(await server.client())  # no Origin: not a browser, allowed


# -- subscriptions, list sizes, page sizes, text lengths ------------------------------


async def test_subscriptions_beyond_the_per_connection_cap_are_refused(
    launch: Callable[..., Any],
) -> None:
    server = await launch(max_subscriptions_per_connection=2)
    alice = await server.client()
    one, two, three = [await create_project(alice, key) for key in ("SUBA", "SUBB", "SUBC")]
    await subscribe(alice, one.id, two.id)
    error = await alice.error("subscribe", commands_pb2.Subscribe(project_ids=[three.id]))
    assert error.code == envelope_pb2.VALIDATION_ERROR
    assert error.field == "project_ids"
    await subscribe(alice, one.id)  # already counted: still within the cap
    await alice.request("unsubscribe", commands_pb2.Unsubscribe(project_ids=[two.id]))
    await subscribe(alice, three.id)
    await alice.request(
        "update_project", commands_pb2.UpdateProject(project_id=three.id, name="Third")
    )
    event = await alice.next_event()
    assert event.project_id == three.id


async def test_refused_subscribe_leaves_the_earlier_subscriptions_live(server: Server) -> None:
    mallory = await server.client("acme", "mallory")
    own = await create_project(mallory, "OWNM")
    await subscribe(mallory, own.id)
    board = await create_project(await server.client("acme", "owner"), "SECA")
    error = await mallory.error("subscribe", commands_pb2.Subscribe(project_ids=[own.id, board.id]))
    assert error.code == envelope_pb2.NOT_FOUND
    await mallory.request(
        "update_project", commands_pb2.UpdateProject(project_id=own.id, description="live")
    )
    event = await mallory.next_event()
    assert (event.project_id, event.project.description) == (own.id, "live")


@pytest.mark.parametrize(
    ("name", "build", "field"),
    [
        (
            "list_work_items",
            lambda project_id: commands_pb2.ListWorkItems(
                project_id=project_id, statuses=[entities_pb2.WORK_ITEM_STATUS_TODO] * 4
            ),
            "statuses",
        ),
        (
            "list_work_items",
            lambda project_id: commands_pb2.ListWorkItems(
                project_id=project_id, types=[entities_pb2.WORK_ITEM_TYPE_TASK] * 4
            ),
            "types",
        ),
        (
            "subscribe",
            lambda project_id: commands_pb2.Subscribe(project_ids=[project_id] * 4),
            "project_ids",
        ),
        (
            "unsubscribe",
            lambda project_id: commands_pb2.Unsubscribe(project_ids=[project_id] * 4),
            "project_ids",
        ),
    ],
)
async def test_repeated_field_beyond_max_list_items_is_a_validation_error(
    launch: Callable[..., Any], name: str, build: Callable[[str], Any], field: str
) -> None:
    server = await launch(max_list_items=3)
    client = await server.client()
    project = await create_project(client, "LIST")
    error = await client.error(name, build(project.id))
    assert error.code == envelope_pb2.VALIDATION_ERROR
    assert error.field == field
    statuses = [entities_pb2.WORK_ITEM_STATUS_TODO] * 3  # at the cap: served
    await client.request(
        "list_work_items", commands_pb2.ListWorkItems(project_id=project.id, statuses=statuses)
    )


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("list_work_items", lambda p, i: commands_pb2.ListWorkItems(project_id=p, limit=1001)),
        ("list_work_items", lambda p, i: commands_pb2.ListWorkItems(project_id=p, limit=-1)),
        ("list_comments", lambda p, i: commands_pb2.ListComments(work_item_id=i, limit=1001)),
        ("list_activity", lambda p, i: commands_pb2.ListActivity(project_id=p, limit=-1)),
        ("list_llm_context", lambda p, i: commands_pb2.ListLlmContext(project_id=p, limit=-1)),
        ("list_time_entries", lambda p, i: commands_pb2.ListTimeEntries(work_item_id=i, limit=-5)),
    ],
)
async def test_page_size_out_of_range_is_a_validation_error_on_limit(
    server: Server, name: str, build: Callable[[str, str], Any]
) -> None:
    client = await server.client()
    project = await create_project(client, "PAGE")
    item = await client.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="Epic"
        ),
    )
    error = await client.error(name, build(project.id, item.work_item.item.id))
    assert error.code == envelope_pb2.VALIDATION_ERROR
    assert error.field == "limit"
    await ping_works(client)


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("list_activity", lambda p, i: commands_pb2.ListActivity(project_id=p, limit=10**9)),
        ("list_llm_context", lambda p, i: commands_pb2.ListLlmContext(project_id=p, limit=10**9)),
        (
            "list_time_entries",
            lambda p, i: commands_pb2.ListTimeEntries(work_item_id=i, limit=10**9),
        ),
    ],
)
async def test_huge_page_size_is_clamped_rather_than_refused(
    server: Server, name: str, build: Callable[[str, str], Any]
) -> None:
    client = await server.client()
    project = await create_project(client, "HUGE")
    item = await client.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="Epic"
        ),
    )
    await client.request(name, build(project.id, item.work_item.item.id))


async def test_text_longer_than_its_limit_is_a_validation_error_naming_the_field(
    server: Server,
) -> None:
    client = await server.client()
    project = await create_project(client, "TEXT")
    error = await client.error(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="t" * 501
        ),
    )
    assert (error.code, error.field) == (envelope_pb2.VALIDATION_ERROR, "title")
    error = await client.error("create_project", commands_pb2.CreateProject(key="L", name="n"))
    assert error.code == envelope_pb2.VALIDATION_ERROR
    await client.request(
        "create_work_item",
        commands_pb2.CreateWorkItem(
            project_id=project.id, type=entities_pb2.WORK_ITEM_TYPE_EPIC, title="t" * 500
        ),
    )


# -- handler timeout and the tenant write queue ------------------------------------------


class BlockedWriter:
    """Holds the tenant's single writer busy until released."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, uow: UnitOfWork) -> None:
        self.started.set()
        self.release.wait(10)


async def block_writer(server: Server, tenant: str) -> tuple[BlockedWriter, asyncio.Task[None]]:
    blocker = BlockedWriter()

    async def run() -> None:
        async with server.state.databases.use(tenant) as db:
            await db.write(blocker)

    task = asyncio.ensure_future(run())
    await asyncio.to_thread(blocker.started.wait, 5)
    return blocker, task


async def project_keys(server: Server, tenant: str = "acme") -> list[str]:
    async with server.state.databases.use(tenant) as db:
        rows = await db.read(lambda uow: uow.conn.execute("SELECT key FROM projects").fetchall())
    return sorted(row[0] for row in rows)


async def test_command_past_the_handler_timeout_gets_unavailable_and_retry_applies_once(
    launch: Callable[..., Any],
) -> None:
    server = await launch(handler_timeout_seconds=0.3)
    client = await server.client()
    blocker, blocked = await block_writer(server, "acme")
    command = commands_pb2.CreateProject(key="SLOW", name="Slow")
    message = await client.call("create_project", command, request_id="slow-1")
    assert error_code(message) == "UNAVAILABLE"
    assert message.error.retryable
    await ping_works(client)  # the connection is not stuck behind the writer
    blocker.release.set()
    await blocked
    reply = await client.request("create_project", command, request_id="slow-1")
    assert reply.project.project.key == "SLOW"
    assert await project_keys(server) == ["SLOW"]


async def test_writes_beyond_the_tenant_queue_bound_get_unavailable_at_once(
    launch: Callable[..., Any],
) -> None:
    server = await launch(db_max_queued_writes=2, **NO_RATE_LIMITS)
    client = await server.client("acme", "alice")
    other = await server.client("globex", "bob")
    blocker, blocked = await block_writer(server, "acme")
    calls = [
        asyncio.ensure_future(
            client.call("create_project", commands_pb2.CreateProject(key=f"Q{n}", name="q"))
        )
        for n in range(3)
    ]
    done, _ = await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED, timeout=5)
    assert len(done) == 1
    refused = done.pop().result()
    assert error_code(refused) == "UNAVAILABLE"
    assert refused.error.retryable
    assert "tenant busy" in refused.error.message
    # A new connection of the busy tenant is refused before the upgrade, too.
    status, body = await upgrade(server, server.token("acme", "carol"))
    assert (status, body["code"]) == (503, "UNAVAILABLE")
    await create_project(other, "ELSE")  # other tenants are not held up
    blocker.release.set()
    await blocked
    answers = await asyncio.gather(*calls)
    assert sorted(error_code(a) for a in answers) == ["OK", "OK", "UNAVAILABLE"]
    await create_project(client, "AFTER")
    assert len(await project_keys(server)) == 3


# -- slow reader and token expiry ---------------------------------------------------------


async def test_client_that_sends_but_never_reads_is_closed_with_4008(
    launch: Callable[..., Any],
) -> None:
    server = await launch(max_queued_events=10, **NO_RATE_LIMITS)
    alice = await server.client()
    project = await create_project(alice, "BIG")
    await alice.request(
        "update_project",
        commands_pb2.UpdateProject(project_id=project.id, description="😀" * DESCRIPTION_MAX),
    )
    async with aiohttp.ClientSession() as session:
        deaf = await session.ws_connect(
            server.ws_url, headers={"Authorization": f"Bearer {server.token()}"}, max_msg_size=0
        )
        await deaf.receive_bytes(timeout=5)  # the welcome; then never read again
        get = commands_pb2.GetProject(project_id=project.id)
        for n in range(600):
            envelope = envelope_pb2.ClientMessage(request_id=f"g{n}", get_project=get)
            try:
                await deaf.send_bytes(envelope.SerializeToString())
            except (ConnectionError, aiohttp.ClientError):
                break
        for _ in range(200):
            if server.state.metrics.slow_consumer_closes._value.get() >= 1:
                break
            await asyncio.sleep(0.05)
        assert server.state.metrics.slow_consumer_closes._value.get() == 1
        await deaf.close()
    await ping_works(alice)


async def test_connection_is_closed_with_4001_when_its_token_expires(
    launch: Callable[..., Any],
) -> None:
    server = await launch()
    key = load_or_create_signing_key(server.data_dir)
    short = mint_token(key, tenant_id="acme", user_id="alice", lifetime=timedelta(seconds=1))
    client = await WsClient.connect(server.ws_url, short)
    server.clients.append(client)
    assert await closed_with(client, timeout=5) == 4001
    assert 'pm_limit_closes_total{reason="token_expired"} 1.0' in await metrics_text(server)
    await ping_works(await server.client("acme", "alice"))  # a fresh token connects


async def test_client_that_waits_as_told_after_rate_limited_is_served_and_never_closed(
    launch: Callable[..., Any],
) -> None:
    server = await launch(
        rate_limit_connection_per_second=20,
        rate_limit_connection_burst=2,
        rate_limit_tenant_per_second=0,
    )
    client = await server.client()
    refusals = 0
    for n in range(10):
        while True:
            message = await client.call("ping", commands_pb2.Ping(nonce=n))
            if message.WhichOneof("kind") == "reply":
                assert message.reply.pong.nonce == n
                break
            assert message.error.code == envelope_pb2.RATE_LIMITED
            refusals += 1
            await asyncio.sleep(message.error.retry_after_ms / 1000)
    assert refusals >= 1  # the limit did bite, and waiting as told was enough
    assert client.close_code is None
