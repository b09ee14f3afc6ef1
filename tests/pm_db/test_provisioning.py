"""create_tenant: the tenant appears complete with its first rows, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from pm_core.errors import TenantExistsError
from pm_db.admin import list_tenants
from pm_db.paths import TenantPaths
from pm_db.provisioning import create_tenant
from pm_db.tenants import TenantDatabases
from pm_db.unit_of_work import UnitOfWork


def _admin(uow: UnitOfWork) -> str:
    return uow.users.upsert(user_id="u1", display_name="Ada", is_tenant_admin=True).id


async def test_create_tenant_writes_its_first_rows_and_serves_them(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path)
    assert create_tenant(paths, "acme", _admin) == "u1"
    databases = TenantDatabases(tmp_path)
    try:
        async with databases.use("acme", create=False) as db:
            user = await db.read(lambda uow: uow.users.get("u1"))
        assert user.is_tenant_admin
    finally:
        await databases.close()
    assert [info.tenant_id for info in list_tenants(paths)] == ["acme"]


def test_create_tenant_refuses_an_existing_tenant(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path)
    create_tenant(paths, "acme", _admin)
    with pytest.raises(TenantExistsError):
        create_tenant(paths, "acme", _admin)


def test_create_tenant_whose_setup_fails_leaves_nothing(tmp_path: Path) -> None:
    paths = TenantPaths(tmp_path)

    def fail(uow: UnitOfWork) -> None:
        _admin(uow)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        create_tenant(paths, "acme", fail)
    assert sorted(p.name for p in paths.root.iterdir()) == []
