"""The generated blocks of a Markdown file: find them by their markers and replace them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

END = "<!-- end generated -->"


class DocError(Exception):
    """A doc or a source the generator cannot use; the message says which file to fix."""


def begin(name: str) -> str:
    return f"<!-- generated: {name} -->"


def replace(text: str, blocks: Mapping[str, str], *, where: str) -> str:
    """``text`` with the body between each block's markers replaced by ``blocks[name]``.

    The body is set off by blank lines, so that the markers never join the table.
    """
    for name, body in blocks.items():
        pattern = re.compile(re.escape(begin(name)) + r"\n.*?" + re.escape(END), re.DOTALL)
        matches = list(pattern.finditer(text))
        if len(matches) != 1:
            raise DocError(
                f"{where} needs exactly one block `{begin(name)}` ... `{END}` "
                f"(found {len(matches)})"
            )
        # Sliced rather than pattern.sub: the body is text, not a replacement template.
        block = f"{begin(name)}\n\n{body.rstrip()}\n\n{END}"
        text = text[: matches[0].start()] + block + text[matches[0].end() :]
    return text


def cell(text: str) -> str:
    """Text for a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table (cells are taken as written: escape them with :func:`cell`)."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["|" + "|".join(f" {text} " if text else " " for text in row) + "|" for row in rows]
    return "\n".join(lines)
