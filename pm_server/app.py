"""The aiohttp application: resources as cleanup contexts, typed app keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from pm_auth.tokens import TokenVerifier, load_or_create_signing_key
from pm_db.tenants import TenantDatabases
from pm_server.hub import Hub
from pm_server.metrics import Metrics
from pm_server.settings import Settings
from pm_server.state import STATE, ServerState
from pm_server.ws import websocket

SETTINGS = web.AppKey("settings", Settings)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_frame_bytes)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_state)
    app.on_shutdown.append(_on_shutdown)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/ws", websocket)
    return app


async def _state(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    databases = TenantDatabases(
        settings.data_dir,
        max_open=settings.max_open_tenants,
        options=settings.storage_options(),
        write_threads=settings.db_write_threads,
        read_threads=settings.db_read_threads,
    )
    key = load_or_create_signing_key(settings.data_dir)
    metrics = Metrics()
    state = ServerState(
        settings=settings,
        databases=databases,
        verifier=TokenVerifier(key),
        hub=Hub(on_publish=metrics.events_published.inc),
        metrics=metrics,
    )
    state.metrics.track_open_tenants(lambda: databases.open_count)
    app[STATE] = state
    state.ready = True
    yield
    state.ready = False
    await databases.close()


async def _on_shutdown(app: web.Application) -> None:
    state = app[STATE]
    await state.drain(app[SETTINGS].shutdown_grace_seconds)


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers HTTP."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready to serve: 503 while starting or draining."""
    state = request.app.get(STATE)
    if state is None or not state.ready or state.draining:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    return await request.app[STATE].metrics.handler(request)
