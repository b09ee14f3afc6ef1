"""Mentions in comment text: ``@name`` and the names a user answers to.

Users have a display name (which may hold spaces) and maybe an email, and no
handle of their own, so a user answers to two names, compared ignoring case:
the display name with its spaces taken out (``Ada Lovelace`` is
``@AdaLovelace``) and the local part of the email (``@ada`` for
``ada@example.com``). A mention is ``@`` not preceded by a letter, digit, ``.``
or ``@`` (so an email address in the text mentions nobody), followed by
letters, digits, ``_``, ``.`` and ``-``; a trailing ``.`` or ``-`` is
punctuation, not part of the name. Whom a name resolves to is decided against
the project's live members only (``pm_server/notifying.py``): a name that
matches no member mentions nobody, one that matches several mentions each.
"""

from __future__ import annotations

import re
from typing import Final

_MENTION: Final = re.compile(r"(?<![\w.@])@([\w][\w.\-]*)")
_SPACE: Final = re.compile(r"\s+")


def mentioned_names(text: str) -> set[str]:
    """The names ``text`` mentions, case-folded."""
    return {match.rstrip(".-").casefold() for match in _MENTION.findall(text)}


def names_of(display_name: str, email: str | None) -> set[str]:
    """The names a user answers to, case-folded."""
    names = {_SPACE.sub("", display_name).casefold()}
    if email and "@" in email:
        names.add(email.rsplit("@", 1)[0].casefold())
    return {name for name in names if name}
