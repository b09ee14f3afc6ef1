"""Server settings: read once from ``PM_*`` environment variables, then frozen.

This is the only place pm reads the environment. Every variable has a safe
embedded default, so ``pm serve`` with nothing set serves on 127.0.0.1:8700
with data in ./var. The README lists each variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pm_db.database import StorageOptions


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PM_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    data_dir: Path = Path("./var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    #: Open tenant databases held at once (each ~3 file descriptors, 150-250 KB).
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
    #: Events queued for one connection before it is closed as a slow consumer (4008).
    max_queued_events: int = Field(default=10_000, ge=10)
    #: Commands of one connection handled at the same time (the reader waits beyond it).
    max_inflight_per_connection: int = Field(default=64, ge=1, le=4_096)
    #: Seconds between SIGTERM and closing connections: /readyz answers 503 and new
    #: connections are refused, so a load balancer stops routing here first.
    drain_delay_seconds: float = Field(default=0.0, ge=0)
    #: Seconds to finish in-flight work on shutdown before sockets are closed.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    def storage_options(self) -> StorageOptions:
        return StorageOptions(
            synchronous=self.db_synchronous,
            busy_timeout_ms=self.db_busy_timeout_ms,
            cache_size_kib=self.db_cache_size_kib,
            read_connections=self.db_read_connections,
        )
