"""Server settings: read once from ``PM_*`` environment variables, then frozen.

This is the only place pm reads the environment. Every variable has a safe
embedded default, so ``pm serve`` with nothing set serves on 127.0.0.1:8700
with data in ./var. The README lists each variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pm_auth.jwks import check_jwks_url
from pm_db.database import StorageOptions


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PM_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    data_dir: Path = Path("./var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: ``text`` lines, or ``json``: one object per line with the tenant, user, connection
    #: and request ids as fields (pm_server.logs).
    log_format: Literal["text", "json"] = "text"

    #: Open tenant databases held at once (each a few file descriptors and ~380 KiB with
    #: its read connection).
    max_open_tenants: int = Field(default=256, ge=1, le=5_000)
    #: SQLite ``synchronous``: NORMAL survives a process crash; FULL also a power loss.
    db_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = "NORMAL"
    db_busy_timeout_ms: int = Field(default=5_000, ge=0)
    db_cache_size_kib: int = Field(default=1_024, ge=64)
    db_read_connections: int = Field(default=2, ge=1, le=16)
    db_write_threads: int = Field(default=2, ge=1, le=64)
    db_read_threads: int = Field(default=4, ge=1, le=64)

    #: Seconds between server pings; a peer that does not answer is closed.
    heartbeat_seconds: float = Field(default=30.0, gt=0)
    #: Largest WebSocket frame accepted; larger ones close the connection with 1009.
    max_frame_bytes: int = Field(default=65_536, ge=1_024, le=16 * 1024 * 1024)
    #: Frames (events, replies, errors) queued for one connection before it is closed as a
    #: slow consumer (4008).
    max_queued_events: int = Field(default=10_000, ge=10)
    #: Queued bytes: bytes of every frame queued for one connection (and, apart, of the events
    #: held for its replaying subscriptions) before it is closed as a slow consumer (4008):
    #: bounds the memory a client that stops reading can hold, whatever the frame size. A
    #: single larger frame is still delivered. (The name predates replies counting too.)
    max_queued_event_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    #: Commands of one connection handled at the same time (the reader waits beyond it).
    max_inflight_per_connection: int = Field(default=64, ge=1, le=4_096)
    #: Seconds between SIGTERM and closing connections: /readyz answers 503 and new
    #: connections are refused, so a load balancer stops routing here first.
    drain_delay_seconds: float = Field(default=0.0, ge=0)
    #: Seconds to finish in-flight work on shutdown before sockets are closed.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    # -- limits (docs/security.md lists each with the error or close code it produces) --

    #: Open WebSocket connections of the whole process; more are refused with 503
    #: before the upgrade (each holds a file descriptor; the process has ~20,000).
    max_connections: int = Field(default=10_000, ge=1)
    #: Open connections of one tenant (503 beyond).
    max_connections_per_tenant: int = Field(default=1_000, ge=1)
    #: Open connections of one user of one tenant (503 beyond): tabs, devices, agents.
    max_connections_per_user: int = Field(default=128, ge=1)
    #: Seconds a new TCP connection has to send its whole request head (the upgrade
    #: request); also how long an idle HTTP keep-alive connection is kept.
    handshake_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: Connections that have not finished sending their request head; more are answered
    #: 503 and closed at once (a slow-sending client holds a socket for nothing).
    max_handshakes: int = Field(default=1_000, ge=1)
    #: Bytes of a request head (request line and headers): 431 beyond.
    max_request_head_bytes: int = Field(default=16_384, ge=4_096, le=1024 * 1024)
    #: Origins browsers may connect from, comma separated (``https://app.example.com``).
    #: Empty: same origin only (the Origin's host equals the Host header). ``*``: any.
    #: A request without an Origin header (not a browser) is always allowed.
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    #: Commands per second one connection may send, sustained (0: no limit).
    rate_limit_connection_per_second: float = Field(default=250.0, ge=0)
    #: Commands one connection may send at once above the sustained rate (a page load).
    rate_limit_connection_burst: int = Field(default=500, ge=1)
    #: Commands per second all connections of one tenant may send, sustained (0: no limit).
    rate_limit_tenant_per_second: float = Field(default=2_000.0, ge=0)
    #: Commands all connections of one tenant may send at once above the sustained rate.
    rate_limit_tenant_burst: int = Field(default=4_000, ge=1)
    #: RATE_LIMITED refusals of one connection within the window that close it with
    #: 1008 (a client that ignores retry_after_ms is flooding; 0: never close).
    rate_limit_flood_refusals: int = Field(default=200, ge=0)
    rate_limit_flood_window_seconds: float = Field(default=10.0, gt=0)
    #: Projects one connection may be subscribed to at once (VALIDATION_ERROR beyond).
    max_subscriptions_per_connection: int = Field(default=1_000, ge=1)
    #: Entries in any repeated field of one command (project_ids, types, statuses, ...).
    max_list_items: int = Field(default=1_000, ge=1)
    #: Seconds one command may take before it is answered UNAVAILABLE (retryable).
    handler_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Writes queued for one tenant's writer beyond which new mutations get
    #: UNAVAILABLE ("tenant busy", retryable) at once instead of queueing.
    db_max_queued_writes: int = Field(default=1_000, ge=1)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        origins = []
        for origin in value:
            if origin == "*":
                origins.append(origin)
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
                raise ValueError(f"{origin!r} is not an origin such as https://app.example.com")
            origins.append(f"{parts.scheme}://{parts.netloc}".lower())
        return tuple(origins)

    #: JWT algorithms accepted, comma-separated; a configured key of another algorithm is unused.
    jwt_algorithms: Annotated[
        tuple[Literal["HS256", "RS256", "ES256", "EdDSA"], ...], NoDecode, Field(min_length=1)
    ] = ("HS256", "RS256", "ES256", "EdDSA")
    #: PEM file with one public key or certificate; used for tokens without a kid.
    jwt_public_key_file: Path | None = None
    #: JWKS file with several public keys, chosen by the token's kid.
    jwt_jwks_file: Path | None = None
    #: An identity provider's JWKS URL (its ``jwks_uri``): https, or http on loopback only.
    jwt_jwks_url: str | None = Field(default=None, min_length=1)
    #: Seconds a fetched JWKS is used before it is fetched again.
    jwt_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    #: Least seconds between two fetches caused by tokens naming an unknown kid.
    jwt_jwks_refetch_seconds: float = Field(default=10.0, ge=0)
    #: Claims of an outside provider's tokens (top-level names, or dotted paths into
    #: nested objects); pm's own tokens always use the defaults.
    jwt_claim_tenant: str = Field(default="tenant", min_length=1, max_length=200)
    jwt_claim_roles: str = Field(default="roles", min_length=1, max_length=200)
    jwt_claim_name: str = Field(default="name", min_length=1, max_length=200)
    jwt_claim_email: str = Field(default="email", min_length=1, max_length=200)
    #: Required ``iss`` claim (unset: not checked).
    jwt_issuer: str | None = Field(default=None, min_length=1)
    #: Required member of ``aud`` (unset: a token carrying ``aud`` is refused).
    jwt_audience: str | None = Field(default=None, min_length=1)
    #: Clock skew allowed on exp/nbf/iat.
    jwt_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    #: Accept HS256 dev tokens signed with <data_dir>/signing-key (``pm token``).
    jwt_dev_key: bool = True
    #: Hours an invitation link can be accepted.
    invitation_hours: float = Field(default=72.0, gt=0, le=24.0 * 90)
    #: Base of the links pm prints (invitations), as users reach the server
    #: (``https://pm.example.com``); unset: ``http://<host>:<port>``, where a server
    #: started with port 0 names the port it bound; ``pm tenant create`` needs it then.
    public_url: str | None = Field(default=None, min_length=1)

    # -- built-in sign-in (docs/security.md, "Sign-in") --

    #: Serve /v1/auth/login, refresh, logout, me, password and accept: accounts of the tenant sign
    #: in with email and password and get access tokens signed with <data_dir>/signing-key
    #: (accepted then whatever PM_JWT_DEV_KEY says). A token for a tenant without a
    #: database is refused instead of creating it.
    signin: bool = False
    #: Lifetime of an access token issued by sign-in (minutes; fractions allowed).
    access_token_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    #: Lifetime of a refresh token (days); each refresh starts a new one.
    refresh_token_days: float = Field(default=30.0, gt=0, le=365)
    #: Password attempts (login, password change) naming one account that may fail at once
    #: (unknown emails count the same), then ``per_minute`` more.
    login_rate_account_burst: int = Field(default=5, ge=1)
    login_rate_account_per_minute: float = Field(default=1.0, gt=0)
    #: Password attempts from one client address that may fail at once, then ``per_minute``.
    login_rate_address_burst: int = Field(default=20, ge=1)
    login_rate_address_per_minute: float = Field(default=10.0, gt=0)
    #: argon2id computations at once (each holds 19 MiB and a core for ~50 ms); more wait.
    login_rate_hash_concurrency: int = Field(default=2, ge=1, le=64)

    # -- a cluster (docs/scaling.md): several pm processes over one data directory --

    #: Redis that holds tenant leases, fencing tokens and the node registry
    #: (``redis://[:password@]host:port/db``); unset: one process, no Redis (the default).
    redis_url: str | None = Field(default=None, min_length=1)
    #: Seconds a tenant's lease lasts without renewal: how long a dead owner's tenants
    #: wait before another process takes them (renewed every third of it).
    cluster_lease_seconds: float = Field(default=5.0, ge=0.5, le=300)
    #: Host other pm processes reach this one at (relayed connections); unset: PM_HOST
    #: (which must then not be a wildcard such as 0.0.0.0).
    cluster_advertise_host: str | None = Field(default=None, min_length=1)
    #: Port of that address (a second listener, of this process alone); 0: one the system picks.
    cluster_port: int = Field(default=0, ge=0, le=65535)

    #: Events kept for resume; older ones are purged (a resume from before gets must_refetch).
    event_retention_hours: float = Field(default=24.0 * 7, gt=0)
    #: Idempotency records kept: a retry later than this runs again.
    idempotency_retention_hours: float = Field(default=24.0, gt=0)
    #: Seconds between purges of old events and idempotency records of open tenants.
    maintenance_interval_seconds: float = Field(default=600.0, gt=0)

    #: Webhook URLs may resolve to loopback, private, link-local or metadata addresses
    #: (checked when an endpoint is saved and again at each delivery).
    webhook_allow_private: bool = False
    #: Seconds one delivery may take, connecting included, before it counts as failed.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: Failed attempts in a row after which an endpoint is disabled.
    webhook_max_failures: int = Field(default=20, ge=1, le=10_000)
    #: The first retry waits about this long; each next one twice as long, up to the max.
    webhook_retry_base_seconds: float = Field(default=1.0, gt=0, le=3_600)
    webhook_retry_max_seconds: float = Field(default=600.0, gt=0, le=86_400)

    @field_validator("jwt_jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str | None) -> str | None:
        return None if value is None else check_jwks_url(value)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not a URL such as https://pm.example.com")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @property
    def cluster_host(self) -> str:
        """The host other pm processes reach this one at."""
        host = self.cluster_advertise_host or self.host
        return f"[{host}]" if ":" in host else host

    @property
    def base_url(self) -> str:
        """Where users reach the server: ``PM_PUBLIC_URL`` or ``http://<host>:<port>``."""
        if self.public_url is not None:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def outside_identity(self) -> bool:
        """True when tokens of an outside identity provider are accepted (a public key)."""
        return bool(self.jwt_public_key_file or self.jwt_jwks_file or self.jwt_jwks_url)

    @property
    def creates_tenants(self) -> bool:
        """True when a valid token for a tenant without a database creates it: only with
        the development key alone (a development convenience). With built-in sign-in or an
        outside identity provider configured, such a token is refused and nothing is created."""
        return not (self.signin or self.outside_identity)

    @property
    def accepts_server_key(self) -> bool:
        """True when tokens signed with <data_dir>/signing-key are accepted: development
        tokens (``PM_JWT_DEV_KEY``) or sign-in's access tokens (``PM_SIGNIN``)."""
        return self.jwt_dev_key or self.signin

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    def storage_options(self) -> StorageOptions:
        return StorageOptions(
            synchronous=self.db_synchronous,
            busy_timeout_ms=self.db_busy_timeout_ms,
            cache_size_kib=self.db_cache_size_kib,
            read_connections=self.db_read_connections,
            max_queued_writes=self.db_max_queued_writes,
        )


#: ``PM_*`` variables that are not server settings: the client's (``pm_client``).
CLIENT_VARIABLES = frozenset({"PM_URL", "PM_TOKEN", "PM_PROJECT"})


class SettingsError(ValueError):
    """Settings that cannot be used, said in one line that names the variable."""


def load(**overrides: object) -> Settings:
    """The settings from the environment (``overrides`` win), or :class:`SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(
            "; ".join(
                f"PM_{'_'.join(str(part) for part in error['loc'][:1]).upper()}: {error['msg']}"
                for error in exc.errors(include_url=False, include_input=False)
            )
        ) from None


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """``PM_*`` variables pm does not know (a misspelt setting is otherwise silently
    unused), each with the closest known name if one is close."""
    environ = os.environ if environ is None else environ
    known = {f"PM_{name.upper()}" for name in Settings.model_fields} | CLIENT_VARIABLES
    unknown = sorted(name for name in environ if name.startswith("PM_") and name not in known)
    return [(name, next(iter(get_close_matches(name, known, n=1)), None)) for name in unknown]
