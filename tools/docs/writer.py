"""Every generated doc table: which file, which block, from which generator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from tools.docs.blocks import replace
from tools.docs.commandline import command_line_table
from tools.docs.exports import export_table
from tools.docs.http import commands_table as http_commands_table
from tools.docs.http import openapi_document, statuses_table, websocket_only_table
from tools.docs.protocol import commands_table

#: file -> block name -> what writes the block (given the repository root).
BLOCKS: Final[Mapping[str, Mapping[str, Callable[[Path], str]]]] = {
    "docs/protocol.md": {"commands": commands_table},
    "docs/operations.md": {"export-tables": lambda _root: export_table()},
    "README.md": {"command-line": lambda _root: command_line_table()},
    "docs/http.md": {
        "http-commands": http_commands_table,
        "http-websocket-only": websocket_only_table,
        "http-statuses": statuses_table,
    },
}

#: Whole files written by a generator (given the repository root).
FILES: Final[Mapping[str, Callable[[Path], str]]] = {
    "docs/openapi.json": openapi_document,
}


def generated(root: Path) -> dict[str, str]:
    """The text each doc should have, by path relative to ``root``."""
    out = {}
    for path, blocks in BLOCKS.items():
        text = (root / path).read_text(encoding="utf-8")
        bodies = {name: write(root) for name, write in blocks.items()}
        out[path] = replace(text, bodies, where=path)
    for path, write in FILES.items():
        out[path] = write(root)
    return out


def stale(root: Path) -> list[str]:
    """The docs whose committed text differs from what the generator writes."""
    return [
        path
        for path, text in generated(root).items()
        if not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text
    ]
