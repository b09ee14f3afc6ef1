"""Raw SQLite: the group-commit rate of a create's rows, and the memory of an open database.

Both run in a load process of their own, with Python's ``sqlite3`` and no pm
code on the measured path (pm's migrations only build the same schema).

- Group commit: one writer commits batches of ``batch`` creates, each the
  rows pm writes for one: the project's item counter, the work item, its
  activity row, its event (a payload of pm's event size) and its idempotency
  record (a reply of pm's reply size). WAL, the same ``synchronous``.
- Churn: copies of a tenant database opened, written once (a create's rows)
  and closed, round robin, on as many threads as pm has write threads.
- Open databases: copies of a pm tenant database each opened the way pm opens
  one (a writer with WAL and the same pragmas, one ``query_only`` reader), with
  one read on each; the process's own resident set before and after.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uuid_utils

from bench.server import rss_kib
from bench.workers import Control
from pm_db.codec import db_time
from pm_db.migrator import load_migrations, migrate

ALLOCATE = """
UPDATE projects SET next_item_number = next_item_number + 1
WHERE id = ? AND deleted_at IS NULL RETURNING next_item_number - 1
"""
INSERT_ITEM = """
INSERT INTO work_items (id, project_id, item_number, type, title, description, status, priority,
                        story_points, position, parent_id, sprint_id, assignee_id, created_by,
                        version, created_at, updated_at)
VALUES (?, ?, ?, 'task', ?, '', 'backlog', 'medium', NULL, ?, NULL, NULL, NULL, ?, 1, ?, ?)
"""
INSERT_ACTIVITY = """
INSERT INTO activity_log (id, project_id, entity_type, entity_id, action, field, old_value,
                          new_value, actor_id, created_at)
VALUES (?, ?, 'work_item', ?, 'created', NULL, NULL, NULL, ?, ?)
"""
INSERT_EVENT = "INSERT INTO events (project_id, payload, created_at) VALUES (?, ?, ?)"
INSERT_KEY = (
    "INSERT INTO idempotency_keys (user_id, request_id, reply, created_at) VALUES (?, ?, ?, ?)"
)


def _uuid() -> str:
    return str(uuid_utils.uuid7())


def _write_create(
    conn: sqlite3.Connection,
    project: str,
    user: str,
    request_id: str,
    payload: bytes,
    reply: bytes,
    stamp: str,
) -> None:
    """The rows pm writes for one create: counter, item, activity, event, idempotency key."""
    (number,) = conn.execute(ALLOCATE, (project,)).fetchone()
    item = _uuid()
    conn.execute(
        INSERT_ITEM,
        (item, project, number, f"Raw item {number}", float(number), user, stamp, stamp),
    )
    conn.execute(INSERT_ACTIVITY, (_uuid(), project, item, user, stamp))
    conn.execute(INSERT_EVENT, (project, payload, stamp))
    conn.execute(INSERT_KEY, (user, request_id, reply, stamp))


def _open(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA cache_size = -1024")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def group_commit(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    path = Path(params["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _open(path, params["synchronous"])
    migrate(conn, load_migrations())
    stamp = db_time(datetime.now(UTC))
    user, project = "writer", _uuid()
    conn.execute(
        "INSERT INTO users (id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (user, user, stamp, stamp),
    )
    conn.execute(
        "INSERT INTO projects (id, key, name, created_by, created_at, updated_at)"
        " VALUES (?, 'RAW', 'Raw', ?, ?, ?)",
        (project, user, stamp, stamp),
    )
    payload = os.urandom(params["event_bytes"])
    reply = os.urandom(params["reply_bytes"])
    batch = params["batch"]
    committed = 0
    transactions = 0
    measure_from = time.perf_counter() + params["warmup_s"]
    until = measure_from + params["duration_s"]
    request = 0
    while (now := time.perf_counter()) < until:
        stamp = db_time(datetime.now(UTC))
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(batch):
            request += 1
            _write_create(conn, project, user, f"request-{request}", payload, reply, stamp)
        conn.execute("COMMIT")
        if now >= measure_from:
            committed += batch
            transactions += 1
    conn.close()
    return {
        "mutations_per_s": committed / params["duration_s"],
        "transactions_per_s": transactions / params["duration_s"],
        "batch": batch,
        "synchronous": params["synchronous"],
    }


def open_databases(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    template = Path(params["template"])
    folder = Path(params["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(params["count"]):
        path = folder / f"db{i:05d}.db"
        shutil.copyfile(template, path)
        paths.append(path)
    before = rss_kib(os.getpid())
    held = []
    for path in paths:
        writer = _open(path, params["synchronous"])
        writer.execute("SELECT value FROM tenant_meta WHERE key = 'epoch'").fetchone()
        reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        reader.execute("PRAGMA cache_size = -1024")
        reader.execute("PRAGMA query_only = ON")
        reader.execute("SELECT * FROM projects WHERE deleted_at IS NULL").fetchall()
        held.append((writer, reader))
    time.sleep(1)
    after = rss_kib(os.getpid())
    fds = len(os.listdir("/proc/self/fd"))
    for writer, reader in held:
        reader.close()
        writer.close()
    return {
        "databases": len(paths),
        "kib_per_database": (after - before) / max(1, len(paths)),
        "fds_with_all_open": fds,
    }


def churn(params: dict[str, Any], ctl: Control) -> dict[str, Any]:
    """Open a database, commit one create's rows, close it: cycles/s over many databases.

    Round robin over copies of a tenant database, on ``threads`` threads (pm's
    write threads), so every cycle pays what an LRU miss pays in SQLite itself:
    opening with pm's pragmas, the first commit after a reopen, and the
    checkpoint SQLite runs when the last connection closes.
    """
    template = Path(params["template"])
    folder = Path(params["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(params["count"]):
        path = folder / f"churn{i:05d}.db"
        shutil.copyfile(template, path)
        paths.append(path)
    payload = os.urandom(params["event_bytes"])
    reply = os.urandom(params["reply_bytes"])
    with sqlite3.connect(paths[0]) as conn:
        user, project = conn.execute("SELECT created_by, id FROM projects LIMIT 1").fetchone()
    conn.close()
    lock = threading.Lock()
    turn = itertools.cycle(paths)
    requests = itertools.count()
    measure_from = time.perf_counter() + params["warmup_s"]
    until = measure_from + params["duration_s"]
    done = 0

    def cycle() -> None:
        nonlocal done
        while (now := time.perf_counter()) < until:
            with lock:
                path = next(turn)
            conn = _open(path, params["synchronous"])
            stamp = db_time(datetime.now(UTC))
            conn.execute("BEGIN IMMEDIATE")
            _write_create(conn, project, user, f"churn-{next(requests)}", payload, reply, stamp)
            conn.execute("COMMIT")
            conn.close()
            if now >= measure_from:
                with lock:
                    done += 1

    threads = [threading.Thread(target=cycle) for _ in range(params["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "cycles_per_s": done / params["duration_s"],
        "threads": params["threads"],
        "databases": len(paths),
        "synchronous": params["synchronous"],
    }
