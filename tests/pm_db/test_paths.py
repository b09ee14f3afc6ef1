"""TenantPaths: every tenant path checked and inside the data dir; brief connections."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pm_core.errors import InvalidTenantIdError
from pm_core.tenancy import is_valid_tenant_id
from pm_db.paths import DB_FILE_NAME, TenantPaths, connect, remove_with_sidecars, sidecar
from tests.pm_db.test_tenants import HOSTILE_TENANT_IDS


def test_tenant_paths_stay_inside_the_data_dir(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path / "data")
    path = paths.db_path("acme_1-x")
    assert paths.root == (tmp_path / "data").resolve() / "tenants"
    assert path == paths.root / "acme_1-x" / DB_FILE_NAME
    assert paths.tenant_dir("acme_1-x") == path.parent
    assert not (tmp_path / "data").exists()  # building a path creates nothing


def test_a_relative_data_dir_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert TenantPaths(Path("var")).db_path("acme") == tmp_path.resolve() / (
        "var/tenants/acme/main.db"
    )


@pytest.mark.parametrize("tenant_id", HOSTILE_TENANT_IDS)
def test_a_hostile_tenant_id_gets_no_path(tmp_path: Path, tenant_id: str) -> None:
    paths = TenantPaths(tmp_path)
    for build in (paths.tenant_dir, paths.db_path, paths.has_database):
        with pytest.raises(InvalidTenantIdError):
            build(tenant_id)
    with pytest.raises(InvalidTenantIdError):
        paths.scratch("restore", tenant_id)
    assert list(tmp_path.iterdir()) == []


def test_tenant_ids_lists_only_tenants_with_a_database(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path)
    assert paths.tenant_ids() == []  # no tenants folder yet
    for tenant_id in ("beta", "alpha"):
        paths.tenant_dir(tenant_id).mkdir(parents=True)
        paths.db_path(tenant_id).write_bytes(b"")
    paths.tenant_dir("empty").mkdir()
    (paths.root / "Not-A-Tenant").mkdir()
    (paths.root / "Not-A-Tenant" / DB_FILE_NAME).write_bytes(b"")
    scratch = paths.scratch("deleted", "gamma")
    scratch.mkdir()
    (scratch / DB_FILE_NAME).write_bytes(b"")

    assert paths.tenant_ids() == ["alpha", "beta"]
    assert paths.has_database("alpha")
    assert not paths.has_database("empty")


def test_scratch_names_are_fresh_and_never_tenant_ids(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path)
    names = {paths.scratch("import", "acme") for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert name.parent == paths.root
        assert name.name.startswith(".import-acme-")
        assert not is_valid_tenant_id(name.name)


def test_connect_does_not_create_a_missing_file_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "a b#c%.db"  # the name goes into a URI: it must be escaped
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        connect(path)
    assert not path.exists()
    conn = connect(path, create=True)
    try:
        conn.execute("CREATE TABLE t (x)")  # autocommit: no transaction left open
        assert not conn.in_transaction
    finally:
        conn.close()
    assert path.is_file()


def test_remove_with_sidecars_removes_what_sqlite_left(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    for file in (path, sidecar(path, "-wal"), sidecar(path, "-shm"), tmp_path / "keep.db"):
        file.write_bytes(b"")
    remove_with_sidecars(path)
    remove_with_sidecars(path)  # nothing left to remove is fine
    assert [p.name for p in tmp_path.iterdir()] == ["keep.db"]
