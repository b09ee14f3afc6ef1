"""The tenant-id rule: the only gate before a tenant id becomes a path."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.errors import InvalidTenantIdError, ValidationError
from pm_core.tenancy import TENANT_ID_PATTERN, check_tenant_id, is_valid_tenant_id


@pytest.mark.parametrize("tenant_id", ["a", "0", "acme", "acme-corp", "a_b-c", "9lives", "a" * 63])
def test_check_tenant_id_accepts_valid_ids(tenant_id):
    assert is_valid_tenant_id(tenant_id)
    assert check_tenant_id(tenant_id) == tenant_id


HOSTILE = [
    "",
    "../x",
    "..",
    ".",
    "a/b",
    "/abs",
    "a\\b",
    ".hidden",
    "%2e%2e",
    "A",
    "Acme",
    "-acme",
    "_acme",
    "a" * 64,
    "caf\u00e9",
    "\u0430cme",  # Cyrillic a
    "a\x00",
    "abc\n",
    "\nabc",
    " abc",
    "abc ",
    "a b",
    "a:b",
]


@pytest.mark.parametrize("tenant_id", HOSTILE)
def test_check_tenant_id_refuses_hostile_ids(tenant_id):
    assert not is_valid_tenant_id(tenant_id)
    with pytest.raises(InvalidTenantIdError) as info:
        check_tenant_id(tenant_id)
    assert isinstance(info.value, ValidationError)
    assert info.value.field == "tenant_id"
    assert info.value.tenant_id == tenant_id


@pytest.mark.parametrize("value", [None, 123, b"acme", ["acme"]])
def test_is_valid_tenant_id_refuses_non_strings(value):
    assert not is_valid_tenant_id(value)


@settings(max_examples=200)
@given(st.text(max_size=70) | st.text(alphabet="az09_-./A\x00\n", max_size=70))
def test_any_accepted_tenant_id_is_a_safe_path_segment(tenant_id):
    if not is_valid_tenant_id(tenant_id):
        with pytest.raises(InvalidTenantIdError):
            check_tenant_id(tenant_id)
        return
    assert re.fullmatch(TENANT_ID_PATTERN, tenant_id)
    assert "/" not in tenant_id
    assert "." not in tenant_id
    assert "\x00" not in tenant_id
    assert "\n" not in tenant_id
    assert 1 <= len(tenant_id) <= 63


@settings(max_examples=100)
@given(st.from_regex(TENANT_ID_PATTERN, fullmatch=True))
def test_every_id_matching_the_pattern_is_accepted(tenant_id):
    assert check_tenant_id(tenant_id) == tenant_id
