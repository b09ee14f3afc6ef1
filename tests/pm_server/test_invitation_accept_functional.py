"""Accepting an invitation over real HTTP (``POST /v1/auth/accept``), then connecting over
a real WebSocket: single use, expiring, one answer for every token that opens nothing,
rate limited like login."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_proto.v1 import commands_pb2
from pm_server.auth.signin import INVALID_INVITATION
from tests.pm_server.conftest import Server, start_server
from tests.pm_server.signin_support import AuthClient, auth_client
from tests.pm_server.wsclient import WsClient

CHOSEN = "dora-chose-this-Pa55word"
REFUSED = {"error": {"code": "UNAUTHENTICATED", "message": INVALID_INVITATION}}


@pytest.fixture
async def signin_server(tmp_path: Path) -> AsyncIterator[Server]:
    data = tmp_path / "data"
    create_tenant(TenantPaths(data), "acme", lambda uow: None)  # sign-in creates no tenant
    server, runner = await start_server(data, signin=True, login_rate_address_burst=12)
    yield server
    for client in server.clients:
        await client.close()
    await runner.cleanup()


@pytest.fixture
async def http(signin_server: Server) -> AsyncIterator[AuthClient]:
    async with auth_client(signin_server) as client:
        yield client


async def invite(server: Server, email: str = "dora@example.test") -> commands_pb2.InvitationReply:
    admin = await server.client("acme", "root", admin=True)
    reply = await admin.request(
        "invite_user", commands_pb2.InviteUser(email=email, display_name="Dora")
    )
    return reply.invitation


async def accept(http: AuthClient, token: str, password: str = CHOSEN) -> Any:
    return await http.call("POST", "/v1/auth/accept", {"token": token, "password": password})


def listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


async def test_accepting_sets_the_password_signs_in_and_connects(
    signin_server: Server, http: AuthClient
) -> None:
    invitation = await invite(signin_server)

    answer = await accept(http, invitation.token)

    assert answer.status == 200, answer.body
    assert answer.body["user"]["id"] == invitation.user.id
    assert answer.body["user"]["email"] == "dora@example.test"
    assert answer.body["refresh_token"].startswith("pmr.acme.")
    client = await WsClient.connect(signin_server.ws_url, answer.body["access_token"])
    signin_server.clients.append(client)
    assert (client.welcome.tenant_id, client.welcome.user.id) == ("acme", invitation.user.id)
    users = await client.request("list_users", commands_pb2.ListUsers(query="dora"))
    assert [u.active for u in users.users.users] == [True]
    # The password chosen signs in from now on, and the refresh token rotates.
    assert (await http.login("Dora@Example.test", CHOSEN)).status == 200
    rotated = await http.call(
        "POST", "/v1/auth/refresh", {"refresh_token": answer.body["refresh_token"]}
    )
    assert rotated.status == 200
    # Single use.
    again = await accept(http, invitation.token, "another-Pa55word")
    assert (again.status, again.body) == (401, REFUSED)
    assert (await http.login("dora@example.test", "another-Pa55word")).status == 401


async def test_a_browser_gets_the_refresh_token_as_its_cookie_only(
    signin_server: Server,
) -> None:
    invitation = await invite(signin_server)
    async with auth_client(signin_server, browser=True) as browser:
        answer = await accept(browser, invitation.token)
    assert answer.status == 200, answer.body
    assert "refresh_token" not in answer.body
    assert "HttpOnly" in answer.cookies["pm_refresh"]
    assert answer.body["access_token"]


async def test_spent_expired_revoked_forged_and_unknown_tenant_tokens_get_one_answer(
    signin_server: Server, http: AuthClient
) -> None:
    spent = await invite(signin_server, "spent@example.test")
    assert (await accept(http, spent.token)).status == 200
    revoked = await invite(signin_server, "twice@example.test")
    await invite(signin_server, "twice@example.test")  # replaces (revokes) the first
    expired = await invite(signin_server, "late@example.test")
    db = sqlite3.connect(signin_server.state.databases.paths.db_path("acme"))
    try:
        with db:
            db.execute(
                "UPDATE invitations SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?",
                (expired.invitation_id,),
            )
    finally:
        db.close()
    valid = await invite(signin_server, "valid@example.test")
    prefix, secret = valid.token.rsplit(".", 1)
    forged = f"{prefix}.{'A' * len(secret)}"
    unknown_id = f"pmi.acme.0123456789abcdef.{secret}"
    ghost = valid.token.replace("pmi.acme.", "pmi.ghost.", 1)
    before = listing(signin_server.data_dir)

    for token in (
        spent.token,
        revoked.token,
        expired.token,
        forged,
        unknown_id,
        ghost,
        "pmi.not-a-token",
        "x" * 900,
        valid.token.replace("pmi.", "pmk.", 1),
    ):
        answer = await accept(http, token)
        assert (answer.status, answer.body) == (401, REFUSED), token[:12]
        assert answer.headers["WWW-Authenticate"] == "Bearer"

    assert listing(signin_server.data_dir) == before  # nothing created for "ghost"
    assert (await accept(http, valid.token)).status == 200  # the real one still works


async def test_bad_bodies_are_400_and_the_invitation_stays_usable(
    signin_server: Server, http: AuthClient
) -> None:
    invitation = await invite(signin_server)
    short = await accept(http, invitation.token, "short")
    assert (short.status, short.body["error"]["field"]) == (400, "password")
    missing = await http.call("POST", "/v1/auth/accept", {"token": invitation.token})
    assert (missing.status, missing.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    number = await http.call("POST", "/v1/auth/accept", {"token": 7, "password": CHOSEN})
    assert (number.status, number.body["error"]["field"]) == (400, "token")
    broken = await http.call("POST", "/v1/auth/accept", raw=b'{"token": ')
    assert (broken.status, broken.body["error"]["code"]) == (400, "INVALID_MESSAGE")
    listed = await http.call("POST", "/v1/auth/accept", raw=b"[1, 2]")
    assert listed.status == 400
    assert (await accept(http, invitation.token)).status == 200


async def test_malformed_tokens_of_one_address_do_not_limit_another(
    signin_server: Server,
) -> None:
    async def malformed_from(address: str) -> int:
        connector = aiohttp.TCPConnector(local_addr=(address, 0))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.post(
                signin_server.base_url + "/v1/auth/accept",
                json={"token": "pmi.not-a-token", "password": CHOSEN},
            ) as response,
        ):
            return response.status

    first = [await malformed_from("127.0.0.2") for _ in range(6)]
    assert first == [401] * 5 + [429]  # PM_LOGIN_RATE_ACCOUNT_BURST (5) in a row
    assert await malformed_from("127.0.0.3") == 401


async def test_guessing_tokens_is_rate_limited_per_address(
    signin_server: Server, http: AuthClient
) -> None:
    invitation = await invite(signin_server)
    prefix, secret = invitation.token.rsplit(".", 1)
    statuses = []
    for n in range(14):
        answer = await accept(http, f"pmi.acme.guess{n}.{secret}")
        statuses.append(answer.status)
    assert statuses[:12] == [401] * 12
    limited = await accept(http, f"pmi.acme.guess99.{secret}")
    assert limited.status == 429
    assert limited.body["error"]["code"] == "RATE_LIMITED"
    assert limited.body["error"]["retry_after_ms"] > 0
    assert int(limited.headers["Retry-After"]) >= 1
    # The real token is held too while the address is limited: the limit is not an oracle.
    assert (await accept(http, invitation.token)).status == 429
    assert prefix.startswith("pmi.acme.")
