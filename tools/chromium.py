"""Debian's Chromium as the board's tests and benchmark launch it (through Playwright).

Playwright (PyPI; its driver ships in the wheel) drives ``/usr/bin/chromium``: never a browser
Playwright downloads. The flags are the ones this machine needs without a network: no sandbox
(root), no GPU, no QUIC, and none of Chromium's background connections.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("PM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable() -> str | None:
    """Why the board cannot be driven here (None: it can)."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (make test installs it)"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install chromium"
    return None
