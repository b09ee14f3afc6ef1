"""The aiohttp application: resources as cleanup contexts, typed app keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from pm_db.tenants import TenantDatabases
from pm_server.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DATABASES = web.AppKey("databases", TenantDatabases)


def create_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_databases)
    app.router.add_get("/healthz", healthz)
    return app


async def _databases(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    databases = TenantDatabases(
        settings.data_dir,
        max_open=settings.max_open_tenants,
        options=settings.storage_options(),
        write_threads=settings.db_write_threads,
        read_threads=settings.db_read_threads,
    )
    app[DATABASES] = databases
    yield
    await databases.close()


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers HTTP."""
    return web.json_response({"status": "ok"})
