"""``pm tenant ...``: administration of tenant databases in the data dir."""

from __future__ import annotations

import argparse

from pm_server.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pm tenant`` to ``pm``'s sub-command parser."""


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise SystemExit("pm tenant: not available")
