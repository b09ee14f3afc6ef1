"""An invitation end to end, as people do it, on a real server with built-in sign-in:

- a tenant admin runs ``pm user invite``; a project admin adds the invited user to a
  project before that user ever signed in; the invited user opens the printed link
  (``POST /v1/auth/accept`` at the link's server with the token of its fragment),
  connects over the WebSocket with the access token and sees the project at once;
- an operator runs ``pm tenant create T --admin-email E``; its link, accepted, connects
  as the new tenant's admin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_proto.v1 import commands_pb2
from tests.pm_client.cli_support import InThreadCli, Result
from tests.pm_server.conftest import Server, start_server
from tests.pm_server.wsclient import WsClient

PASSWORD = "first-sign-in-Pa55word"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    data = tmp_path / "data"
    create_tenant(TenantPaths(data), "acme", lambda uow: None)
    srv, runner = await start_server(data, signin=True)
    yield srv
    for client in srv.clients:
        await client.close()
    await runner.cleanup()


@pytest.fixture
def cli(server: Server, monkeypatch: pytest.MonkeyPatch) -> InThreadCli:
    for name in ("PM_URL", "PM_TOKEN", "PM_PROJECT", "PM_PUBLIC_URL", "PM_PORT", "PM_HOST"):
        monkeypatch.delenv(name, raising=False)
    return InThreadCli(server.ws_url, lambda user: server.token(user=user, admin=user == "root"))


def ok(result: Result) -> Result:
    assert result.code == 0, result.stderr
    return result


async def open_link(link: str, password: str = PASSWORD) -> dict[str, Any]:
    """What a browser page at the link does: the token of the fragment, posted to accept."""
    parts = urlsplit(link)
    assert parts.path == "/accept"
    assert parts.fragment.startswith("token=pmi.")
    token = parts.fragment.removeprefix("token=")
    base = f"{parts.scheme}://{parts.netloc}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            base + "/v1/auth/accept", json={"token": token, "password": password}
        ) as response,
    ):
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body


async def connect(server: Server, token: str) -> WsClient:
    client = await WsClient.connect(server.ws_url, token)
    server.clients.append(client)
    return client


async def test_invited_member_sees_the_project_on_first_connect(
    cli: InThreadCli, server: Server
) -> None:
    ok(await cli("project", "create", "PM", "Board", user="carol"))  # carol: project admin
    invited = ok(await cli("user", "invite", "dora@example.test", "--name", "Dora", user="root"))
    link = invited.stdout.strip().splitlines()[-1]
    assert urlsplit(link).port == urlsplit(server.base_url).port  # the bound port, not 0
    listed = ok(await cli("user", "list", "dora", "--json", user="carol")).json()
    dora = listed["users"][0]["user"]["id"]
    ok(await cli("member", "add", dora, "--role", "editor", "-p", "PM", user="carol"))

    session = await open_link(link)

    assert session["user"]["id"] == dora
    client = await connect(server, session["access_token"])
    assert (client.welcome.tenant_id, client.welcome.user.id) == ("acme", dora)
    assert client.welcome.user.display_name == "Dora"
    projects = await client.request("list_projects", commands_pb2.ListProjects())
    assert [p.key for p in projects.projects.projects] == ["PM"]
    again = ok(await cli("user", "list", "dora", "--json", user="carol")).json()
    assert again["users"][0]["active"] is True


async def test_tenant_create_link_signs_in_the_new_tenant_admin(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PM_PORT", "PM_HOST", "PM_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PM_PUBLIC_URL", server.base_url)  # where the users reach this server
    created = InThreadCli._main(
        [
            "tenant",
            "create",
            "newco",
            "--admin-email",
            "Boss@NewCo.test",
            "--data-dir",
            str(server.data_dir),
        ],
        "",
    )
    assert created.code == 0, created.stderr
    link = created.stdout.strip().splitlines()[-1]

    session = await open_link(link)

    client = await connect(server, session["access_token"])
    assert client.welcome.tenant_id == "newco"
    assert client.welcome.user.is_tenant_admin
    assert client.welcome.user.email == "Boss@NewCo.test"
    board = await client.request(
        "create_project", commands_pb2.CreateProject(key="NC", name="NewCo")
    )
    assert board.project.project.key == "NC"
