"""No secret reaches the server log (or the operator command's output).

A real ``pm serve`` process (built-in sign-in, log level DEBUG, its output
captured to a file) goes through every sign-in flow with distinctive values:
an operator sets the first password, logins succeed and fail (known and
unknown emails, rate limited), refresh tokens rotate, one is reused (which
revokes its session), a browser signs in with the cookie, the password is
changed, a WebSocket connects and re-authenticates in-band, sessions end; a
tenant admin invites users, one invitation is accepted (with a password of its
own), spent, forged and replaced ones are tried; an API key is created, connects,
is revoked and refused. Then the log and the command's output are searched for
every password and every token issued or tried, whole and in any 20-character
slice of its secret parts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from pm_auth.secrets import SecretKind, parse_secret
from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_proto.v1 import commands_pb2
from tests.pm_server.wsclient import WsClient
from tests.serve_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
TENANT = "hygiene"
EMAIL = "secret-keeper@example.com"
#: Distinctive values: any of them in the log is a leak.
FIRST = "first-Pa55word-QXJ7"
SECOND = "second-Pa55word-ZK91"
THIRD = "third-Pa55word-MW02"
WRONG = [f"wrong-Pa55word-{n:02d}-HV3" for n in range(8)]
INVITED = "invited-Pa55word-JD44"
SLICE = 20


SIGN_IN = {"PM_LOG_LEVEL": "DEBUG", "PM_SIGNIN": "true", "PM_LOGIN_RATE_ACCOUNT_BURST": "4"}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    data_dir = tmp_path / "data"
    create_tenant(TenantPaths(data_dir), TENANT, lambda uow: None)
    srv = ServerProcess(data_dir, tmp_path / "server.log", SIGN_IN, inherit_pm_env=False)
    await srv.start()
    yield srv
    await srv.stop()


def set_password(server: ServerProcess, password: str, *extra: str) -> str:
    """``pm user set-password`` as an operator runs it, the password on stdin."""
    result = subprocess.run(
        [sys.executable, "-m", "pm_server.cli", "user", "set-password", TENANT, EMAIL, *extra],
        input=password + "\n",
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("PM_")}
        | {"PM_DATA_DIR": str(server.data_dir)},
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


async def post(
    session: aiohttp.ClientSession, server: ServerProcess, path: str, body: Any, **kwargs: Any
) -> tuple[int, Any]:
    async with session.post(server.base_url + path, json=body, **kwargs) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


def slices(secret: str) -> list[str]:
    """What of ``secret`` must not be logged: the whole, and every ``SLICE``-character piece
    of its secret part (an opaque token's random part: its ``pm<k>.<tenant>.<id>`` prefix is
    what logs name it by; a JWT's payload and signature are listed on their own)."""
    if secret.startswith("pm") and secret.count(".") == 3:
        return [secret, *slices(secret.rsplit(".", 1)[1])]
    if len(secret) <= SLICE or secret.count(".") == 2:
        return [secret]
    return [secret[i : i + SLICE] for i in range(len(secret) - SLICE + 1)]


async def directory_flows(http: aiohttp.ClientSession, server: ServerProcess) -> list[str]:
    """Invitations and API keys: what they issue and what is tried, as parts that must not
    be logged (random parts of opaque secrets, JWT payloads and signatures, passwords)."""
    key = load_or_create_signing_key(server.data_dir)
    root = mint_token(key, tenant_id=TENANT, user_id="root", name="Root", tenant_admin=True)
    admin = await WsClient.connect(server.ws_url, root)
    try:
        invited = (
            await admin.request("invite_user", commands_pb2.InviteUser(email="new@example.com"))
        ).invitation
        # pm serve listens on PM_PORT=0 here: the link names the port it bound.
        assert invited.link == f"{server.base_url}/accept#token={invited.token}"
        replaced = (
            await admin.request("invite_user", commands_pb2.InviteUser(email="twice@example.com"))
        ).invitation
        await admin.request("invite_user", commands_pb2.InviteUser(email="twice@example.com"))
        created = (
            await admin.request("create_api_key", commands_pb2.CreateApiKey(name="hygiene-bot"))
        ).api_key
        agent = await WsClient.connect(server.ws_url, created.secret)
        await agent.request("ping", commands_pb2.Ping())
        await admin.request(
            "revoke_api_key", commands_pb2.RevokeApiKey(api_key_id=created.api_key.id)
        )
        assert agent._reader is not None
        await agent._reader
        assert agent.close_code == 4003
        await agent.close()
    finally:
        await admin.close()
    async with http.get(
        server.ws_url, headers={"Authorization": f"Bearer {created.secret}"}
    ) as response:
        assert response.status == 401  # revoked
    forged = invited.token[:-10] + "forgedAAAA"
    status, accepted = await post(
        http, server, "/v1/auth/accept", {"token": invited.token, "password": INVITED}
    )
    assert status == 200, accepted
    for tried in (invited.token, forged, replaced.token):  # spent, forged, revoked
        status, _ = await post(
            http, server, "/v1/auth/accept", {"token": tried, "password": WRONG[0]}
        )
        assert status == 401
    opaque = [invited.token, forged, replaced.token, created.secret, accepted["refresh_token"]]
    _, payload, signature = accepted["access_token"].split(".")
    return [INVITED, *opaque, accepted["access_token"], payload, signature]


async def test_no_password_or_token_reaches_the_log(server: ServerProcess) -> None:
    secrets = [FIRST, SECOND, THIRD, *WRONG]
    output = set_password(server, FIRST, "--create", "--name", "Keeper")
    login = {"tenant": TENANT, "email": EMAIL}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        status, first = await post(http, server, "/v1/auth/login", login | {"password": FIRST})
        assert status == 200, first
        status, second = await post(
            http, server, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}
        )
        assert status == 200
        status, _ = await post(  # reuse: revokes the family, logged as a warning
            http, server, "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}
        )
        assert status == 401

        status, third = await post(http, server, "/v1/auth/login", login | {"password": FIRST})
        assert status == 200
        ws = await WsClient.connect(server.ws_url, third["access_token"])
        try:
            status, fourth = await post(
                http, server, "/v1/auth/refresh", {"refresh_token": third["refresh_token"]}
            )
            assert status == 200
            await ws.request(
                "reauthenticate", commands_pb2.Reauthenticate(access_token=fourth["access_token"])
            )
            await ws.error("reauthenticate", commands_pb2.Reauthenticate(access_token="x.y.z"))
        finally:
            await ws.close()

        status, changed = await post(
            http,
            server,
            "/v1/auth/password",
            {"current_password": FIRST, "new_password": SECOND},
            headers={"Authorization": f"Bearer {fourth['access_token']}"},
        )
        assert status == 200, changed
        status, _ = await post(
            http,
            server,
            "/v1/auth/password",
            {"current_password": WRONG[0], "new_password": THIRD},
            headers={"Authorization": f"Bearer {changed['access_token']}"},
        )
        assert status in (403, 429)

        status, browser = await post(
            http,
            server,
            "/v1/auth/login",
            login | {"password": SECOND},
            headers={"Origin": server.base_url},
        )
        assert status == 200, browser
        cookie = http.cookie_jar.filter_cookies(URL(server.base_url + "/v1/auth/refresh"))[
            "pm_refresh"
        ]
        status, _ = await post(
            http, server, "/v1/auth/refresh", None, headers={"Origin": server.base_url}
        )
        assert status == 200
        status, _ = await post(
            http, server, "/v1/auth/logout", {"refresh_token": changed["refresh_token"]}
        )
        assert status == 204
        for wrong in WRONG[:6]:  # refused, then rate limited
            status, _ = await post(http, server, "/v1/auth/login", login | {"password": wrong})
            assert status in (401, 429)
        status, _ = await post(
            http,
            server,
            "/v1/auth/login",
            {**login, "email": "ghost@example.com", "password": WRONG[6]},
        )
        assert status == 401
        directory = await directory_flows(http, server)
        # A body that is not JSON, holding a password.
        async with http.post(
            server.base_url + "/v1/auth/login",
            data=f'{{"password": "{WRONG[7]}", '.encode(),
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 400

    output += set_password(server, THIRD)  # the operator's reset ends every session
    await server.stop()

    sessions = [first, second, third, fourth, changed, browser]
    tokens = [s["access_token"] for s in sessions]
    refresh = [s["refresh_token"] for s in sessions if "refresh_token" in s] + [cookie.value]
    secrets += tokens + refresh
    secrets += [parse_secret(token, SecretKind.REFRESH).secret for token in refresh]
    secrets += [token.rsplit(".", 1)[1] for token in tokens]  # the JWTs' signatures
    secrets += [token.split(".")[1] for token in tokens]  # and their payloads
    secrets += directory
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "signed in" in log, "the log was not captured"
    assert "presented again after use" in log
    assert "accepted invitation pmi.hygiene." in log
    assert "key=pmk.hygiene." in log
    for secret in secrets:
        for piece in slices(secret):
            assert piece not in log, f"{len(piece)} characters of a secret are in the server log"
            assert piece not in output, "a secret is in pm user set-password's output"
