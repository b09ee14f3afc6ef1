"""Scenario 10: full-text search in a big tenant, and what its index costs a create.

All through the server, as users see it:

1. A project is made through the protocol; ``s10_items`` work items of random words
   (4 in the title, 12 in the description, from a 5,000-word vocabulary) are written
   straight into the tenant's database while the server is stopped (the index's
   triggers index them as they go, as they would each create).
2. One client sends ``search`` commands one at a time (one or two words, the first cut
   to a prefix as people type; 20 hits a page): round trip p50/p95.
3. ``s10_clients`` editors create items in a second project of the same tenant as fast
   as replies come (the closed loop of scenario 2, no subscribers), once with the
   index's triggers and once with them dropped (the server is stopped, the triggers are
   dropped straight in the database, then put back as they were), ``s10_rounds`` rounds,
   each swapping which side goes first, so both sides see the same machine: creates/s of
   each and the ratio of their medians, and the server's CPU time per create of each (a
   cost, which other work on the machine skews less than a rate) and their ratio.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uuid_utils

from bench.config import Run
from bench.fixtures import OWNER, provision
from bench.scenarios.creates import TENANT
from bench.seed import tenant_db
from bench.server import PmServer, cpu_during
from bench.stats import summarize
from bench.workers import Worker, floats, release, results, wait_all
from pm_db.codec import db_time
from pm_proto.v1 import entities_pb2

KEY = "SRCH"
INSERT_ITEM = """
INSERT INTO work_items (id, project_id, item_number, type, title, description, status, priority,
                        position, created_by, version, created_at, updated_at)
VALUES (?, ?, ?, 'task', ?, ?, 'todo', 'medium', ?, ?, 1, ?, ?)
"""
_CHUNK = 20_000


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
    return sorted(words)


def queries(words: list[str], count: int) -> list[str]:
    """One or two words each; the first cut to a prefix (as people type), the second whole."""
    rng = random.Random(11)
    out = []
    for n in range(count):
        picked = rng.sample(words, k=1 + n % 2)
        out.append(" ".join([picked[0][: max(3, len(picked[0]) - 2)], *picked[1:]]))
    return out


def seed_words(db: Path, project_id: str, items: int, words: list[str]) -> float:
    """``items`` work items of random words in ``project_id`` (server stopped); seconds taken."""
    rng = random.Random(7)
    stamp = db_time(datetime.now(UTC))
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        for first in range(1, items + 1, _CHUNK):
            rows = [
                (
                    str(uuid_utils.uuid7()),
                    project_id,
                    n,
                    " ".join(rng.choices(words, k=4)),
                    " ".join(rng.choices(words, k=12)),
                    float(n),
                    OWNER,
                    stamp,
                    stamp,
                )
                for n in range(first, min(items, first + _CHUNK - 1) + 1)
            ]
            conn.execute("BEGIN")
            conn.executemany(INSERT_ITEM, rows)
            conn.execute(
                "UPDATE projects SET next_item_number = ? WHERE id = ?", (items + 1, project_id)
            )
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - started


def index_triggers(db: Path) -> list[str]:
    """The CREATE statements of the search index's triggers, in the order they were made."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'search\\_%' "
            "ESCAPE '\\' ORDER BY rowid"
        ).fetchall()
    finally:
        conn.close()
    if not rows:
        raise RuntimeError(f"{db} has no search index triggers")
    return [sql for (sql,) in rows]


def set_index(db: Path, triggers: list[str], *, on: bool) -> None:
    """Put the index's triggers back (``on``) or drop them (the server is stopped)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for sql in triggers:
            name = sql.split()[2]
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            if on:
                conn.execute(sql)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _creates(
    run: Run, server: PmServer, project_id: str, writers: list[str], tag: str
) -> tuple[float, float]:
    """Creates/s of the closed loop, and the server's CPU microseconds per create."""
    sizes = run.sizes
    worker = Worker(
        "bench.load:closed_loop_creates",
        {
            "url": server.ws_url,
            "project_id": project_id,
            "uvloop": run.client_uvloop,
            "tokens": [server.token(TENANT, u) for u in writers],
        },
        tag,
    )
    try:
        wait_all([worker], "ready", 120)
        window = release([worker], sizes.warmup_s, sizes.duration_s)
        cpu = cpu_during(server.pid, window["measure_from"], window["until"])
        writes = worker.result(sizes.warmup_s + sizes.duration_s + 120)
    finally:
        worker.kill()
    rate = len(floats(writes["latencies"])) / (window["until"] - window["measure_from"])
    return rate, 1e6 * cpu["server_cpu_cores"] / max(rate, 1e-9)


def scenario_10(run: Run) -> dict[str, Any]:
    sizes = run.sizes
    data_dir = run.data_dir("s10")
    log = run.log_path("s10")
    writers = [f"writer{i:03d}" for i in range(sizes.s10_clients)]
    with PmServer(data_dir, log) as server:
        project = asyncio.run(provision(server, TENANT, KEY))
        target = asyncio.run(
            provision(server, TENANT, "MAKE", [(u, entities_pb2.ROLE_EDITOR) for u in writers])
        )
    db = tenant_db(data_dir, TENANT)
    words = vocabulary(random.Random(5))
    run.echo(f"  seeding {sizes.s10_items:,} work items of random words")
    seeded = seed_words(db, project.id, sizes.s10_items, words)
    out: dict[str, Any] = {
        "items": sizes.s10_items,
        "seed_seconds": round(seeded, 1),
        "db_mib": round(db.stat().st_size / 2**20, 1),
        "queries": sizes.s10_queries,
        "clients": sizes.s10_clients,
        "measured": "through the server (WebSocket round trips)",
    }
    with PmServer(data_dir, log) as server:
        params = {
            "url": server.ws_url,
            "token": server.token(TENANT, OWNER),
            "queries": queries(words, sizes.s10_queries),
            "warmup": 50,
            "uvloop": run.client_uvloop,
        }
        (found,) = results([Worker("bench.load:search_latency", params, "s10-search")], 900)
    out["search"] = summarize(floats(found["latencies"]))
    out["hits_per_search"] = found["hits_per_search"]

    triggers = index_triggers(db)
    rates: dict[str, list[float]] = {"with_index": [], "without_index": []}
    cpu: dict[str, list[float]] = {"with_index": [], "without_index": []}
    try:
        for round_ in range(sizes.s10_rounds):
            # Each round swaps which side goes first, so neither always meets a colder machine.
            sides = (("with_index", True), ("without_index", False))
            for side, on in sides if round_ % 2 == 0 else sides[::-1]:
                set_index(db, triggers, on=on)
                with PmServer(data_dir, log) as server:
                    rate, micros = _creates(run, server, target.id, writers, f"s10-{side}")
                rates[side].append(rate)
                cpu[side].append(micros)
    finally:
        set_index(db, triggers, on=True)
    with_index = statistics.median(rates["with_index"])
    without_index = statistics.median(rates["without_index"])
    out["creates_per_s"] = {
        "with_index": with_index,
        "without_index": without_index,
        "rounds": rates,
    }
    out["create_ratio"] = with_index / without_index
    # What a create costs the server's CPU does not depend on what else the machine runs as
    # much as a rate does: the same comparison, by cost (without / with).
    out["server_cpu_us_per_create"] = {
        "with_index": statistics.median(cpu["with_index"]),
        "without_index": statistics.median(cpu["without_index"]),
        "rounds": cpu,
    }
    out["create_cpu_ratio"] = statistics.median(cpu["without_index"]) / statistics.median(
        cpu["with_index"]
    )
    return out
