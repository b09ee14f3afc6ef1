"""The client side of the ``pm`` command line (grows with the client library)."""

from __future__ import annotations

import argparse

#: Top-level ``pm`` commands this package handles.
COMMANDS: frozenset[str] = frozenset()


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client commands to ``pm``'s sub-command parser."""


def run(args: argparse.Namespace) -> int:
    """Run a client command; returns the process exit code."""
    raise SystemExit(f"pm: unknown command {args.command}")
