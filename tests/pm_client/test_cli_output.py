"""The pure parts of the ``pm`` client commands: exit codes, error lines, JSON, tables."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from pm_client import cli
from pm_client.cli import exits
from pm_client.cli.options import enum_arg, looks_like_id, parse_duration, parse_time
from pm_client.cli.output import enum_name, enum_value, table, to_json
from pm_client.errors import ConnectError, ConnectionLost, RequestTimeout, ServerError
from pm_proto.timestamps import to_timestamp
from pm_proto.v1 import commands_pb2, entities_pb2, envelope_pb2, events_pb2

STATUS = entities_pb2.WorkItemStatus.DESCRIPTOR


def server_error(code: str, **fields: object) -> ServerError:
    error = envelope_pb2.Error(code=envelope_pb2.ErrorCode.Value(code), **fields)  # type: ignore[arg-type]
    return ServerError(error, "update_work_item")


# -- exit codes ---------------------------------------------------------------------


EXPECTED_CODES = {
    "INVALID_MESSAGE": 2,
    "VALIDATION_ERROR": 2,
    "UNAUTHENTICATED": 8,
    "FORBIDDEN": 9,
    "RATE_LIMITED": 6,
    "NOT_FOUND": 3,
    "CONFLICT": 4,
    "DELETE_BLOCKED": 4,
    "UNAVAILABLE": 6,
    "INTERNAL": 1,
}


def test_every_server_error_code_has_its_documented_exit_code():
    codes = [v.name for v in envelope_pb2.ErrorCode.DESCRIPTOR.values if v.number]

    assert {code: exits.exit_code(server_error(code)) for code in codes} == EXPECTED_CODES


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConnectError("cannot connect"), 7),
        (ConnectError("refused", status=401, code="UNAUTHENTICATED"), 8),
        (ConnectError("refused", status=403), 9),
        (ConnectError("draining", status=503, code="UNAVAILABLE"), 6),
        (ConnectError("wrong path", status=404), 7),
        (ConnectionLost("gone", close_code=1008), 7),
        (RequestTimeout("ping", "r1", 10.0), 6),
        (exits.UsageError("bad"), 2),
        (argparse.ArgumentTypeError("bad"), 2),
        (exits.NoToken("no token"), 8),
        (exits.NotFound("project X not found"), 3),
        (RuntimeError("bug"), 1),
    ],
)
def test_exit_code_of_client_side_failures(error: Exception, code: int):
    assert exits.exit_code(error) == code


def test_error_line_names_code_message_and_structured_fields():
    conflict = server_error(
        "CONFLICT", message="work_item was changed by someone else", current_version=4
    )
    invalid = server_error(
        "VALIDATION_ERROR",
        message="a blocks cycle",
        field="to_item_id",
        rule="dependency.cycle",
        path=["PM-1", "PM-2", "PM-1"],
    )

    assert exits.describe(conflict) == (
        "CONFLICT: work_item was changed by someone else (current version 4)"
    )
    assert exits.describe(invalid) == (
        "VALIDATION_ERROR: a blocks cycle "
        "(field to_item_id; rule dependency.cycle; path PM-1 > PM-2 > PM-1)"
    )
    assert exits.describe(exits.NotFound("work_item PM-9 not found")) == (
        "NOT_FOUND: work_item PM-9 not found"
    )
    assert "is the server running?" in exits.describe(ConnectError("cannot connect to x"))


# -- JSON -----------------------------------------------------------------------------


def test_to_json_uses_short_enum_names_iso_times_and_null_for_absent_values():
    item = entities_pb2.WorkItem(
        id="i1",
        version=3,
        type=entities_pb2.WORK_ITEM_TYPE_STORY,
        status=entities_pb2.WORK_ITEM_STATUS_IN_REVIEW,
        created_at=to_timestamp(datetime(2026, 3, 1, 9, 30, 0, 5, tzinfo=UTC)),
        display_key="PM-7",
        story_points=0,
    )

    data = to_json(item)

    assert (data["type"], data["status"], data["priority"]) == ("story", "in_review", "unspecified")
    assert data["created_at"] == "2026-03-01T09:30:00.000005Z"
    assert data["deleted_at"] is None  # an unset message
    assert data["parent_id"] is None  # an absent optional
    assert data["story_points"] == 0  # a present optional zero
    assert data["version"] == 3


def test_to_json_of_an_event_shows_only_the_set_member_of_a_oneof():
    event = events_pb2.Event(seq=5, comment=entities_pb2.Comment(id="c1", body="hi"))
    event.changes.add(field="body", old_json='"a"', new_json='"hi"')

    data = to_json(event)

    assert data["comment"]["body"] == "hi"
    assert "work_item" not in data
    assert "presence" not in data
    assert data["changes"] == [{"field": "body", "old_json": '"a"', "new_json": '"hi"'}]


def test_to_json_of_a_list_reply_keeps_the_field_names_and_seq():
    listing = commands_pb2.WorkItemList(items=[entities_pb2.WorkItem(id="a")], seq=12)

    assert to_json(listing)["seq"] == 12
    assert [item["id"] for item in to_json(listing)["items"]] == ["a"]


# -- arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["in_progress", "in-progress", "IN_PROGRESS", " In Progress "])
def test_enum_value_accepts_the_usual_spellings(text: str):
    assert enum_value(STATUS, text) == entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS
    assert enum_name(STATUS, entities_pb2.WORK_ITEM_STATUS_IN_PROGRESS) == "in_progress"
    assert enum_name(STATUS, 99) == "99"  # a value from a newer server


def test_enum_arg_refuses_an_unknown_name_listing_the_choices():
    with pytest.raises(argparse.ArgumentTypeError, match="not one of backlog, todo, in_progress"):
        enum_arg(STATUS)("finished")
    with pytest.raises(argparse.ArgumentTypeError):
        enum_arg(STATUS)("unspecified")


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("45m", 45), ("45", 45), ("1h30m", 90), ("1.5h", 90), ("2h 5m", 125), ("90s", 1.5)],
)
def test_parse_duration(text: str, minutes: float):
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "soon", "1x", "-5m", "0m", "1h-"])
def test_parse_duration_refuses_nonsense(text: str):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_parse_time_gives_aware_times():
    assert parse_time("2026-03-01T09:30:00+02:00") == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    local = parse_time("2026-03-01")
    assert local.tzinfo is not None
    assert (local.year, local.month, local.day, local.hour) == (2026, 3, 1, 0)
    assert abs(parse_time("now") - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_time("next tuesday")


def test_looks_like_id_tells_ids_from_names():
    assert looks_like_id("01a2019f-7a21-71ca-9ee4-05af94f7c312")
    assert not looks_like_id("Sprint 1")
    assert not looks_like_id("PM-12")


# -- human output ---------------------------------------------------------------------


def test_table_aligns_columns_and_keeps_cells_on_one_line():
    text = table(("key", "title"), [("PM-1", "Short"), ("PM-10", "Two\nlines " + "x" * 80)])

    lines = text.splitlines()
    assert lines[0] == "KEY    TITLE"
    assert lines[1] == "PM-1   Short"
    assert lines[2].startswith("PM-10  Two lines xxx")
    assert lines[2].endswith("…")
    assert len(lines[2]) == len("PM-10  ") + 60
    assert table(("key",), [], empty="no items") == "no items"


def test_every_registered_top_level_command_is_listed_in_commands():
    parser = argparse.ArgumentParser(prog="pm")
    commands = parser.add_subparsers(dest="command")

    cli.register(commands)

    assert set(commands.choices) == cli.COMMANDS


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_client_command_has_json_and_connection_options(command: str):
    parser = argparse.ArgumentParser(prog="pm")
    commands = parser.add_subparsers(dest="command")
    cli.register(commands)
    group = commands.choices[command]
    leaves = [group]
    for action in group._actions:
        if isinstance(action, argparse._SubParsersAction):
            leaves = list(action.choices.values())

    for leaf in leaves:
        options = {option for action in leaf._actions for option in action.option_strings}
        assert {"--json", "--url", "--token", "--timeout"} <= options, leaf.prog
