"""``pm tenant migrate``: pending migrations applied ahead of time, with progress."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from pm_db.migrator import current_version, load_migrations, migrate
from pm_db.paths import TenantPaths
from tests.pm_server.conftest import start_server
from tests.pm_server.test_tenant_cli_functional import pm, stop


def _tenant_at(data_dir: Path, tenant_id: str, version: int) -> None:
    path = TenantPaths(data_dir).db_path(tenant_id)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, load_migrations()[:version])
    conn.close()


def _version(data_dir: Path, tenant_id: str) -> int:
    conn = sqlite3.connect(TenantPaths(data_dir).db_path(tenant_id), isolation_level=None)
    try:
        return current_version(conn)
    finally:
        conn.close()


async def test_migrate_all_brings_every_tenant_up_and_reports_each(tmp_path: Path) -> None:
    newest = len(load_migrations())
    data_dir = tmp_path / "data"
    _tenant_at(data_dir, "old", 1)
    _tenant_at(data_dir, "older", 3)
    _tenant_at(data_dir, "new", newest)

    code, out, err = await pm(data_dir, "migrate", "--all")

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"[1/3] new: schema {newest}, nothing to do",
        f"[2/3] old: schema 1 -> {newest}",
        f"[3/3] older: schema 3 -> {newest}",
        "3 tenants: 3 current, 0 skipped, 0 failed",
    ]
    assert {t: _version(data_dir, t) for t in ("old", "older", "new")} == dict.fromkeys(
        ("old", "older", "new"), newest
    )


async def test_a_tenant_a_server_has_open_is_skipped(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _tenant_at(data_dir, "idle", 2)
    server, runner = await start_server(data_dir)
    try:
        await server.client()  # opens (and migrates) acme
        code, out, err = await pm(data_dir, "migrate", "--all", "--json")
    finally:
        await stop(server, runner)

    assert code == 6, err
    rows = {row["tenant"]: row for row in json.loads(out)}
    assert rows["acme"]["status"] == "skipped"
    assert rows["idle"] == {
        "tenant": "idle",
        "status": "migrated",
        "from": 2,
        "to": len(load_migrations()),
    }
