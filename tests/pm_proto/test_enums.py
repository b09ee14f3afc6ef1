"""StrEnum <-> pm.v1 enum tables: complete both ways, refusing what they do not know."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pm_core import enums as core_enums
from pm_core.enums import Role, WorkItemStatus
from pm_core.errors import ValidationError
from pm_proto import enums
from pm_proto.enums import EnumPair, from_pb_role, to_pb_work_item_status
from pm_proto.v1 import entities_pb2 as pb

# Every pair the module defines: a pair added there is checked here without a list to keep.
ENUM_PAIRS = [value for value in vars(enums).values() if isinstance(value, EnumPair)]
PAIR_IDS = [pair.enum.__name__ for pair in ENUM_PAIRS]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_core_enum_and_every_entities_enum_has_a_pair():
    core = {
        value
        for value in vars(core_enums).values()
        if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
    }
    assert {pair.enum for pair in ENUM_PAIRS} == core
    assert {pair.descriptor.full_name for pair in ENUM_PAIRS} == {
        enum.full_name for enum in pb.DESCRIPTOR.enum_types_by_name.values()
    }


@pytest.mark.parametrize("pair", ENUM_PAIRS, ids=PAIR_IDS)
def test_every_member_maps_to_the_same_named_value_and_back(pair: EnumPair[StrEnum, int]):
    prefix = snake(pair.descriptor.name).upper() + "_"
    for member in pair.enum:
        number = pair.to_pb(member)
        assert pair.descriptor.values_by_number[number].name == prefix + member.name
        assert pair.from_pb(number, "f") is member


@pytest.mark.parametrize("pair", ENUM_PAIRS, ids=PAIR_IDS)
def test_every_non_zero_protobuf_value_maps_back(pair: EnumPair[StrEnum, int]):
    numbers = [value.number for value in pair.descriptor.values if value.number != 0]
    assert sorted(numbers) == sorted(pair.to_pb(member) for member in pair.enum)
    for number in numbers:
        assert isinstance(pair.from_pb(number, "f"), pair.enum)


@pytest.mark.parametrize("pair", ENUM_PAIRS, ids=PAIR_IDS)
def test_unspecified_is_refused_naming_the_field(pair: EnumPair[StrEnum, int]):
    assert pair.descriptor.values_by_number[0].name.endswith("_UNSPECIFIED")
    with pytest.raises(ValidationError) as info:
        pair.from_pb(0, "status")
    assert info.value.field == "status"
    assert info.value.message == "status is required"


@pytest.mark.parametrize("pair", ENUM_PAIRS, ids=PAIR_IDS)
@given(number=st.integers(-(2**31), 2**31 - 1))
def test_unknown_numbers_are_refused_naming_the_field(pair: EnumPair[StrEnum, int], number: int):
    assume(number not in {value.number for value in pair.descriptor.values})
    with pytest.raises(ValidationError) as info:
        pair.from_pb(number, "type")
    assert info.value.field == "type"


@pytest.mark.parametrize("pair", ENUM_PAIRS, ids=PAIR_IDS)
def test_named_functions_exist_for_every_pair(pair: EnumPair[StrEnum, int]):
    name = snake(pair.enum.__name__)
    assert getattr(enums, f"to_pb_{name}") == pair.to_pb
    assert getattr(enums, f"from_pb_{name}") == pair.from_pb


def test_named_functions_convert():
    assert to_pb_work_item_status(WorkItemStatus.IN_REVIEW) == pb.WORK_ITEM_STATUS_IN_REVIEW
    assert from_pb_role(pb.ROLE_ADMIN, "role") is Role.ADMIN
    assert to_pb_work_item_status(WorkItemStatus("done")) == pb.WORK_ITEM_STATUS_DONE


def test_a_table_that_maps_zero_or_two_members_to_one_number_is_refused():
    with pytest.raises(ValueError, match="one-to-one"):
        EnumPair(Role, pb.Role.DESCRIPTOR, {Role.VIEWER: 1, Role.EDITOR: 1})
    with pytest.raises(ValueError, match="never use 0"):
        EnumPair(Role, pb.Role.DESCRIPTOR, {Role.VIEWER: 0})


def test_by_name_pairs_members_with_the_values_of_the_same_name_and_leaves_out_the_rest():
    class Grown(StrEnum):
        VIEWER = "viewer"
        OWNER = "owner"  # no ROLE_OWNER in the schema

    pair = EnumPair.by_name(Grown, pb.Role)
    assert pair.to_pb(Grown.VIEWER) == pb.ROLE_VIEWER
    assert pair.from_pb(pb.ROLE_VIEWER, "role") is Grown.VIEWER
    with pytest.raises(KeyError):
        pair.to_pb(Grown.OWNER)
    with pytest.raises(ValidationError):
        pair.from_pb(pb.ROLE_ADMIN, "role")
