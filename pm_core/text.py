"""Text fields and their limits.

Limits count characters (Unicode code points), never bytes or UTF-16 units:
an emoji such as U+1F600 or a CJK ideograph is one character. A sequence the
eye sees as one symbol but Unicode spells with several code points (a flag, a
skin-tone or ZWJ emoji) counts each code point.

Single-line fields (titles, names) refuse control characters; multi-line
fields (descriptions, comment bodies, context content) allow newline, carriage
return and tab but no other control character. NUL is refused everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator, StringConstraints

TITLE_MAX: Final = 500
NAME_MAX: Final = 200
# Multi-line limits keep the largest command (4 bytes per character at worst) inside the
# default 64 KiB WebSocket frame (PM_MAX_FRAME_BYTES).
DESCRIPTION_MAX: Final = 10_000
COMMENT_MAX: Final = 10_000
CONTEXT_CONTENT_MAX: Final = 10_000
SQL_MAX: Final = 4_000
CATEGORY_MAX: Final = 100
EMAIL_MAX: Final = 320

_SINGLE_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_MULTI_LINE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_single_line(text: str) -> str:
    if _SINGLE_LINE_FORBIDDEN.search(text):
        raise ValueError("must be a single line without control characters")
    return text


def check_multi_line(text: str) -> str:
    if _MULTI_LINE_FORBIDDEN.search(text):
        raise ValueError("must not contain control characters other than newline and tab")
    return text


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX),
    AfterValidator(check_single_line),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    AfterValidator(check_single_line),
]
Category = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=CATEGORY_MAX),
    AfterValidator(check_single_line),
]
Description = Annotated[
    str, StringConstraints(max_length=DESCRIPTION_MAX), AfterValidator(check_multi_line)
]
CommentBody = Annotated[
    str,
    StringConstraints(min_length=1, max_length=COMMENT_MAX),
    AfterValidator(check_multi_line),
]
ContextContent = Annotated[
    str,
    StringConstraints(min_length=1, max_length=CONTEXT_CONTENT_MAX),
    AfterValidator(check_multi_line),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=EMAIL_MAX),
    AfterValidator(check_single_line),
]
Sql = Annotated[str, StringConstraints(max_length=SQL_MAX), AfterValidator(check_multi_line)]


def with_article(word: str) -> str:
    """``"epic" -> "an epic"``, ``"story" -> "a story"``: messages people read say it right.

    By the first letter, which is right for every word pm puts in a message (item types,
    sprint and item statuses); "an hour"-style exceptions do not occur among them.
    """
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def email_key(email: str) -> str:
    """How emails are compared and stored for sign-in: trimmed, lower case.

    Only the case is folded (``Alice@Example.com`` is ``alice@example.com``);
    nothing else about an address is interpreted (no dots or ``+`` tags removed).
    """
    return email.strip().lower()
