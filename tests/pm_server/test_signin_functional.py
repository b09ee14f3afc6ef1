"""Built-in sign-in over real HTTP and WebSocket: login, refresh rotation and reuse
detection, logout, me, password change, browser cookies and brute-force limits."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pm_core.errors import TenantNotFoundError
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_proto.v1 import commands_pb2
from pm_server import user_cli
from pm_server.auth.sessions import REUSED, REVOKED
from pm_server.auth.signin import WRONG_CREDENTIALS, WRONG_PASSWORD
from pm_server.settings import Settings
from tests.pm_server.conftest import Server, start_server
from tests.pm_server.signin_support import PASSWORD, AuthClient, add_account, auth_client
from tests.pm_server.wsclient import WsClient

NEW_PASSWORD = "c0rrect-h0rse-battery-staple-NEW"


@pytest.fixture
async def signin_server(tmp_path: Path) -> AsyncIterator[Server]:
    server, runner = await start_server(tmp_path / "data", signin=True)
    add_account(server)
    yield server
    for client in server.clients:
        await client.close()
    await runner.cleanup()


@pytest.fixture
async def http(signin_server: Server) -> AsyncIterator[AuthClient]:
    async with auth_client(signin_server) as client:
        yield client


async def connect(server: Server, access_token: str) -> WsClient:
    client = await WsClient.connect(server.ws_url, access_token)
    server.clients.append(client)
    return client


async def test_login_gives_tokens_and_the_access_token_connects_and_reads_me(
    signin_server: Server, http: AuthClient
) -> None:
    answer = await http.login(email="  Alice@Example.COM ")  # emails compare case-insensitively

    assert answer.status == 200, answer.body
    body = answer.body
    assert body["token_type"] == "Bearer"
    assert body["tenant"] == "acme"
    assert body["user"] == {
        "id": "alice",
        "name": "Alice",
        "email": "alice@example.com",
        "kind": "human",
        "is_tenant_admin": False,
    }
    assert 0 < body["expires_in"] <= 15 * 60
    assert body["refresh_token"].startswith("pmr.acme.")
    assert body["refresh_expires_in"] > 29 * 24 * 3600
    assert answer.headers["Cache-Control"] == "no-store"
    assert not answer.cookies  # not a browser: no cookie

    client = await connect(signin_server, body["access_token"])
    assert (client.welcome.user.id, client.welcome.tenant_id) == ("alice", "acme")
    await client.request("ping", commands_pb2.Ping())

    me = await http.call("GET", "/v1/auth/me", token=body["access_token"])
    assert me.status == 200
    assert me.body["user"]["id"] == "alice"
    assert me.body["tenant"] == "acme"


async def test_refresh_rotates_and_a_spent_token_revokes_its_family(
    signin_server: Server, http: AuthClient
) -> None:
    first = (await http.login()).body
    other = (await http.login()).body  # another session of the same user

    second = await http.call("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status == 200, second.body
    assert second.body["refresh_token"] != first["refresh_token"]
    client = await connect(signin_server, second.body["access_token"])
    await client.request("ping", commands_pb2.Ping())

    reused = await http.call("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert (reused.status, reused.code, reused.body["error"]["message"]) == (
        401,
        "UNAUTHENTICATED",
        REUSED,
    )
    # The whole family is revoked: the successor no longer refreshes either.
    after = await http.call(
        "POST", "/v1/auth/refresh", {"refresh_token": second.body["refresh_token"]}
    )
    assert (after.status, after.body["error"]["message"]) == (401, REVOKED)
    # Another session of the user is its own family and lives on.
    still = await http.call("POST", "/v1/auth/refresh", {"refresh_token": other["refresh_token"]})
    assert still.status == 200


async def test_logout_ends_the_session(http: AuthClient) -> None:
    session = (await http.login()).body

    out = await http.call("POST", "/v1/auth/logout", {"refresh_token": session["refresh_token"]})

    assert out.status == 204
    refused = await http.call(
        "POST", "/v1/auth/refresh", {"refresh_token": session["refresh_token"]}
    )
    assert (refused.status, refused.code) == (401, "UNAUTHENTICATED")


async def test_browser_gets_the_refresh_token_only_in_a_strict_httponly_cookie(
    signin_server: Server,
) -> None:
    async with auth_client(signin_server, browser=True) as browser:
        answer = await browser.login()
        assert answer.status == 200, answer.body
        assert "refresh_token" not in answer.body
        assert "access_token" in answer.body
        cookie = answer.cookies["pm_refresh"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/v1/auth" in cookie
        assert "Secure" not in cookie  # plain HTTP to 127.0.0.1: the development exception

        refreshed = await browser.call("POST", "/v1/auth/refresh")  # the cookie alone
        assert refreshed.status == 200, refreshed.body
        assert refreshed.cookies["pm_refresh"] != cookie
        assert "refresh_token" not in refreshed.body

        out = await browser.call("POST", "/v1/auth/logout")
        assert out.status == 204
        assert "Max-Age=0" in out.cookies["pm_refresh"]
        gone = await browser.call("POST", "/v1/auth/refresh")
        assert (gone.status, gone.body["error"]["message"]) == (401, "missing refresh token")


async def test_browser_cookie_is_secure_for_a_host_that_is_not_loopback(
    signin_server: Server,
) -> None:
    async with auth_client(signin_server) as client:
        client.origin = "http://board.example.com"
        answer = await client.call(
            "POST",
            "/v1/auth/login",
            {"tenant": "acme", "email": "alice@example.com", "password": PASSWORD},
            headers={"Host": "board.example.com"},
        )
    assert answer.status == 200, answer.body
    assert "; Secure" in answer.cookies["pm_refresh"]


async def test_a_browser_of_another_origin_is_refused(signin_server: Server) -> None:
    async with auth_client(signin_server) as client:
        client.origin = "https://evil.example.net"
        answer = await client.login()
    assert (answer.status, answer.code) == (403, "FORBIDDEN")


async def test_password_change_revokes_every_session_and_the_old_password(
    signin_server: Server, http: AuthClient
) -> None:
    first = (await http.login()).body
    other = (await http.login()).body

    wrong = await http.call(
        "POST",
        "/v1/auth/password",
        {"current_password": "not-the-password", "new_password": NEW_PASSWORD},
        token=first["access_token"],
    )
    assert (wrong.status, wrong.body["error"]["message"]) == (403, WRONG_PASSWORD)
    short = await http.call(
        "POST",
        "/v1/auth/password",
        {"current_password": PASSWORD, "new_password": "short"},
        token=first["access_token"],
    )
    assert (short.status, short.code, short.body["error"]["field"]) == (
        400,
        "VALIDATION_ERROR",
        "password",
    )
    changed = await http.call(
        "POST",
        "/v1/auth/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=first["access_token"],
    )
    assert changed.status == 200, changed.body

    for old in (first, other):
        refused = await http.call(
            "POST", "/v1/auth/refresh", {"refresh_token": old["refresh_token"]}
        )
        assert refused.status == 401
    assert (await http.login()).status == 401
    assert (await http.login(password=NEW_PASSWORD)).status == 200
    fresh = await http.call(
        "POST", "/v1/auth/refresh", {"refresh_token": changed.body["refresh_token"]}
    )
    assert fresh.status == 200


async def test_hundred_wrong_passwords_are_rate_limited_alike_for_known_and_unknown_emails(
    tmp_path: Path,
) -> None:
    # The address limit is out of the way here: the per-account limit is under test.
    server, runner = await start_server(
        tmp_path / "data", signin=True, login_rate_address_burst=10_000
    )
    add_account(server)
    try:
        async with auth_client(server) as http:
            seen: dict[str, list[tuple[int, str, str]]] = {}
            for email in ("alice@example.com", "nobody@example.com"):
                answers = [await http.login(email=email, password=f"guess-{n}") for n in range(100)]
                seen[email] = [
                    (a.status, a.code, a.body["error"]["message"].split(";")[0]) for a in answers
                ]
                limited = [a for a in answers if a.code == "RATE_LIMITED"]
                assert limited, "100 wrong passwords must be rate limited"
                assert all(a.status == 429 for a in limited)
                assert all(a.body["error"]["retry_after_ms"] > 0 for a in limited)
                assert all(int(a.headers["Retry-After"]) >= 1 for a in limited)
            known, unknown = seen.values()
            assert known == unknown
            assert known[0] == (401, "UNAUTHENTICATED", WRONG_CREDENTIALS)
            assert known[-1][:2] == (429, "RATE_LIMITED")
            # Once limited, not even the right password gets through.
            right = await http.login()
            assert (right.status, right.code) == (429, "RATE_LIMITED")
            # An unknown tenant answers like a wrong password.
            elsewhere = await http.login(tenant="nowhere")
            assert (elsewhere.status, elsewhere.body["error"]["message"]) == (
                401,
                WRONG_CREDENTIALS,
            )
        assert not (tmp_path / "data" / "tenants" / "nowhere").exists()
    finally:
        await runner.cleanup()


async def test_one_address_trying_many_emails_is_rate_limited(tmp_path: Path) -> None:
    server, runner = await start_server(tmp_path / "data", signin=True, login_rate_address_burst=5)
    add_account(server)
    try:
        async with auth_client(server) as http:
            answers = [await http.login(email=f"user{n}@example.com") for n in range(8)]
        assert [a.status for a in answers] == [401] * 5 + [429] * 3
    finally:
        await runner.cleanup()


async def test_a_successful_login_gives_its_attempt_back(tmp_path: Path) -> None:
    server, runner = await start_server(tmp_path / "data", signin=True, login_rate_account_burst=2)
    add_account(server)
    try:
        async with auth_client(server) as http:
            statuses = [(await http.login()).status for _ in range(5)]
        assert statuses == [200] * 5
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("body", "raw", "status", "code"),
    [
        (None, b"{not json", 400, "INVALID_MESSAGE"),
        (None, b"\xff\xfe", 400, "INVALID_MESSAGE"),
        ([], None, 400, "INVALID_MESSAGE"),
        ({"tenant": "acme", "email": "a@b.c"}, None, 400, "VALIDATION_ERROR"),
        ({"tenant": 5, "email": "a@b.c", "password": "x"}, None, 400, "VALIDATION_ERROR"),
        ({"tenant": "ACME!", "email": "a@b.c", "password": "x"}, None, 400, "VALIDATION_ERROR"),
        ({"tenant": "acme", "email": "a" * 400, "password": "x"}, None, 400, "VALIDATION_ERROR"),
        (
            {"tenant": "acme", "email": "a@b.c", "password": "x" * 300},
            None,
            400,
            "VALIDATION_ERROR",
        ),
    ],
)
async def test_bad_login_bodies_get_400_naming_the_problem(
    http: AuthClient, body: Any, raw: bytes | None, status: int, code: str
) -> None:
    answer = await http.call("POST", "/v1/auth/login", body, raw=raw)
    assert (answer.status, answer.code) == (status, code), answer.body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/auth/me", None),
        ("POST", "/v1/auth/password", {"current_password": "x", "new_password": "y" * 10}),
        ("POST", "/v1/auth/refresh", {}),
        ("POST", "/v1/auth/refresh", {"refresh_token": "pmr.acme.x.y"}),
        ("POST", "/v1/auth/refresh", {"refresh_token": "pmr.ghost.id." + "a" * 43}),
    ],
)
async def test_missing_or_bad_credentials_get_401(
    http: AuthClient, method: str, path: str, body: Any
) -> None:
    answer = await http.call(method, path, body)
    assert (answer.status, answer.code) == (401, "UNAUTHENTICATED"), answer.body
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_sign_in_endpoints_are_absent_unless_enabled(server: Server) -> None:
    async with auth_client(server) as http:
        answer = await http.call("POST", "/v1/auth/login", {"tenant": "acme"})
        accept = await http.call("POST", "/v1/auth/accept", {"token": "pmi.acme.x.y"})
    assert (answer.status, accept.status) == (404, 404)


async def test_operator_reset_sets_the_password_and_ends_every_session(
    signin_server: Server, http: AuthClient, capsys: pytest.CaptureFixture[str]
) -> None:
    session = (await http.login()).body
    args = argparse.Namespace(
        tenant="acme",
        email="ALICE@example.com",
        data_dir=signin_server.data_dir,
        create=False,
        name=None,
        admin=False,
        json=True,
    )

    code = user_cli.run(args, signin_server.state.settings, io.StringIO(NEW_PASSWORD + "\n"))

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["user_id"], printed["created"]) == ("alice", False)
    assert printed["revoked_refresh_tokens"] == 1
    refused = await http.call(
        "POST", "/v1/auth/refresh", {"refresh_token": session["refresh_token"]}
    )
    assert refused.status == 401
    assert (await http.login()).status == 401
    assert (await http.login(password=NEW_PASSWORD)).status == 200


@pytest.mark.parametrize(
    ("email", "password", "exit_code", "message"),
    [
        ("nobody@example.com", NEW_PASSWORD, 3, "no account with this email"),
        ("alice@example.com", "short", 2, "password must be 8 to 256 characters"),
        ("alice@example.com", "", 2, "password must be 8 to 256 characters"),
    ],
)
def test_operator_reset_refuses_what_it_cannot_do_and_changes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    email: str,
    password: str,
    exit_code: int,
    message: str,
) -> None:
    paths = TenantPaths(tmp_path)
    create_tenant(paths, "acme", lambda uow: None)
    args = argparse.Namespace(
        tenant="acme",
        email=email,
        data_dir=tmp_path,
        create=False,
        name=None,
        admin=False,
        json=False,
    )

    code = user_cli.run(args, Settings(data_dir=tmp_path), io.StringIO(password + "\n"))

    assert code == exit_code
    err = capsys.readouterr().err
    assert message in err
    assert not password or password not in err


def test_operator_can_create_the_first_account_of_a_tenant(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path)
    create_tenant(paths, "acme", lambda uow: None)

    result = user_cli.set_password(
        paths, "acme", "Root@Example.com", "$argon2id$hash", create=True, admin=True
    )

    assert result.created
    with pytest.raises(TenantNotFoundError):
        user_cli.set_password(paths, "ghost", "a@example.com", "$argon2id$hash", create=True)
    assert not (tmp_path / "tenants" / "ghost").exists()
