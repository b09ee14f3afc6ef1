"""A real pm server on a real socket per test, and clients that speak the protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_proto.v1 import commands_pb2, entities_pb2
from pm_server.app import create_app
from pm_server.listener import GuardedSite, make_runner
from pm_server.settings import Settings
from pm_server.state import STATE, ServerState
from tests.pm_server.wsclient import WsClient


@dataclass
class Server:
    base_url: str
    data_dir: Path
    app: web.Application
    clients: list[WsClient] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/v1/ws"

    @property
    def state(self) -> ServerState:
        return self.app[STATE]

    def token(
        self, tenant: str = "acme", user: str = "alice", *, admin: bool = False, name: str = ""
    ) -> str:
        key = load_or_create_signing_key(self.data_dir)
        return mint_token(
            key, tenant_id=tenant, user_id=user, name=name or user.title(), tenant_admin=admin
        )

    async def client(
        self, tenant: str = "acme", user: str = "alice", *, admin: bool = False
    ) -> WsClient:
        client = await WsClient.connect(self.ws_url, self.token(tenant, user, admin=admin))
        self.clients.append(client)
        return client


async def start_server(data_dir: Path, **overrides: Any) -> tuple[Server, web.AppRunner]:
    settings = Settings(**{"data_dir": data_dir, "port": 0, "heartbeat_seconds": 5, **overrides})
    app = create_app(settings)
    runner = make_runner(app, settings)
    await runner.setup()
    refused = app[STATE].metrics.connections_refused
    site = GuardedSite(runner, "127.0.0.1", 0, settings, lambda r: refused.labels(r).inc())
    await site.start()
    port = runner.addresses[0][1]
    app[STATE].listening_on(port)  # as pm serve does
    return Server(f"http://127.0.0.1:{port}", data_dir, app), runner


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path / "data")
    yield srv
    for client in srv.clients:
        await client.close()
    await runner.cleanup()


async def create_project(
    client: WsClient, key: str = "PM", name: str = "Project"
) -> entities_pb2.Project:
    reply = await client.request("create_project", commands_pb2.CreateProject(key=key, name=name))
    return reply.project.project


async def subscribe(client: WsClient, *project_ids: str) -> commands_pb2.SubscribeReply:
    reply = await client.request("subscribe", commands_pb2.Subscribe(project_ids=list(project_ids)))
    return reply.subscribed
