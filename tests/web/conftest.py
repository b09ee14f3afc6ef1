"""What the web tests need: web/node_modules, installed by `make web-check` (in `make test`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.browser import browser, server

__all__ = ["browser", "node_bin", "server"]  # the browser tests' fixtures, per module

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
NODE_BIN = WEB / "node_modules" / ".bin"


@pytest.fixture(scope="session")
def node_bin() -> Path:
    """web/node_modules/.bin; a skip without it, a failure under CI=true (CI has Node)."""
    if not (NODE_BIN / "protoc-gen-es").exists():
        reason = "web/node_modules is missing: install Node.js and run `make web`"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return NODE_BIN
