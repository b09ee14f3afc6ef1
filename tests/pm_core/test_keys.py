"""Project keys and display keys (``PM-12``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.errors import ValidationError
from pm_core.keys import (
    PROJECT_KEY_PATTERN,
    format_display_key,
    is_project_key,
    parse_display_key,
)
from pm_core.models import Project
from pm_core.validation import build

project_keys = st.from_regex(PROJECT_KEY_PATTERN, fullmatch=True)
# Display keys allow up to 18 digits, so item numbers below 10**18.
item_numbers = st.integers(min_value=1, max_value=10**18 - 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PM-1", ("PM", 1)),
        ("PM-12", ("PM", 12)),
        ("pm-12", ("PM", 12)),
        ("Pm-7", ("PM", 7)),
        ("A1-3", ("A1", 3)),
        ("ABCDEFGHIJ-999", ("ABCDEFGHIJ", 999)),
        ("PM-999999999999999999", ("PM", 999_999_999_999_999_999)),
    ],
)
def test_parse_display_key_accepts_valid_keys_in_any_case(text, expected):
    assert parse_display_key(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P-1",
        "PM-0",
        "PM-01",
        "PM12",
        "PM-1a",
        "PM-",
        "-1",
        "PM--1",
        "PM_1",
        "1PM-1",
        " PM-1",
        "PM-1 ",
        "PM-1\n",
        "PM-\uff11",  # full-width digit one
        "\u0131X-1",  # dotless i upper-cases to ASCII "I"
        "\ufb00-1",  # the "ff" ligature upper-cases to "FF"
        "PMXXXXXXXXXX-1",
        "ABCDEFGHIJK-1",
        "PM-1000000000000000000",
    ],
)
def test_parse_display_key_refuses_malformed_input(text):
    with pytest.raises(ValidationError) as info:
        parse_display_key(text)
    assert info.value.field == "key"


def test_format_display_key_joins_key_and_number():
    assert format_display_key("PM", 12) == "PM-12"


@pytest.mark.parametrize(
    ("key", "number", "field"),
    [("pm", 1, "project_key"), ("P", 1, "project_key"), ("PM", 0, "item_number")],
)
def test_format_display_key_refuses_bad_parts(key, number, field):
    with pytest.raises(ValidationError) as info:
        format_display_key(key, number)
    assert info.value.field == field


@settings(max_examples=200)
@given(project_keys, item_numbers)
def test_format_then_parse_round_trips(key, number):
    text = format_display_key(key, number)
    assert parse_display_key(text) == (key, number)
    assert parse_display_key(text.lower()) == (key, number)


@settings(max_examples=200)
@given(st.from_regex(rf"{PROJECT_KEY_PATTERN}-[1-9][0-9]{{0,17}}", fullmatch=True))
def test_parse_then_format_gives_the_upper_case_text(text):
    for variant in (text, text.lower()):
        assert format_display_key(*parse_display_key(variant)) == text.upper()


def reference_is_project_key(text: str) -> bool:
    upper, digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"
    return (
        2 <= len(text) <= 10
        and text[0] in upper
        and all(char in upper or char in digits for char in text[1:])
    )


@settings(max_examples=200)
@given(st.text(alphabet="AZaz09-_ \u0131\u00c9\n", max_size=12))
def test_is_project_key_matches_reference(text):
    assert is_project_key(text) is reference_is_project_key(text)


def test_project_model_refuses_invalid_key_naming_the_field():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    data = {"id": "p1", "created_at": t0, "updated_at": t0, "name": "P", "created_by": "u1"}
    assert build(Project, {**data, "key": "PM2"}).key == "PM2"
    with pytest.raises(ValidationError) as info:
        build(Project, {**data, "key": "pm"})
    assert info.value.field == "key"
