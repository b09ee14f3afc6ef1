"""The board: the built web app (web/, `make web`) served at ``/`` on the WebSocket's origin.

The bundle is committed under ``pm_server/static`` so running pm never needs Node. Its
``index.html`` is revalidated on every load (``no-cache``) and names the assets by content hash
(``assets/app-<hash>.js``), so those are cached for a year as immutable: a new build is a new
name. Every answer carries the browser security headers of docs/security.md: a strict
Content-Security-Policy (scripts and styles from this origin only, no inline script, connections
to this origin only, never framed), ``nosniff`` and no referrer.

Only names the build can produce are served (``ASSET_NAME``): nothing else under the folder,
and no path can leave it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from aiohttp import web

STATIC: Final = Path(__file__).resolve().parent / "static"

#: ``<name>-<hash>.<ext>``: what the build writes (web/build.mjs), nothing else.
ASSET_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*-[A-Z0-9]{8,}\.(js|css|svg|png|woff2)$")

CONTENT_TYPES: Final = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "woff2": "font/woff2",
}

# 'self' in connect-src covers ws:// and wss:// of this origin (CSP level 3).
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

IMMUTABLE: Final = "public, max-age=31536000, immutable"


def add_routes(app: web.Application, root: Path = STATIC) -> None:
    board = Board(root)
    app.router.add_get("/", board.index)
    app.router.add_get("/assets/{name}", board.asset)


class Board:
    """The files of one built bundle."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def index(self, request: web.Request) -> web.StreamResponse:
        page = self.root / "index.html"
        if not page.is_file():
            return web.Response(
                status=404,
                text="the board is not built here: run `make web`\n",
                headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
            )
        return web.FileResponse(
            page,
            headers={
                **SECURITY_HEADERS,
                "Cache-Control": "no-cache",
                "Content-Type": "text/html; charset=utf-8",
            },
        )

    async def asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        found = ASSET_NAME.match(name)
        path = self.root / "assets" / name
        if found is None or not path.is_file():
            raise web.HTTPNotFound(headers=SECURITY_HEADERS)
        return web.FileResponse(
            path,
            headers={
                **SECURITY_HEADERS,
                "Cache-Control": IMMUTABLE,
                "Content-Type": CONTENT_TYPES[found.group(1)],
            },
        )
