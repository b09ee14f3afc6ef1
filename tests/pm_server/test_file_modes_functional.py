"""Files pm creates are the operator's alone: databases, WAL, backups, exports and the
signing key 0600 in 0700 folders, whatever umask the shell had."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

from pm_auth.tokens import load_or_create_signing_key, mint_token
from tests.pm_server.conftest import create_project
from tests.pm_server.wsclient import WsClient
from tests.serve_process import ServerProcess


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def pm(*args: str, env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pm_server", *args, env={**os.environ, **env}
    )
    assert await asyncio.wait_for(proc.wait(), timeout=60) == 0


async def test_tenant_files_backups_and_exports_are_0600_in_0700_folders(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual shell umask: without pm's own, files would be 0644
    try:
        data_dir = tmp_path / "data"
        server = ServerProcess(data_dir, tmp_path / "server.log")
        await server.start()
        try:
            key = load_or_create_signing_key(data_dir)
            client = await WsClient.connect(
                server.ws_url, mint_token(key, tenant_id="acme", user_id="alice")
            )
            await create_project(client)
            tenant = data_dir / "tenants" / "acme"
            files = [tenant / "main.db", tenant / "main.db-wal", tenant / "main.db-shm"]
            assert all(path.exists() for path in files)
            assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
            folders = [data_dir, data_dir / "tenants", tenant]
            assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}
            assert mode(data_dir / "signing-key") == 0o600

            env = {"PM_DATA_DIR": str(data_dir)}
            out = tmp_path / "out"
            out.mkdir()
            await pm("tenant", "backup", "acme", str(out / "acme.db"), env=env)
            await pm("tenant", "export", "acme", str(out / "acme.json"), env=env)
            assert mode(out / "acme.db") == 0o600
            assert mode(out / "acme.json") == 0o600
            await client.close()
        finally:
            assert await server.stop() == 0
    finally:
        os.umask(old)
