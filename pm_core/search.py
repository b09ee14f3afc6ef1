"""What a search query means: words, each matched as a prefix, all of them required.

The text a person types becomes an FTS5 query made only of quoted prefix terms
(``"log"* "pag"*``), so no character of it is read as FTS5 syntax: quotes,
``*``, ``-``, ``AND``/``OR``/``NOT``, ``NEAR`` and column filters are plain
words or separators. Pure: the storage runs the query it returns.
"""

from __future__ import annotations

import re
from typing import Final

from pm_core.errors import ValidationError

#: Words a query may hold; more are refused rather than silently dropped.
MAX_TERMS: Final = 16
MAX_QUERY_CHARS: Final = 500
#: A word: letters and digits of any script (the index's unicode61 tokenizer agrees).
_WORD: Final = re.compile(r"[^\W_]+", re.UNICODE)
#: The highlight markers around a matched word in a snippet: STX and ETX, which no
#: stored text contains (titles and descriptions refuse control characters).
MARK_START: Final = "\x02"
MARK_END: Final = "\x03"


def match_query(text: str) -> str:
    """The FTS5 query for ``text``: every word as a quoted prefix term, all required."""
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationError("query", f"query must be at most {MAX_QUERY_CHARS} characters")
    words = _WORD.findall(text)
    if not words:
        raise ValidationError("query", "query must contain at least one word")
    if len(words) > MAX_TERMS:
        raise ValidationError("query", f"query may hold at most {MAX_TERMS} words")
    return " ".join(f'"{word}"*' for word in words)
