"""In-band re-authentication over a real socket: a fresh access token keeps an open
connection (and its event stream) past the old token's expiry; without it, 4001."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pm_proto.timestamps import from_timestamp
from pm_proto.v1 import commands_pb2, envelope_pb2
from pm_server.expiry import ANOTHER_PRINCIPAL, API_KEY_CONNECTION
from tests.pm_server.boards import new_item
from tests.pm_server.conftest import Server, create_project, start_server, subscribe
from tests.pm_server.signin_support import AuthClient, add_account, auth_client
from tests.pm_server.wsclient import WsClient

#: Access tokens live 3 s here, with no leeway: the tests wait for expiries that happen.
LIFETIME = timedelta(seconds=3)
SHORT = {"signin": True, "access_token_minutes": 0.05, "jwt_leeway_seconds": 0}


@pytest.fixture
async def short_lived(tmp_path: Path) -> AsyncIterator[Server]:
    server, runner = await start_server(tmp_path / "data", **SHORT)
    add_account(server)
    add_account(server, tenant="globex", user="alice", email="alice@globex.example")
    add_account(server, user="bob", email="bob@example.com")
    yield server
    for client in server.clients:
        await client.close()
    await runner.cleanup()


@pytest.fixture
async def http(short_lived: Server) -> AsyncIterator[AuthClient]:
    async with auth_client(short_lived) as client:
        yield client


async def connect(server: Server, token: str) -> WsClient:
    client = await WsClient.connect(server.ws_url, token)
    server.clients.append(client)
    return client


async def closed_with(client: WsClient, timeout: float = 15) -> int | None:
    assert client._reader is not None
    await asyncio.wait_for(asyncio.shield(client._reader), timeout)
    return client.close_code


async def reauthenticate(client: WsClient, token: str) -> commands_pb2.Reauthenticated:
    reply = await client.request("reauthenticate", commands_pb2.Reauthenticate(access_token=token))
    return reply.reauthenticated


async def refresh(http: AuthClient, refresh_token: str) -> dict[str, Any]:
    answer = await http.call("POST", "/v1/auth/refresh", {"refresh_token": refresh_token})
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.body
    return body


def expiry(session: dict[str, Any]) -> datetime:
    return datetime.strptime(session["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


async def test_refreshed_token_keeps_the_connection_past_expiry_with_no_event_missed(
    short_lived: Server, http: AuthClient
) -> None:
    session = (await http.login()).body
    board = await connect(short_lived, session["access_token"])
    # The same token on a second connection that never re-authenticates: closed at expiry.
    control = await connect(short_lived, session["access_token"])
    # A writer that outlives both (a development token of the same user, 24 h).
    writer = await connect(short_lived, short_lived.token("acme", "alice"))
    project = await create_project(writer)
    await subscribe(board, project.id)
    titles = ["before refresh"]
    await new_item(writer, project.id, titles[-1])

    # exp counts whole seconds: refresh in a later second than the login, so the new
    # token outlives the first one.
    issued = expiry(session) - LIFETIME
    await asyncio.sleep(
        max(0.0, (issued + timedelta(seconds=1) - datetime.now(UTC)).total_seconds())
    )
    second = await refresh(http, session["refresh_token"])
    renewed = await reauthenticate(board, second["access_token"])
    assert from_timestamp(renewed.expires_at) == expiry(second) > expiry(session)
    titles.append("after reauthenticate")
    await new_item(writer, project.id, titles[-1])

    assert await closed_with(control) == 4001  # the first token's expiry has passed
    # The board is still open after it, and keeps refreshing as a client does.
    third = await refresh(http, second["refresh_token"])
    await reauthenticate(board, third["access_token"])
    titles.append("after the old expiry")
    await new_item(writer, project.id, titles[-1])

    events = [await board.next_event() for _ in titles]
    assert [e.work_item.title for e in events] == titles
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(titles)))
    assert board.close_code is None


async def test_without_reauthenticate_expiry_still_closes_with_4001(
    short_lived: Server, http: AuthClient
) -> None:
    session = (await http.login()).body
    board = await connect(short_lived, session["access_token"])

    assert await closed_with(board) == 4001


@pytest.mark.parametrize(
    ("tenant", "email"),
    [("acme", "bob@example.com"), ("globex", "alice@globex.example")],
    ids=["another user", "the namesake in another tenant"],
)
async def test_a_token_of_another_user_or_tenant_is_refused_and_changes_nothing(
    short_lived: Server, http: AuthClient, tenant: str, email: str
) -> None:
    mine = (await http.login()).body
    theirs = (await http.login(email=email, tenant=tenant)).body
    board = await connect(short_lived, mine["access_token"])

    error = await board.error(
        "reauthenticate", commands_pb2.Reauthenticate(access_token=theirs["access_token"])
    )

    assert error.message == ANOTHER_PRINCIPAL
    assert board.welcome.tenant_id == "acme"
    await board.request("ping", commands_pb2.Ping())
    assert await closed_with(board) == 4001  # the old deadline still holds


@pytest.mark.parametrize(
    ("token", "code"),
    [("", "VALIDATION_ERROR"), ("not-a-token", "UNAUTHENTICATED")],
)
async def test_a_bad_token_is_refused_and_the_connection_stays(
    short_lived: Server, token: str, code: str
) -> None:
    board = await connect(short_lived, short_lived.token("acme", "alice"))

    error = await board.error("reauthenticate", commands_pb2.Reauthenticate(access_token=token))

    assert envelope_pb2.ErrorCode.Name(error.code) == code
    await board.request("ping", commands_pb2.Ping())


async def test_a_connection_opened_with_an_api_key_cannot_swap_its_key_for_a_token(
    server: Server,
) -> None:
    admin = await server.client("acme", "alice", admin=True)
    created = (
        await admin.request("create_api_key", commands_pb2.CreateApiKey(name="ci-bot"))
    ).api_key
    agent = await connect(server, created.secret)
    # A token of the agent's own user (say, minted with the development key).
    token = server.token("acme", created.user.id)

    error = await agent.error("reauthenticate", commands_pb2.Reauthenticate(access_token=token))

    assert (envelope_pb2.ErrorCode.Name(error.code), error.message) == (
        "FORBIDDEN",
        API_KEY_CONNECTION,
    )
    # Revoking the key still finds and closes the connection.
    await admin.request("revoke_api_key", commands_pb2.RevokeApiKey(api_key_id=created.api_key.id))
    assert await closed_with(agent) == 4003
