"""Full-text search at 100k items, and what its index costs a create.

``python -m bench.search_timing [--items N] [--queries N] [--creates N]`` builds a
tenant database in a temporary directory (every migration, so the search index and
its triggers), seeds ``N`` work items (default 100,000) of random words from a
5,000-word vocabulary straight into it (the triggers index them as they go), then:

- **search**: ``--queries`` searches of one or two random words (each a prefix),
  20 hits a page, through the repository the server uses; latency p50/p95;
- **creates**: ``--creates`` items through the work-item repository, 50 to a
  transaction (as the writer's group commit does), once with the index's triggers
  and once with them dropped; items per second of each and the ratio.

The database is read and written in-process (no server, no socket): the figures are
the storage's, the part the index changes. Not part of ``make bench``; under load
the figures mean nothing (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uuid_utils

from bench.fixtures import OWNER
from bench.scenarios.search import INSERT_ITEM, vocabulary
from pm_core.enums import Role, WorkItemType
from pm_core.search import match_query
from pm_db.codec import db_time
from pm_db.migrator import load_migrations, migrate
from pm_db.repositories.search import SearchFilter
from pm_db.unit_of_work import UnitOfWork

_TRIGGERS = (
    "search_item_created",
    "search_item_edited",
    "search_item_deleted",
    "search_comment_created",
    "search_comment_changed",
)


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    migrate(conn, load_migrations())
    return conn


def new_project(conn: sqlite3.Connection, key: str) -> str:
    uow = UnitOfWork(conn, datetime.now(UTC))
    conn.execute("BEGIN")
    uow.users.upsert(user_id=OWNER, display_name="Owner")
    project = uow.projects.create(key=key, name=key, created_by=OWNER)
    uow.members.add(project_id=project.id, user_id=OWNER, role=Role.ADMIN)
    conn.execute("COMMIT")
    return project.id


def seed(conn: sqlite3.Connection, project_id: str, items: int, words: list[str]) -> float:
    rng = random.Random(7)
    stamp = db_time(datetime.now(UTC))
    started = time.perf_counter()
    rows = [
        (
            str(uuid_utils.uuid7()),
            project_id,
            number,
            " ".join(rng.choices(words, k=4)),
            " ".join(rng.choices(words, k=12)),
            float(number),
            OWNER,
            stamp,
            stamp,
        )
        for number in range(1, items + 1)
    ]
    conn.execute("BEGIN")
    conn.executemany(INSERT_ITEM, rows)
    conn.execute("UPDATE projects SET next_item_number = ? WHERE id = ?", (items + 1, project_id))
    conn.execute("COMMIT")
    return time.perf_counter() - started


def search_latencies(conn: sqlite3.Connection, words: list[str], queries: int) -> list[float]:
    rng = random.Random(11)
    uow = UnitOfWork(conn, datetime.now(UTC))
    latencies = []
    for n in range(queries):
        picked = rng.sample(words, k=1 + n % 2)
        # A prefix of the first word (as people type), the second whole.
        text = " ".join([picked[0][: max(3, len(picked[0]) - 2)], *picked[1:]])
        started = time.perf_counter()
        uow.search.search(SearchFilter(query=match_query(text)), user_id=OWNER, everywhere=False)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def creates_per_second(conn: sqlite3.Connection, project_id: str, creates: int) -> float:
    rng = random.Random(3)
    started = time.perf_counter()
    done = 0
    while done < creates:
        conn.execute("BEGIN IMMEDIATE")
        uow = UnitOfWork(conn, datetime.now(UTC))
        for _ in range(min(50, creates - done)):
            uow.work_items.create(
                project_id=project_id,
                type=WorkItemType.TASK,
                title=f"Created item {rng.random()}",
                description="a few words of description",
                created_by=OWNER,
            )
            done += 1
        conn.execute("COMMIT")
    return creates / (time.perf_counter() - started)


def run(items: int, queries: int, creates: int) -> dict[str, Any]:
    words = vocabulary(random.Random(5))
    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "search.db")
        try:
            seeded = seed(conn, new_project(conn, "BIG"), items, words)
            latencies = search_latencies(conn, words, queries)
            with_index = creates_per_second(conn, new_project(conn, "WITH"), creates)
            for trigger in _TRIGGERS:
                conn.execute(f"DROP TRIGGER {trigger}")
            without_index = creates_per_second(conn, new_project(conn, "WITHOUT"), creates)
        finally:
            conn.close()
    cuts = statistics.quantiles(latencies, n=20)
    return {
        "items": items,
        "seed_seconds": round(seeded, 1),
        "search_ms": {"p50": round(statistics.median(latencies), 3), "p95": round(cuts[18], 3)},
        "creates_per_second": {
            "with_index": round(with_index),
            "without_index": round(without_index),
            "ratio": round(with_index / without_index, 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--creates", type=int, default=3000)
    args = parser.parse_args()
    print(json.dumps(run(args.items, args.queries, args.creates), indent=2))


if __name__ == "__main__":
    main()
