"""The aiohttp application: resources as cleanup contexts, typed app keys."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from pm_auth.jwks import RemoteJwks
from pm_auth.keys import load_public_keys
from pm_auth.passwords import Passwords
from pm_auth.tokens import AuthConfig, ClaimNames, TokenVerifier, load_or_create_signing_key
from pm_core.errors import TenantFencedError
from pm_db.database import TenantDatabase
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork
from pm_server import board, openapi, rpc
from pm_server.auth import routes as auth_routes
from pm_server.auth.sessions import SessionConfig
from pm_server.auth.signin import SignIn
from pm_server.auth.throttle import LoginThrottle, Rate
from pm_server.connection import CLOSE_TENANT_DELETED, CLOSE_TRY_AGAIN_LATER
from pm_server.hub import Hub
from pm_server.limits import LIMITS, ServerLimits
from pm_server.listener import keep_alive
from pm_server.metrics import Metrics, StorageCollector
from pm_server.settings import Settings
from pm_server.state import STATE, ServerState
from pm_server.webhooks import WebhookService
from pm_server.ws import websocket

log = logging.getLogger(__name__)

#: Seconds between checks for tenants deleted while their clients are connected.
DELETED_TENANT_CHECK_SECONDS = 2.0
#: Seconds between looks for the maintenance markers of open tenants (pm_db.maintenance).
MAINTENANCE_CHECK_SECONDS = 1.0

SETTINGS = web.AppKey("settings", Settings)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_frame_bytes)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_state)
    app.on_shutdown.append(_on_shutdown)
    app.on_response_prepare.append(keep_alive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/ws", websocket)
    rpc.add_routes(app)
    document = openapi.document_bytes()  # built at startup: a schema it cannot map fails here
    app.router.add_get(openapi.PATH, openapi.openapi_json)
    log.debug("OpenAPI document: %d bytes", len(document))
    if settings.signin:
        auth_routes.add_routes(app)
    board.add_routes(app)
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
    verifier = build_verifier(settings)
    log.info("accepting tokens: %s", verifier.summary())
    if verifier.remote is not None:
        await asyncio.to_thread(verifier.remote.refresh)
    metrics = Metrics()
    state = ServerState(
        settings=settings,
        databases=databases,
        verifier=verifier,
        hub=Hub(on_publish=metrics.events_published.inc),
        metrics=metrics,
        webhooks=WebhookService(databases, settings),
    )
    if settings.redis_url is not None:
        from pm_server import cluster  # noqa: PLC0415 - Redis is loaded for a cluster only

        state.cluster, state.relays = cluster.build(settings, databases)
    state.hub.on_commit = state.webhooks.wake
    state.metrics.track_open_tenants(lambda: databases.open_count)
    databases.on_batch = metrics.observe_commit
    metrics.registry.register(StorageCollector(databases.counts_by_state, databases.open_databases))
    # A tenant whose file was found damaged, or removed or replaced, under the server: its
    # clients hear it at once (4004) instead of at their next command.
    databases.on_failure = lambda db: _tenant_failed(state, db)
    app[LIMITS] = ServerLimits(settings, metrics.registry)
    if state.cluster is not None:
        cluster.attach(state, state.cluster, app[LIMITS])
    app[STATE] = state
    if settings.signin:
        app[auth_routes.SIGN_IN] = build_sign_in(settings, databases)
    loop = asyncio.get_running_loop()
    background = [
        loop.create_task(_maintain(state), name="pm-maintenance"),
        loop.create_task(_watch_deleted_tenants(state), name="pm-deleted-tenants"),
        loop.create_task(_watch_maintenance(state), name="pm-maintenance-markers"),
    ]
    marked = state.webhooks.start()
    if marked:
        log.info("webhook deliveries resumed for %d tenants", marked)
    state.ready = True
    yield
    state.ready = False
    await state.webhooks.close()
    for task in background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await databases.close()
    if state.cluster is not None:  # after the databases: their leases go as they close
        await state.cluster.close()
    if state.relays is not None:
        await state.relays.close()


def _tenant_failed(state: ServerState, db: TenantDatabase) -> None:
    if isinstance(db.failure, TenantFencedError):  # another process took it: clients follow
        close_tenant(state, db.tenant_id, "tenant moved: reconnect", CLOSE_TRY_AGAIN_LATER)
    else:
        close_tenant(state, db.tenant_id, "tenant storage failed")


def build_verifier(settings: Settings) -> TokenVerifier:
    """The token verifier the settings describe; a bad key file raises at startup.

    A JWKS URL is not fetched here: :func:`_state` fetches it once the server starts,
    and a provider that is down then only delays tokens signed by it.
    """
    remote = None
    if settings.jwt_jwks_url is not None:
        remote = RemoteJwks(
            settings.jwt_jwks_url,
            max_age=timedelta(seconds=settings.jwt_jwks_cache_seconds),
            min_refetch=timedelta(seconds=settings.jwt_jwks_refetch_seconds),
        )
    claims = ClaimNames(
        tenant=settings.jwt_claim_tenant,
        roles=settings.jwt_claim_roles,
        name=settings.jwt_claim_name,
        email=settings.jwt_claim_email,
    )
    return TokenVerifier(
        AuthConfig(
            algorithms=frozenset(settings.jwt_algorithms),
            hs256_secret=(
                load_or_create_signing_key(settings.data_dir)
                if settings.accepts_server_key
                else None
            ),
            public_keys=load_public_keys(settings.jwt_public_key_file, settings.jwt_jwks_file),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=timedelta(seconds=settings.jwt_leeway_seconds),
            claims=claims,
        ),
        remote=remote,
    )


def build_sign_in(settings: Settings, databases: TenantDatabases) -> SignIn:
    """Built-in sign-in as the settings describe it (``PM_SIGNIN`` and ``PM_*_TOKEN_*``)."""
    config = SessionConfig(
        signing_key=load_or_create_signing_key(settings.data_dir),
        access_lifetime=timedelta(minutes=settings.access_token_minutes),
        refresh_lifetime=timedelta(days=settings.refresh_token_days),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    throttle = LoginThrottle(
        account=Rate(settings.login_rate_account_burst, settings.login_rate_account_per_minute),
        address=Rate(settings.login_rate_address_burst, settings.login_rate_address_per_minute),
    )
    return SignIn(
        databases,
        config,
        Passwords(),
        throttle,
        hash_slots=settings.login_rate_hash_concurrency,
    )


async def _maintain(state: ServerState) -> None:
    """Purge events past retention, old idempotency records and old notifications of the
    open tenants."""
    settings = state.settings
    while True:
        await asyncio.sleep(settings.maintenance_interval_seconds)
        for tenant_id in state.databases.open_tenants():
            try:
                await purge_tenant(state, tenant_id)
            except Exception:
                log.exception("tenant=%s maintenance failed", tenant_id)


async def _watch_deleted_tenants(state: ServerState) -> None:
    """Close the connections of tenants whose database an operator deleted (4004)."""
    while True:
        await asyncio.sleep(DELETED_TENANT_CHECK_SECONDS)
        close_deleted_tenants(state)


async def _watch_maintenance(state: ServerState) -> None:
    """Let go of the open tenants an operator marked for a restore or a delete."""
    while True:
        await asyncio.sleep(MAINTENANCE_CHECK_SECONDS)
        for tenant_id in state.databases.release_marked():
            closed = close_tenant(
                state, tenant_id, "tenant under maintenance: try again later", CLOSE_TRY_AGAIN_LATER
            )
            log.info("tenant=%s under maintenance: %d connections closed", tenant_id, closed)


def close_tenant(
    state: ServerState, tenant_id: str, reason: str, code: int = CLOSE_TENANT_DELETED
) -> int:
    """Close every connection of ``tenant_id`` with ``code`` (commands in flight are
    answered first); returns how many."""
    closed = 0
    for connection in list(state.connections):
        if connection.principal.tenant_id == tenant_id and not connection.closing:
            connection.begin_close(code, reason, state.settings.shutdown_grace_seconds)
            closed += 1
    return closed


def close_deleted_tenants(state: ServerState) -> int:
    """Close every connection whose tenant has no database on disk; returns how many."""
    gone: dict[str, bool] = {}
    closed = 0
    for connection in list(state.connections):
        tenant_id = connection.principal.tenant_id
        if tenant_id not in gone:
            gone[tenant_id] = not state.databases.exists(tenant_id)
        if gone[tenant_id] and not connection.closing:
            connection.begin_close(CLOSE_TENANT_DELETED, "tenant deleted")
            closed += 1
    return closed


async def purge_tenant(state: ServerState, tenant_id: str) -> tuple[int, int]:
    """Delete one tenant's expired events and idempotency records; returns both counts."""
    settings = state.settings

    def purge(uow: UnitOfWork) -> tuple[int, int]:
        events = uow.events.purge_older_than(
            uow.now - timedelta(hours=settings.event_retention_hours)
        )
        keys = uow.idempotency.purge_older_than(
            uow.now - timedelta(hours=settings.idempotency_retention_hours)
        )
        # Inboxes: read notifications after 30 days, any after 90 (docs/storage.md).
        uow.notifications.purge_expired()
        # Expired refresh tokens are refused anyway; a day's margin keeps reuse reports.
        uow.refresh_tokens.purge_expired_before(uow.now - timedelta(days=1))
        return events, keys

    async with state.databases.use(tenant_id) as db:
        return await db.write(purge)


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
