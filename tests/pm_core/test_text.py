"""Text limits and characters, checked through the models with ``build``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pm_core.errors import ValidationError
from pm_core.models import Comment, Project, WorkItem
from pm_core.text import COMMENT_MAX, DESCRIPTION_MAX, NAME_MAX, TITLE_MAX, with_article
from pm_core.validation import build

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EMOJI, CJK = "\U0001f600", "\u6f22"
CONTROL = [chr(code) for code in [*range(0x20), 0x7F]]


def work_item(**fields: Any) -> WorkItem:
    data: dict[str, Any] = {
        "id": "w1",
        "created_at": T0,
        "updated_at": T0,
        "project_id": "p1",
        "item_number": 1,
        "type": "task",
        "title": "A task",
        "created_by": "u1",
    }
    return build(WorkItem, {**data, **fields})


def refused_field(**fields: Any) -> str:
    with pytest.raises(ValidationError) as info:
        work_item(**fields)
    return info.value.field


@pytest.mark.parametrize("char", [EMOJI, CJK, "a", "\u00e9"])
def test_title_of_exactly_title_max_characters_is_accepted(char):
    assert work_item(title=char * TITLE_MAX).title == char * TITLE_MAX


@pytest.mark.parametrize("char", [EMOJI, CJK, "a"])
def test_title_of_title_max_plus_one_characters_is_refused(char):
    assert refused_field(title=char * (TITLE_MAX + 1)) == "title"


@pytest.mark.parametrize("title", ["", " ", "\u3000"])
def test_blank_title_is_refused(title):
    assert refused_field(title=title) == "title"


def test_a_flag_counts_as_its_two_code_points():
    flag = "\U0001f1eb\U0001f1f7"
    assert work_item(title=flag * (TITLE_MAX // 2)).title == flag * (TITLE_MAX // 2)
    assert refused_field(title=flag * (TITLE_MAX // 2) + "a") == "title"


def test_title_is_stripped_before_its_length_is_counted():
    assert work_item(title="  " + "a" * TITLE_MAX + "  ").title == "a" * TITLE_MAX


@pytest.mark.parametrize("char", CONTROL)
def test_title_with_control_character_is_refused(char):
    assert refused_field(title=f"before{char}after") == "title"


@pytest.mark.parametrize("text", ["line one\nline two", "tab\there", "crlf\r\nend", EMOJI])
def test_description_allows_newline_tab_and_carriage_return(text):
    assert work_item(description=text).description == text


@pytest.mark.parametrize("char", [c for c in CONTROL if c not in "\n\r\t"])
def test_description_with_other_control_character_is_refused(char):
    assert refused_field(description=f"text{char}more") == "description"


def test_description_limit_counts_characters_not_bytes():
    assert len(work_item(description=EMOJI * DESCRIPTION_MAX).description) == DESCRIPTION_MAX
    assert refused_field(description=EMOJI * (DESCRIPTION_MAX + 1)) == "description"


def test_project_name_limit_and_single_line_rule():
    data = {"id": "p1", "created_at": T0, "updated_at": T0, "key": "PM", "created_by": "u1"}
    assert build(Project, {**data, "name": CJK * NAME_MAX}).name == CJK * NAME_MAX
    for name in (CJK * (NAME_MAX + 1), "two\nlines", "nul\x00"):
        with pytest.raises(ValidationError) as info:
            build(Project, {**data, "name": name})
        assert info.value.field == "name"


def test_comment_body_limit_and_nul_refusal():
    data = {
        "id": "c1",
        "created_at": T0,
        "updated_at": T0,
        "project_id": "p1",
        "work_item_id": "w1",
        "author_id": "u1",
    }
    assert build(Comment, {**data, "body": EMOJI * COMMENT_MAX}).body == EMOJI * COMMENT_MAX
    for body in (EMOJI * (COMMENT_MAX + 1), "", "a\x00b"):
        with pytest.raises(ValidationError) as info:
            build(Comment, {**data, "body": body})
        assert info.value.field == "body"


def test_refusal_message_does_not_echo_the_input():
    with pytest.raises(ValidationError) as info:
        work_item(title="SECRET-VALUE\x00")
    assert "SECRET-VALUE" not in info.value.message


printable = st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"))


@settings(max_examples=100)
@given(st.text(alphabet=printable, min_size=1, max_size=TITLE_MAX))
def test_any_printable_title_within_limit_is_kept_verbatim(title):
    assert work_item(title=title).title == title


@settings(max_examples=100)
@given(
    st.text(alphabet=printable, min_size=1, max_size=20),
    st.sampled_from(CONTROL),
    st.text(alphabet=printable, min_size=1, max_size=20),
)
def test_any_title_with_inner_control_character_is_refused(before, control, after):
    # Inner: leading and trailing whitespace (tab, newline) is stripped, not refused.
    assert refused_field(title=before + control + after) == "title"


@pytest.mark.parametrize(
    ("word", "said"),
    [("epic", "an epic"), ("story", "a story"), ("active", "an active"), ("task", "a task")],
)
def test_with_article_says_a_or_an(word: str, said: str) -> None:
    assert with_article(word) == said
