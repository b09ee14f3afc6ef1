"""The tenant's directory: invitations, API keys and the users list, as plain data and rules.

- An **invitation** lets one email join the tenant: the invited user row exists
  from the start (so a project admin can add it as a member at once); accepting
  the single-use, expiring token sets that user's password.
- An **API key** acts as its own user of kind ``agent``; it is named (names are
  unique among the tenant's live keys), never edited, only revoked.
- A **directory entry** is a user as ``list_users`` shows it: the email only
  to whoever may see it, and whether the user is active.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AwareDatetime, StringConstraints

from pm_core.errors import ValidationError
from pm_core.models import Id, Model, User

EMAIL_MAX: Final = 254  # RFC 5321's path limit, less the brackets
#: Deliberately loose: one ``@``, something on each side, a dot in the domain, no spaces.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

KEY_NAME_MAX: Final = 100
KeyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=KEY_NAME_MAX)
]


def email_key(email: str, field: str = "email") -> str:
    """The lower-cased form emails are compared by; VALIDATION_ERROR naming ``field``."""
    cleaned = email.strip()
    if len(cleaned) > EMAIL_MAX or not _EMAIL.fullmatch(cleaned):
        raise ValidationError(field, "must be an email address such as ada@example.com")
    return cleaned.lower()


def key_name(name: str) -> str:
    """An API key's name, stripped; VALIDATION_ERROR on ``name`` unless 1-100 characters."""
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= KEY_NAME_MAX or not cleaned.isprintable():
        raise ValidationError("name", f"name must be 1-{KEY_NAME_MAX} printable characters")
    return cleaned


def default_display_name(email: str) -> str:
    """The name an invited user has until they choose one: the email's local part."""
    return email.strip().split("@", 1)[0][:200] or email


class Invitation(Model):
    id: Id
    user_id: Id
    email_key: str
    invited_by: Id | None = None
    created_at: AwareDatetime
    expires_at: AwareDatetime
    accepted_at: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None

    def usable_at(self, now: AwareDatetime) -> bool:
        """Not accepted, not revoked, not expired."""
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at


class ApiKey(Model):
    id: Id
    user_id: Id
    name: KeyName
    #: ``pmk.<tenant>.<id>``: names the key in logs and lists, never its secret.
    prefix: str
    created_by: Id | None = None
    created_at: AwareDatetime
    last_used_at: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None


class DirectoryEntry(Model):
    """A user in ``list_users``: ``user.email`` is None where the caller may not see it."""

    user: User
    #: A human who has signed in or can (not a pending invitation); an agent with a live key.
    active: bool
