"""Generated CLI groups: an entity's create/list/get/update/delete from the command descriptors."""

from __future__ import annotations

import argparse
from typing import cast

import pytest

from pm_client.cli import crud, lanes, runner
from pm_client.cli.session import Session
from pm_core.enums import EntityType
from pm_core.registry import BY_TYPE
from pm_proto.v1 import commands_pb2, entities_pb2

LANES = BY_TYPE[EntityType.SWIM_LANE]


def generated_parser(spelling: crud.Spelling | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pm")
    crud.register_entity(
        parser.add_subparsers(dest="command"), runner.common_options(), LANES, spelling
    )
    return parser


def test_an_entity_without_a_group_module_gets_a_generated_group(monkeypatch):
    """Swim lanes with lanes.py gone: `pm swim-lane` comes from the registry and the schema."""
    modules = [m for m in runner.group_modules() if m is not lanes]
    monkeypatch.setattr(runner, "group_modules", lambda: modules)
    parser = argparse.ArgumentParser(prog="pm")
    commands = parser.add_subparsers(dest="command")

    runner.register(commands)

    assert "swim-lane" in commands.choices
    assert "lane" not in commands.choices
    args = parser.parse_args(["swim-lane", "delete", "L1", "--version", "3"])
    assert (args.sends, args.lane_id, args.expected_version) == ("delete_swim_lane", "L1", 3)


def test_generated_verbs_are_the_crud_commands_of_the_schema():
    assert {verb: c.name for verb, c in crud.verbs(LANES).items()} == {
        "create": "create_swim_lane",
        "list": "list_swim_lanes",
        "update": "update_swim_lane",
        "delete": "delete_swim_lane",
    }


def test_generated_create_takes_the_name_and_an_option_per_field():
    args = generated_parser().parse_args(
        ["swim-lane", "create", "Blocked", "--status", "in_review", "--wip-limit", "3", "-p", "PM"]
    )
    assert (args.name, args.status, args.wip_limit, args.project) == (
        "Blocked",
        entities_pb2.WORK_ITEM_STATUS_IN_REVIEW,
        3,
        "PM",
    )
    assert args.position is None


def test_generated_options_refuse_an_unknown_enum_name():
    with pytest.raises(SystemExit) as exited:
        generated_parser().parse_args(["swim-lane", "create", "X", "--status", "doing"])
    assert exited.value.code == 2


def test_a_value_and_its_clear_flag_exclude_each_other():
    with pytest.raises(SystemExit) as exited:
        generated_parser().parse_args(
            ["swim-lane", "update", "L1", "--wip-limit", "3", "--clear-wip-limit"]
        )
    assert exited.value.code == 2


async def test_generated_update_sends_only_what_was_given():
    args = generated_parser().parse_args(
        ["swim-lane", "update", "L1", "--name", "Waiting", "--clear-wip-limit"]
    )
    command = crud.verbs(LANES)["update"]

    message = await crud.build(cast(Session, None), command, args)

    assert message == commands_pb2.UpdateSwimLane(
        lane_id="L1", name="Waiting", clear_wip_limit=True
    )
    assert not message.HasField("position")
    assert not message.HasField("status")


def test_a_spelling_renames_the_group_and_its_options():
    parser = generated_parser(lanes.SPELLING)
    args = parser.parse_args(["lane", "update", "L1", "--wip", "4"])
    assert args.wip_limit == 4
    with pytest.raises(SystemExit):
        parser.parse_args(["lane", "update", "L1", "--wip-limit", "4"])
