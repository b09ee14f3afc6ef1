"""Tenants are created on purpose in production modes: a token for an unknown tenant is
refused (401) and creates nothing; an outside provider's JWKS URL and claim names work
over a real socket, key rotation included."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pm_auth.secrets import hash_secret
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_server.cli import main
from tests.pm_auth.jwks_server import JwksEndpoint, serve_jwks
from tests.pm_auth.signing import KeyRing, claims, new_ring
from tests.pm_server.conftest import Server, start_server
from tests.pm_server.wsclient import WsClient


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return new_ring()


@pytest.fixture
def endpoint(ring: KeyRing) -> Iterator[JwksEndpoint]:
    with serve_jwks() as served:
        served.publish(ring.right["RS256"].jwk())
        yield served


@pytest.fixture
async def idp_server(tmp_path: Path, endpoint: JwksEndpoint) -> AsyncIterator[Server]:
    """A server trusting only the outside provider (no dev key), with its claim names."""
    data = tmp_path / "data"
    create_tenant(TenantPaths(data), "acme", lambda uow: None)
    srv, runner = await start_server(
        data,
        jwt_dev_key=False,
        jwt_jwks_url=endpoint.url,
        jwt_jwks_refetch_seconds=0,
        jwt_claim_tenant="org",
        jwt_claim_roles="realm_access.roles",
        jwt_claim_name="preferred_username",
        jwt_issuer=None,
        jwt_audience="pm-api",
    )
    yield srv
    for client in srv.clients:
        await client.close()
    await runner.cleanup()


def outside_claims(**overrides: Any) -> dict[str, Any]:
    wanted: dict[str, Any] = {
        "tenant": None,
        "roles": None,
        "name": None,
        "iss": None,
        "org": "acme",
        "realm_access": {"roles": ["tenant_admin"]},
        "preferred_username": "Ada Lovelace",
    }
    return claims(**{**wanted, **overrides})


def listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


async def refused(server: Server, token: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.ws_url, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, await response.json()


async def connect(server: Server, token: str) -> WsClient:
    client = await WsClient.connect(server.ws_url, token)
    server.clients.append(client)
    return client


async def test_outside_provider_token_with_configured_claims_connects(
    idp_server: Server, ring: KeyRing
) -> None:
    client = await connect(idp_server, ring.right["RS256"].sign(outside_claims()))
    assert client.welcome.tenant_id == "acme"
    assert client.welcome.user.id == "alice"
    assert client.welcome.user.display_name == "Ada Lovelace"
    assert client.welcome.user.is_tenant_admin


async def test_provider_rotates_its_key_and_new_tokens_connect(
    idp_server: Server, ring: KeyRing, endpoint: JwksEndpoint
) -> None:
    await connect(idp_server, ring.right["RS256"].sign(outside_claims()))
    fetched = endpoint.fetches
    endpoint.publish(ring.right["RS256"].jwk(), ring.second_rsa.jwk())
    client = await connect(idp_server, ring.second_rsa.sign(outside_claims(sub="bob")))
    assert client.welcome.user.id == "bob"
    assert endpoint.fetches == fetched + 1


async def test_token_of_an_unpublished_key_is_refused(idp_server: Server, ring: KeyRing) -> None:
    status, body = await refused(idp_server, ring.wrong["ES256"].sign(outside_claims()))
    assert (status, body["code"]) == (401, "UNAUTHENTICATED")
    assert body["message"] == "invalid token: unknown key id"


async def test_unknown_tenant_is_refused_and_no_database_is_created(
    idp_server: Server, ring: KeyRing
) -> None:
    before = listing(idp_server.data_dir)
    status, body = await refused(idp_server, ring.right["RS256"].sign(outside_claims(org="ghost")))
    assert (status, body) == (401, {"code": "UNAUTHENTICATED", "message": "unknown tenant"})
    assert listing(idp_server.data_dir) == before
    assert not (idp_server.data_dir / "tenants" / "ghost").exists()
    assert idp_server.state.metrics.connections_refused.labels("unauthenticated")._value.get() == 1


async def test_unknown_tenant_with_public_key_file_and_dev_key_is_refused(
    tmp_path: Path, ring: KeyRing
) -> None:
    """Any public key makes it a production mode, even with the dev key still accepted."""
    key_file = tmp_path / "idp.pem"
    key_file.write_bytes(ring.right["RS256"].public_pem)
    srv, runner = await start_server(tmp_path / "data", jwt_public_key_file=key_file)
    try:
        before = listing(srv.data_dir)
        status, body = await refused(srv, srv.token("ghost"))
        assert (status, body["message"]) == (401, "unknown tenant")
        assert listing(srv.data_dir) == before
    finally:
        await runner.cleanup()


async def test_unknown_tenant_with_signin_is_refused_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    """PM_SIGNIN is a production mode: a token (here one signed with the server's key, as
    sign-in's access tokens are) for a tenant without a database creates nothing, and
    neither do a login or an invitation naming that tenant."""
    srv, runner = await start_server(tmp_path / "data", signin=True)
    try:
        assert srv.state.settings.jwt_dev_key  # the server's key is accepted
        before = listing(srv.data_dir)
        status, body = await refused(srv, srv.token("ghost", admin=True))
        assert (status, body) == (401, {"code": "UNAUTHENTICATED", "message": "unknown tenant"})
        async with aiohttp.ClientSession() as http:
            login = {"tenant": "ghost", "email": "a@ghost.test", "password": "whatever-123"}
            async with http.post(srv.base_url + "/v1/auth/login", json=login) as response:
                assert response.status == 401
            accept = {"token": f"pmi.ghost.x1.{'A' * 43}", "password": "whatever-123"}
            async with http.post(srv.base_url + "/v1/auth/accept", json=accept) as response:
                assert response.status == 401
        assert listing(srv.data_dir) == before
        assert not (srv.data_dir / "tenants" / "ghost").exists()
    finally:
        await runner.cleanup()


async def test_dev_key_alone_still_creates_the_tenant_on_first_token(server: Server) -> None:
    assert not (server.data_dir / "tenants" / "newco").exists()
    client = await server.client("newco", "alice")
    assert client.welcome.tenant_id == "newco"
    assert os.path.isfile(server.data_dir / "tenants" / "newco" / "main.db")


def pm_tenant(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["tenant", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def test_pm_tenant_create_invites_its_first_admin_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PM_PUBLIC_URL", "PM_HOST", "PM_PORT", "PM_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    code, out, err = pm_tenant(
        "create",
        "newco",
        "--admin-email",
        "Boss@NewCo.test",
        "--data-dir",
        str(data),
        capsys=capsys,
    )
    assert code == 0, err
    link = out.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8700/accept#token=pmi.newco.")
    token = link.split("#token=", 1)[1]
    db = sqlite3.connect(data / "tenants" / "newco" / "main.db")
    try:
        assert db.execute("SELECT is_tenant_admin, kind FROM users").fetchall() == [(1, "human")]
        stored = db.execute("SELECT token_hash FROM invitations").fetchall()
        assert stored == [(hash_secret(token.rsplit(".", 1)[1]),)]
        assert db.execute("SELECT email_key, password_hash FROM accounts").fetchall() == [
            ("boss@newco.test", None)
        ]
    finally:
        db.close()
    assert token not in (data / "tenants" / "newco" / "main.db").read_bytes().decode("latin-1")
    code, _, err = pm_tenant(
        "create", "newco", "--admin-email", "x@newco.test", "--data-dir", str(data), capsys=capsys
    )
    assert code == 4
    assert "already exists" in err
    code, _, err = pm_tenant(
        "create", "other", "--admin-email", "nope", "--data-dir", str(data), capsys=capsys
    )
    assert code == 2
    assert not (data / "tenants" / "other").exists()


async def test_pm_tenant_create_with_port_0_needs_a_public_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link to port 0 leads nowhere, and no server says which port it will pick."""
    monkeypatch.delenv("PM_PUBLIC_URL", raising=False)
    monkeypatch.setenv("PM_PORT", "0")
    data = tmp_path / "data"
    args = ("create", "newco", "--admin-email", "boss@newco.test", "--data-dir", str(data))
    code, out, err = pm_tenant(*args, capsys=capsys)
    assert code == 2
    assert "PM_PUBLIC_URL" in err
    assert ":0/" not in out + err
    assert not (data / "tenants" / "newco").exists()
    monkeypatch.setenv("PM_PUBLIC_URL", "https://pm.example.com/")
    code, out, err = pm_tenant(*args, capsys=capsys)
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("https://pm.example.com/accept#token=pmi.")
