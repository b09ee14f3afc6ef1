"""Password hashing: argon2id (``argon2-cffi``), verified in constant shape.

Parameters (:data:`DEFAULT_PARAMETERS`): argon2id, memory 19 MiB (19,456 KiB),
2 iterations, 1 lane, 16-byte random salt, 32-byte hash: the first
configuration of the OWASP Password Storage Cheat Sheet. Measured here (2
shared cores) one hash or verify costs ~50 ms of one core; RFC 9106's
low-memory profile (64 MiB, 3 iterations, 4 lanes) cost ~330 ms, too much for
a login endpoint on this class of machine. The parameters travel inside each
stored PHC string (``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>``), so they
can be raised later: :meth:`Passwords.needs_rehash` tells a sign-in to store a
new hash with the current ones.

Timing does not tell whether an account exists: :meth:`Passwords.verify` with
no stored hash (unknown email, invited user without a password) verifies the
password against a dummy hash made with the same parameters, so both paths
cost one argon2id verification.

These calls are CPU-bound and block: the server runs them in a thread and
bounds how many run at once (each holds its memory cost).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass
from typing import Final

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pm_core.errors import ValidationError

#: NIST SP 800-63B: at least 8 characters; a cap keeps one request's work bounded.
MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 256


@dataclass(frozen=True, slots=True)
class PasswordParameters:
    """argon2id cost parameters (the variant, salt and hash sizes are fixed)."""

    time_cost: int = 2
    memory_kib: int = 19_456
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1 or self.memory_kib < 8 * self.parallelism:
            raise ValueError("argon2id needs time_cost >= 1 and memory_kib >= 8 * parallelism")


DEFAULT_PARAMETERS: Final = PasswordParameters()


def check_new_password(password: str) -> None:
    """ValidationError (field ``password``) if ``password`` may not be set; never quotes it."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationError(
            "password",
            f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
        )
    if not password.strip():
        raise ValidationError("password", "password must not be only spaces")


class Passwords:
    """Hashes and verifies passwords with one set of parameters."""

    def __init__(self, parameters: PasswordParameters = DEFAULT_PARAMETERS) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._dummy: str | None = None
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        """The PHC string to store for ``password``."""
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; with no ``stored``, False at the same cost.

        A stored value that is not an argon2 hash counts as a mismatch (it was
        never made by :meth:`hash`), after the same dummy verification.
        """
        if stored is not None:
            try:
                return self._hasher.verify(stored, password)
            except VerifyMismatchError:
                return False
            except (InvalidHashError, VerificationError):
                pass
        with contextlib.suppress(VerificationError):
            self._hasher.verify(self._dummy_hash(), password)
        return False

    def needs_rehash(self, stored: str) -> bool:
        """True if ``stored`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def _dummy_hash(self) -> str:
        """A hash of a random password with the current parameters, made on first need."""
        with self._lock:
            if self._dummy is None:
                self._dummy = self._hasher.hash(secrets.token_urlsafe(24))
            return self._dummy
