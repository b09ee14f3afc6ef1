"""Fixtures for the pm_auth tests."""

from __future__ import annotations

import pytest

from tests.pm_auth.signing import KeyRing, new_ring


@pytest.fixture(scope="session")
def ring() -> KeyRing:
    """Key pairs generated once per session (RSA 2048, EC P-256, Ed25519, HS256)."""
    return new_ring()
