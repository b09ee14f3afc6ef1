"""Helpers of the sign-in functional tests: accounts in a tenant, and a small HTTP client."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from pm_auth.passwords import Passwords
from pm_db.codec import utc_now
from pm_db.provisioning import create_tenant
from pm_db.unit_of_work import UnitOfWork
from tests.pm_server.conftest import Server

PASSWORD = "Tr0ub4dor&3-sign-in-password"


def add_account(
    server: Server,
    *,
    tenant: str = "acme",
    user: str = "alice",
    email: str = "alice@example.com",
    password: str = PASSWORD,
    admin: bool = False,
) -> None:
    """A user with a sign-in account in ``tenant`` (created with the tenant if it has none)."""

    def setup(uow: UnitOfWork) -> None:
        uow.users.upsert(
            user_id=user, display_name=user.title(), email=email, is_tenant_admin=admin
        )
        uow.accounts.create(user_id=user, email=email, password_hash=Passwords().hash(password))

    paths = server.state.databases.paths
    if not paths.has_database(tenant):
        create_tenant(paths, tenant, setup)
        return
    conn = sqlite3.connect(paths.db_path(tenant), isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        setup(UnitOfWork(conn, utc_now()))
        conn.execute("COMMIT")
    finally:
        conn.close()


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any
    cookies: dict[str, str]

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"])


class AuthClient:
    """Calls ``/v1/auth/*``; ``origin`` makes it look like a browser (it sends Origin)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, origin: str | None) -> None:
        self.session = session
        self.base_url = base_url
        self.origin = origin

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if self.origin is not None:
            sent["Origin"] = self.origin
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": sent}
        if raw is not None:
            kwargs["data"] = raw
            sent.setdefault("Content-Type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.base_url + path, **kwargs) as response:
            data: Any = None
            if response.content_type == "application/json":
                data = await response.json()
            cookies = {name: morsel.OutputString() for name, morsel in response.cookies.items()}
            return Answer(response.status, data, response.headers, cookies)

    async def login(
        self,
        email: str = "alice@example.com",
        password: str = PASSWORD,
        tenant: str = "acme",
    ) -> Answer:
        return await self.call(
            "POST", "/v1/auth/login", {"tenant": tenant, "email": email, "password": password}
        )


@asynccontextmanager
async def auth_client(server: Server, *, browser: bool = False) -> AsyncIterator[AuthClient]:
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of 127.0.0.1 (an IP host)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        yield AuthClient(session, server.base_url, server.base_url if browser else None)
