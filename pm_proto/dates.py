"""Calendar dates on the wire: ``"YYYY-MM-DD"`` text <-> ``datetime.date``.

An item's start and due dates are days, not instants (no time, no zone), so
they travel as ISO 8601 calendar-date text rather than as a Timestamp that a
reader in another zone would see on another day. Only the exact form
``2026-12-07`` is accepted (no week dates, no ``20261207``); anything else is
a ValidationError naming the field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from pm_core.errors import ValidationError

_FORM: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def from_date_text(text: str, field: str) -> date:
    """The date ``text`` names; anything but a real ``YYYY-MM-DD`` day is refused."""
    if not _FORM.fullmatch(text):
        raise ValidationError(field, f"{field} must be a date like 2026-12-07")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(field, f"{field} must be a date like 2026-12-07") from exc


def date_or_none(text: str, field: str) -> date | None:
    """An optional date as the protocol sends it: "" means none."""
    return None if text == "" else from_date_text(text, field)


def to_date_text(value: date) -> str:
    return value.isoformat()
