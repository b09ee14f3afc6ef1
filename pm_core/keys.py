"""Project keys and work-item display keys (``KEY-123``).

One format everywhere: a project key is 2-10 characters, an upper-case ASCII
letter followed by upper-case letters or digits; a display key is the project
key, a hyphen and the item number (1 or more, no leading zeros). Parsing
accepts lower case and returns the canonical upper-case form, so
``format_display_key(*parse_display_key(s)) == s.upper()`` for every valid ``s``.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator

from pm_core.errors import ValidationError

PROJECT_KEY_PATTERN: Final = r"[A-Z][A-Z0-9]{1,9}"
#: Item numbers have at most 18 digits, so every formatted key parses back.
MAX_ITEM_NUMBER: Final = 10**18 - 1
_PROJECT_KEY = re.compile(rf"^{PROJECT_KEY_PATTERN}$")
_DISPLAY_KEY = re.compile(rf"^({PROJECT_KEY_PATTERN})-([1-9][0-9]{{0,17}})$")


def is_project_key(key: str) -> bool:
    return _PROJECT_KEY.fullmatch(key) is not None


def check_project_key(key: str) -> str:
    if not is_project_key(key):
        raise ValueError("project key must be 2-10 characters: A-Z then A-Z or 0-9")
    return key


ProjectKey = Annotated[str, AfterValidator(check_project_key)]


def format_display_key(project_key: str, item_number: int) -> str:
    """``("PM", 12) -> "PM-12"``."""
    if not is_project_key(project_key):
        raise ValidationError("project_key", "not a valid project key")
    if not 1 <= item_number <= MAX_ITEM_NUMBER:
        raise ValidationError("item_number", "item numbers run from 1 to 10**18 - 1")
    return f"{project_key}-{item_number}"


def parse_display_key(text: str) -> tuple[str, int]:
    """``"pm-12" -> ("PM", 12)``; anything else raises ValidationError."""
    match = _DISPLAY_KEY.fullmatch(text.upper()) if text.isascii() else None
    if match is None:
        raise ValidationError("key", "display key must look like PROJ-123")
    return match.group(1), int(match.group(2))
