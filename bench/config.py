"""The sizes of a run: the full one the targets are judged by, and the quick one."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Sizes:
    #: Seconds of load before measuring, and seconds measured, per throughput figure.
    warmup_s: float
    duration_s: float
    # 1: sequential creates
    s1_warmup: int
    s1_requests: int
    # 2: concurrent creates with subscribers
    s2_clients: int
    s2_subscribers: int
    # 3: fan-out
    s3_subscribers: tuple[int, ...]
    s3_window: int
    #: Creates/s of the paced fan-out phase at the most subscribers (110/s x 1,000
    #: subscribers: 110k deliveries/s, just above the target rate).
    s3_paced_rate: float
    # 4: many tenants
    s4_tenants: int
    s4_open_cap: int
    s4_concurrency: int
    # 5: idle connections and open tenants
    s5_connections: int
    s5_tenants: int
    # 6: data growth
    s6_items: tuple[int, ...]
    s6_gets: int
    s6_lists: int
    s6_list_limit: int
    #: Longest each of get-by-key and list-by-status is measured at one level.
    s6_max_seconds: float
    #: Load processes that share a big set of connections (2 cores: 2 is plenty).
    load_processes: int = 2
    # 7: a cluster: creates over many tenants, one process against --workers 2; the relay
    s7_tenants: int = 100
    s7_clients: int = 50
    s7_relay_requests: int = 500
    #: Seconds of warm-up and of measure of each S7 phase (four processes start in it too:
    #: the scenario stays under ~40 s).
    s7_warmup_s: float = 1.0
    s7_duration_s: float = 5.0
    # 8: the HTTP door against the WebSocket (sequential, then closed loop with s8_clients)
    s8_clients: int = 50
    s8_warmup: int = 100
    s8_requests: int = 2_000
    # 9: webhook delivery lag: creates paced at s9_rate per second for s9_seconds
    s9_rate: float = 500.0
    s9_seconds: float = 10.0
    # 10: search at s10_items in a tenant; creates with the search index and without it
    s10_items: int = 100_000
    s10_queries: int = 500
    s10_clients: int = 20
    #: With/without rounds of the creates (each swaps the order; the medians are compared).
    s10_rounds: int = 4
    # 11: the web board (1,000 items) in headless Chromium
    #: Cold loads (a new browser context each), and reloads from the IndexedDB cache.
    s11_paint_runs: int = 5
    #: Remote changes, one at a time, whose time to the page's next frame is measured.
    s11_changes: int = 50


FULL = Sizes(
    warmup_s=2.0,
    duration_s=10.0,
    s1_warmup=300,
    s1_requests=5_000,
    s2_clients=50,
    s2_subscribers=10,
    s3_subscribers=(100, 1_000),
    s3_window=16,
    s3_paced_rate=110.0,
    s4_tenants=1_000,
    s4_open_cap=100,
    s4_concurrency=50,
    s5_connections=5_000,
    s5_tenants=500,
    s6_items=(1_000, 100_000, 1_000_000),
    s6_gets=2_000,
    s6_lists=500,
    s6_list_limit=50,
    s6_max_seconds=20.0,
)

QUICK = Sizes(
    warmup_s=0.5,
    duration_s=2.0,
    s1_warmup=100,
    s1_requests=1_000,
    s2_clients=50,
    s2_subscribers=10,
    s3_subscribers=(100, 1_000),
    s3_window=16,
    s3_paced_rate=110.0,
    s4_tenants=500,
    s4_open_cap=50,
    s4_concurrency=50,
    s5_connections=1_000,
    s5_tenants=100,
    s6_items=(1_000, 100_000),
    s6_gets=300,
    s6_lists=100,
    s6_list_limit=50,
    s6_max_seconds=3.0,
    s7_relay_requests=300,
    s7_warmup_s=0.5,
    s7_duration_s=2.0,
    s8_requests=500,
    s9_seconds=3.0,
    s10_items=10_000,
    s10_queries=100,
    s10_rounds=2,
    s11_paint_runs=3,
    s11_changes=20,
)


@dataclass(slots=True)
class Run:
    """What every scenario gets: the sizes, a scratch dir, and how to run load processes."""

    sizes: Sizes
    quick: bool
    #: Load processes (and the bare baseline servers when the pm server uses it) on uvloop.
    client_uvloop: bool
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pm-bench-")))
    #: Folder for py-spy profiles of the server during each measured phase (None: no profiling).
    profile_dir: Path | None = None
    #: Whether the pm server ran on uvloop (set by the first scenario).
    server_uvloop: bool | None = None
    #: Frame sizes seen by the first scenario, so the baselines send the same bytes.
    request_bytes: int = 0
    reply_bytes: int = 0
    event_frame_bytes: int = 0
    echo: Callable[[str], None] = print

    def data_dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"
