"""Data written straight into tenant databases while the server is stopped.

Only ever on a stopped server's data dir: a cloned tenant is a byte copy of a
template database (the server checkpointed it on shutdown); seeded work items
are plain rows of the same schema, numbered after the project's counter, which
is moved past them in the same transaction.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import uuid_utils

from pm_db.codec import db_time
from pm_db.paths import TenantPaths

STATUSES = ("backlog", "todo", "in_progress", "in_review", "done")
_CHUNK = 50_000

INSERT_ITEM = """
INSERT INTO work_items (id, project_id, item_number, type, title, description, status, priority,
                        story_points, position, parent_id, sprint_id, assignee_id, created_by,
                        version, created_at, updated_at)
VALUES (?, ?, ?, 'task', ?, '', ?, 'medium', NULL, ?, NULL, NULL, NULL, ?, 1, ?, ?)
"""


def tenant_db(data_dir: Path, tenant: str) -> Path:
    return TenantPaths(data_dir).db_path(tenant)


def clone_tenant(data_dir: Path, template: str, tenants: list[str]) -> None:
    """Copy ``template``'s database to each of ``tenants`` (all on a stopped server)."""
    source = tenant_db(data_dir, template)
    for suffix in ("-wal", "-shm"):
        if Path(f"{source}{suffix}").exists() and Path(f"{source}{suffix}").stat().st_size:
            raise RuntimeError(f"{source}{suffix} is not empty: stop the server first")
    for tenant in tenants:
        target = tenant_db(data_dir, tenant)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def seed_items(db: Path, project_id: str, created_by: str, up_to: int) -> dict[str, float]:
    """Add work items to ``project_id`` until it holds ``up_to``; statuses round robin.

    Returns how many rows were written and how long it took.
    """
    started = time.perf_counter()
    stamp = db_time(datetime.now(UTC))
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        (first,) = conn.execute(
            "SELECT next_item_number FROM projects WHERE id = ?", (project_id,)
        ).fetchone()
        number = int(first)
        written = 0
        while number <= up_to:
            last = min(up_to, number + _CHUNK - 1)
            rows = [
                (
                    str(uuid_utils.uuid7()),
                    project_id,
                    n,
                    f"Seeded item {n}",
                    STATUSES[n % len(STATUSES)],
                    float(n),
                    created_by,
                    stamp,
                    stamp,
                )
                for n in range(number, last + 1)
            ]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_ITEM, rows)
            conn.execute(
                "UPDATE projects SET next_item_number = ? WHERE id = ?", (last + 1, project_id)
            )
            conn.execute("COMMIT")
            written += len(rows)
            number = last + 1
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {"rows_written": written, "seconds": time.perf_counter() - started}
