"""Every generated doc table: which file, which block, from which generator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from tools.docs.blocks import replace
from tools.docs.commandline import command_line_table
from tools.docs.exports import export_table
from tools.docs.protocol import commands_table

#: file -> block name -> what writes the block (given the repository root).
BLOCKS: Final[Mapping[str, Mapping[str, Callable[[Path], str]]]] = {
    "docs/protocol.md": {"commands": commands_table},
    "docs/operations.md": {"export-tables": lambda _root: export_table()},
    "README.md": {"command-line": lambda _root: command_line_table()},
}


def generated(root: Path) -> dict[str, str]:
    """The text each doc should have, by path relative to ``root``."""
    out = {}
    for path, blocks in BLOCKS.items():
        text = (root / path).read_text(encoding="utf-8")
        bodies = {name: write(root) for name, write in blocks.items()}
        out[path] = replace(text, bodies, where=path)
    return out


def stale(root: Path) -> list[str]:
    """The docs whose committed text differs from what the generator writes."""
    return [
        path
        for path, text in generated(root).items()
        if (root / path).read_text(encoding="utf-8") != text
    ]
