"""The ``pm`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from pm_server import __version__
from pm_server.app import create_app
from pm_server.settings import Settings

log = logging.getLogger("pm_server")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pm", description="pm: real-time agile-board backend")
    parser.add_argument("--version", action="version", version=f"pm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (settings from PM_* variables)")
    serve.add_argument("--host", help="override PM_HOST")
    serve.add_argument("--port", type=int, help="override PM_PORT")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    parser.error(f"unknown command {args.command}")
    return 2


def _serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log.info(
        "pm %s serving on http://%s:%d data_dir=%s",
        __version__,
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
    )
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
