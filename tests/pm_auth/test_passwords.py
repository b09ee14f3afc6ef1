"""Passwords: argon2id hashes, verification, the dummy verification and the rules."""

from __future__ import annotations

import argon2
import pytest

from pm_auth.passwords import (
    DEFAULT_PARAMETERS,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PasswordParameters,
    Passwords,
    check_new_password,
)
from pm_core.errors import ValidationError

#: Cheap parameters: these tests check behaviour, not cost.
CHEAP = PasswordParameters(time_cost=1, memory_kib=64, parallelism=1)


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(CHEAP)


def test_hash_is_an_argon2id_phc_string_with_the_parameters(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery")

    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert "correct horse battery" not in stored
    assert stored != passwords.hash("correct horse battery")  # a fresh salt each time


def test_default_parameters_are_the_documented_ones() -> None:
    stored = Passwords().hash("correct horse battery")

    assert PasswordParameters(2, 19_456, 1) == DEFAULT_PARAMETERS
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify_accepts_the_password_and_refuses_any_other(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery")

    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batterY")
    assert not passwords.verify(stored, "")


@pytest.mark.parametrize("stored", [None, "", "not a hash", "$argon2id$v=19$m=64,t=1,p=1$xx"])
def test_verify_without_a_usable_hash_is_false(passwords: Passwords, stored: str | None) -> None:
    assert passwords.verify(stored, "correct horse battery") is False


def test_verify_without_a_hash_runs_the_dummy_verification(
    passwords: Passwords, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    original = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, stored: str, password: str) -> bool:
        verified.append(stored)
        return original(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)

    assert not passwords.verify(None, "whatever password")

    (dummy,) = verified
    assert dummy.startswith("$argon2id$v=19$m=64,t=1,p=1$")


def test_needs_rehash_after_the_parameters_change(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery")

    assert not passwords.needs_rehash(stored)
    assert Passwords(PasswordParameters(time_cost=2, memory_kib=64)).needs_rehash(stored)
    assert passwords.needs_rehash("not a hash")


@pytest.mark.parametrize(
    "password",
    ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1), "y" * (MAX_PASSWORD_LENGTH + 1), " " * 12],
)
def test_new_password_breaking_the_rules_is_refused_without_quoting_it(password: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_new_password(password)
    assert caught.value.field == "password"
    assert password.strip() == "" or password not in str(caught.value)


@pytest.mark.parametrize(
    "password", ["x" * MIN_PASSWORD_LENGTH, "y" * MAX_PASSWORD_LENGTH, "pässwörd 🙂 ok"]
)
def test_new_password_within_the_rules_is_accepted(password: str) -> None:
    check_new_password(password)


def test_parameters_argon2_cannot_use_are_refused() -> None:
    with pytest.raises(ValueError, match="argon2id needs"):
        PasswordParameters(time_cost=0)
    with pytest.raises(ValueError, match="argon2id needs"):
        PasswordParameters(memory_kib=8, parallelism=2)
