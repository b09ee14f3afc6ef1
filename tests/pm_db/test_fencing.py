"""Fencing tokens: once another owner claimed a tenant, the old one commits nothing more."""

from __future__ import annotations

from pathlib import Path

import pytest

from pm_core.errors import TenantFencedError
from pm_db.database import TenantDatabase
from pm_db.tenants import TenantDatabases


class Tokens:
    """A fence source handing out the tokens it is given, in order (then above ``above``)."""

    def __init__(self, *tokens: int) -> None:
        self.tokens = list(tokens)
        self.asked: list[int] = []
        self.let_go: list[tuple[str, int]] = []

    async def acquire(self, tenant_id: str, above: int) -> int:
        self.asked.append(above)
        return self.tokens.pop(0) if self.tokens else above + 1

    def released(self, tenant_id: str, token: int) -> None:
        self.let_go.append((tenant_id, token))


def create_user(name: str):
    return lambda uow: uow.users.upsert(user_id=name, display_name=name)


async def user_ids(db: TenantDatabase) -> list[str]:
    return await db.read(
        lambda uow: [row[0] for row in uow.conn.execute("SELECT id FROM users ORDER BY id")]
    )


async def test_an_owner_fenced_by_a_newer_one_commits_nothing_and_goes_out_of_service(
    tmp_path: Path,
) -> None:
    old_tokens, new_tokens = Tokens(1), Tokens(2)
    old, new = (
        TenantDatabases(tmp_path, fences=old_tokens),
        TenantDatabases(tmp_path, fences=new_tokens),
    )
    failed: list[TenantDatabase] = []
    old.on_failure = failed.append
    try:
        async with old.use("acme") as old_db:
            await old_db.write(create_user("before"))
            assert old_db.fence == 1
            async with new.use("acme") as new_db:  # another process takes the tenant over
                assert new_db.fence == 2
                with pytest.raises(TenantFencedError) as refused:
                    await old_db.write(create_user("stale"))
                assert refused.value.retryable
                await new_db.write(create_user("after"))
                assert await user_ids(new_db) == ["after", "before"]
        assert failed == [old_db]
        assert old_db.closed
        assert old.open_count == 0
        with pytest.raises(TenantFencedError):
            await old_db.write(create_user("later"))
        assert ("acme", 1) in old_tokens.let_go
    finally:
        await old.close()
        await new.close()
    assert ("acme", 2) in new_tokens.let_go


async def test_a_token_below_the_stored_one_is_traded_for_a_higher_one(
    tmp_path: Path,
) -> None:
    first = TenantDatabases(tmp_path, fences=Tokens(5))
    async with first.use("acme") as db:
        await db.write(create_user("one"))
    await first.close()
    # Redis lost its counters: it hands out 1 again; the database holds 5.
    tokens = Tokens(1)
    again = TenantDatabases(tmp_path, fences=tokens)
    try:
        async with again.use("acme") as db:
            assert db.fence == 6
            await db.write(create_user("two"))
            assert await user_ids(db) == ["one", "two"]
        assert tokens.asked == [0, 5]
    finally:
        await again.close()


async def test_without_fences_nothing_is_stored_or_checked(tmp_path: Path) -> None:
    databases = TenantDatabases(tmp_path)
    try:
        async with databases.use("acme") as db:
            assert db.fence is None
            await db.write(create_user("one"))
            stored = await db.read(
                lambda uow: uow.conn.execute(
                    "SELECT count(*) FROM tenant_meta WHERE key = 'fence'"
                ).fetchone()[0]
            )
            assert stored == 0
    finally:
        await databases.close()
