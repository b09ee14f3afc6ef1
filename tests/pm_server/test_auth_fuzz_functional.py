"""Hostile requests to every ``/v1/auth`` endpoint, over real HTTP: each gets a 4xx with a coded
JSON error (never a 5xx), the server keeps serving, and no account changes; and a tenant's
sign-in never reaches another tenant's accounts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pm_server.conftest import Server, start_server
from tests.pm_server.signin_support import PASSWORD, add_account

ENDPOINTS = (
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/auth/me"),
    ("POST", "/v1/auth/password"),
    ("POST", "/v1/auth/accept"),
)
CODES = {"INVALID_MESSAGE", "VALIDATION_ERROR", "UNAUTHENTICATED", "RATE_LIMITED", "FORBIDDEN"}

#: Bodies no endpoint can take: not JSON, not an object, wrong types, nesting deeper than any
#: parser's recursion, sizes at and over the limit, bytes that are not UTF-8, and values
#: shaped like the secrets and paths an attacker would try.
HOSTILE: tuple[bytes, ...] = (
    b"",
    b"{",
    b"null",
    b"[]",
    b"42",
    b'"text"',
    b"\xff\xfe\x00{",
    b"[" * 20_000 + b"]" * 20_000,  # under the size limit, past the parser's recursion
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    json.dumps({"tenant": ["acme"], "email": {"$ne": None}, "password": 1}).encode(),
    json.dumps({"tenant": "../acme", "email": "alice@example.com", "password": PASSWORD}).encode(),
    json.dumps({"tenant": "acme", "email": "a" * 100_000, "password": "x"}).encode(),
    json.dumps({"tenant": "acme", "email": "alice@example.com", "password": "p" * 60_000}).encode(),
    json.dumps({"refresh_token": "pmr.acme.x.y"}).encode(),
    json.dumps({"refresh_token": ""}).encode(),
    json.dumps({"refresh_token": 7}).encode(),
    json.dumps({"token": "pmi.other.0.AAAA", "password": "new password 123"}).encode(),
    json.dumps({"token": "pmi." + "a" * 5000, "password": "x"}).encode(),
    json.dumps({"current_password": None, "new_password": ["x"]}).encode(),
    b'{"tenant":"acme","email":"alice@example.com","password":"\\ud800"}',
)


# One server for the module: every test here leaves its accounts as they were.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    srv, runner = await start_server(
        tmp_path_factory.mktemp("auth") / "data",
        signin=True,
        # The brute-force limits would answer most of these 429 before the body is read.
        login_rate_account_burst=1_000_000,
        login_rate_address_burst=1_000_000,
    )
    add_account(srv)
    add_account(srv, tenant="other", user="mallory", email="mallory@example.com")
    yield srv
    await runner.cleanup()


def _accounts(server: Server, tenant: str) -> list[tuple[str, ...]]:
    conn = sqlite3.connect(server.state.databases.paths.db_path(tenant))
    try:
        return conn.execute("SELECT * FROM accounts ORDER BY user_id").fetchall()
    finally:
        conn.close()


async def _send(
    session: aiohttp.ClientSession,
    server: Server,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    async with session.request(
        method,
        server.base_url + path,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    ) as response:
        return response.status, await response.read()


def _check(status: int, raw: bytes, path: str) -> None:
    if status == 204 and path.endswith("/logout"):  # no session named: nothing to end
        return
    assert 400 <= status < 500, (status, raw[:200])
    if status == 413:  # over client_max_size: aiohttp's own answer, before any handler
        return
    error = json.loads(raw)["error"]
    assert error["code"] in CODES, error
    assert error["message"]


async def _still_serves(session: aiohttp.ClientSession, server: Server) -> None:
    body = json.dumps({"tenant": "acme", "email": "alice@example.com", "password": PASSWORD})
    status, raw = await _send(session, server, "POST", "/v1/auth/login", body.encode())
    assert status == 200, raw[:200]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_hostile_bodies_get_a_coded_4xx_and_change_nothing(
    server: Server, method: str, path: str
) -> None:
    before = {t: _accounts(server, t) for t in ("acme", "other")}
    async with aiohttp.ClientSession() as session:
        for body in HOSTILE:
            for headers in (
                {},
                {"Authorization": "Bearer " + "x" * 40},
                {"Cookie": "pm_refresh=;"},
            ):
                status, raw = await _send(session, server, method, path, body, headers)
                _check(status, raw, path)
        await _still_serves(session, server)
    assert {t: _accounts(server, t) for t in ("acme", "other")} == before


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    body=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=50),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "tenant",
                        "email",
                        "password",
                        "refresh_token",
                        "token",
                        "current_password",
                        "new_password",
                        "x",
                    ]
                )
                | st.text(max_size=8),
                inner,
                max_size=5,
            )
        ),
        max_leaves=12,
    ),
)
async def test_any_json_body_gets_a_coded_4xx(
    server: Server, endpoint: tuple[str, str], body: object
) -> None:
    method, path = endpoint
    async with aiohttp.ClientSession() as session:
        status, raw = await _send(session, server, method, path, json.dumps(body).encode())
    _check(status, raw, path)


async def test_one_tenants_sign_in_never_reaches_another_tenants_accounts(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        # Alice's credentials name her tenant; under another tenant they are nobody's.
        wrong = {"tenant": "other", "email": "alice@example.com", "password": PASSWORD}
        status, raw = await _send(
            session, server, "POST", "/v1/auth/login", json.dumps(wrong).encode()
        )
        assert status == 401, raw
        good = {"tenant": "acme", "email": "alice@example.com", "password": PASSWORD}
        status, raw = await _send(
            session, server, "POST", "/v1/auth/login", json.dumps(good).encode()
        )
        session_body = json.loads(raw)
        # Her refresh token with another tenant's name in its text is refused, and her own
        # still works after the attempt.
        forged = session_body["refresh_token"].replace("pmr.acme.", "pmr.other.", 1)
        status, _ = await _send(
            session,
            server,
            "POST",
            "/v1/auth/refresh",
            json.dumps({"refresh_token": forged}).encode(),
        )
        assert status == 401
        status, raw = await _send(
            session,
            server,
            "POST",
            "/v1/auth/refresh",
            json.dumps({"refresh_token": session_body["refresh_token"]}).encode(),
        )
        assert status == 200, raw
        # Her access token reads her own account only.
        status, raw = await _send(
            session,
            server,
            "GET",
            "/v1/auth/me",
            b"",
            {"Authorization": "Bearer " + session_body["access_token"]},
        )
        assert (status, json.loads(raw)["tenant"], json.loads(raw)["user"]["id"]) == (
            200,
            "acme",
            "alice",
        )
