"""Mentions: the names a comment mentions and the names a user answers to."""

from __future__ import annotations

import pytest

from pm_core.mentions import mentioned_names, names_of


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("@bob look", {"bob"}),
        ("ping @AdaLovelace, @ada.l.", {"adalovelace", "ada.l"}),
        ("(@eve) and @Eve-", {"eve"}),
        ("mail bob@example.com or a@@b", set()),
        ("no mention @ here, @-x", set()),
        ("émile: @Émile", {"émile"}),
    ],
)
def test_mentioned_names(text: str, names: set[str]) -> None:
    assert mentioned_names(text) == names


def test_a_user_answers_to_the_spaceless_display_name_and_the_email_local_part() -> None:
    assert names_of("Ada  Lovelace", "ada@example.com") == {"adalovelace", "ada"}
    assert names_of("Bob", None) == {"bob"}
