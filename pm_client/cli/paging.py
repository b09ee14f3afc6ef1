"""Lists longer than a page: ``--all`` reads every page, ``--after`` / ``--before`` one.

Each list command pages the way its command does (a cursor the server hands
back, or the last row of the previous page); :func:`every_page` follows it
until the end and hands back the rows of every page in order. Without
``--all`` a command prints one page, and a full page says on stderr how to
ask for the next one.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Row = TypeVar("Row")
Cursor = TypeVar("Cursor")

#: Pages read at most by ``--all`` (a server that kept answering would otherwise loop).
MAX_PAGES = 10_000


async def every_page(
    fetch: Callable[[Cursor | None], Awaitable[tuple[Sequence[Row], Cursor | None]]],
) -> list[Row]:
    """The rows of every page: ``fetch(None)`` gives the first page and the cursor after
    it, ``fetch(cursor)`` the next, until a page is empty or has no cursor after it."""
    rows: list[Row] = []
    cursor: Cursor | None = None
    for _ in range(MAX_PAGES):
        page, cursor = await fetch(cursor)
        rows.extend(page)
        if not page or cursor is None:
            break
    return rows


def note_next_page(flag: str, cursor: str) -> None:
    """Tell a person reading one page how to ask for the next."""
    print(f"pm: more: {flag} {cursor} for the next page, or --all", file=sys.stderr)
