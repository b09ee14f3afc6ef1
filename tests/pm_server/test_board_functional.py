"""The board's files at / over a real socket: cache and security headers, nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp

from pm_auth.tokens import TokenVerifier, load_or_create_signing_key
from pm_server.board import CONTENT_SECURITY_POLICY, IMMUTABLE, STATIC
from tests.pm_server.conftest import Server

ASSET = re.compile(r'"/assets/([^"]+)"')


async def test_index_is_revalidated_and_names_hashed_assets_cached_for_good(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/") as page:
            assert page.status == 200
            assert page.headers["Content-Type"] == "text/html; charset=utf-8"
            assert page.headers["Cache-Control"] == "no-cache"
            assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            html = await page.text()
        assets = ASSET.findall(html)
        assert sorted(a.rsplit(".", 1)[1] for a in assets) == ["css", "js"]
        for name in assets:
            async with http.get(f"{server.base_url}/assets/{name}") as asset:
                assert asset.status == 200
                assert asset.headers["Cache-Control"] == IMMUTABLE
                assert asset.headers["X-Content-Type-Options"] == "nosniff"
                expected = "text/javascript" if name.endswith(".js") else "text/css"
                assert asset.headers["Content-Type"].startswith(expected)
                assert await asset.read() == (STATIC / "assets" / name).read_bytes()


async def test_only_built_asset_names_are_served(server: Server) -> None:
    built = next((STATIC / "assets").glob("app-*.js")).name
    refused = [
        "/assets/app-NOTAHASH0.js",  # the right shape, no such file
        "/assets/" + built.replace(".js", ".map"),
        "/assets/..%2Findex.html",
        "/assets/%2E%2E%2F%2E%2E%2Fboard.py",
        "/index.html",  # the page is served at / only
        "/static/index.html",
    ]
    async with aiohttp.ClientSession() as http:
        for path in refused:
            async with http.get(f"{server.base_url}{path}") as response:
                assert response.status == 404, path
                if path.startswith("/assets/"):
                    assert response.headers["X-Content-Type-Options"] == "nosniff", path


async def test_the_websocket_is_still_at_v1_ws(server: Server) -> None:
    client = await server.client()
    assert client.welcome.user.id == "alice"


def test_pm_token_link_opens_the_board_with_the_token_in_the_fragment(tmp_path: Path) -> None:
    env = {**os.environ, "PM_DATA_DIR": str(tmp_path), "PM_PORT": "8765"}
    for name in ("PM_PUBLIC_URL", "PM_HOST"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "pm_server", "token", "--tenant", "acme", "--user", "bob", "--link"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    link = done.stdout.strip()
    base, _, token = link.partition("/#token=")
    assert base == "http://127.0.0.1:8765"
    principal = TokenVerifier(load_or_create_signing_key(tmp_path)).verify(token)
    assert (principal.tenant_id, principal.user_id) == ("acme", "bob")
