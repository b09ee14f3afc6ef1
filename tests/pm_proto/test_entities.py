"""Entities <-> pm.v1 messages: round trips, hostile content, dispatch, timestamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import assume, given
from hypothesis import strategies as st

from pm_core import enums as core_enums
from pm_core import models
from pm_core.errors import ValidationError
from pm_core.keys import MAX_ITEM_NUMBER
from pm_core.models import (
    ActivityEntry,
    Comment,
    Dependency,
    FieldChange,
    ItemLabel,
    Label,
    LlmContext,
    Model,
    Notification,
    Project,
    ProjectMember,
    Sprint,
    SwimLane,
    TimeEntry,
    User,
    Watch,
    Webhook,
    WorkItem,
)
from pm_core.text import (
    CATEGORY_MAX,
    COMMENT_MAX,
    CONTEXT_CONTENT_MAX,
    DESCRIPTION_MAX,
    EMAIL_MAX,
    NAME_MAX,
    TITLE_MAX,
)
from pm_core.validation import build
from pm_proto.activity import activity_entry_to_pb, field_change_to_pb
from pm_proto.entities import (
    ONEOF_FIELDS,
    comment_to_pb,
    dependency_to_pb,
    entity_to_pb,
    llm_context_to_pb,
    project_member_to_pb,
    project_to_pb,
    set_entity,
    sprint_to_pb,
    swim_lane_to_pb,
    time_entry_to_pb,
    to_pb,
    user_to_pb,
    webhook_to_pb,
    work_item_to_pb,
)
from pm_proto.timestamps import from_timestamp, get_time, to_timestamp
from pm_proto.v1 import entities_pb2 as pb
from pm_proto.v1 import envelope_pb2, events_pb2
from tests.pm_proto.converters import (
    activity_entry_from_pb,
    comment_from_pb,
    dependency_from_pb,
    field_change_from_pb,
    item_label_from_pb,
    label_from_pb,
    llm_context_from_pb,
    notification_from_pb,
    project_from_pb,
    project_member_from_pb,
    set_time,
    sprint_from_pb,
    swim_lane_from_pb,
    time_entry_from_pb,
    user_from_pb,
    watch_from_pb,
    webhook_from_pb,
    work_item_from_pb,
)

EMOJI, CJK = "\U0001f600", "\u6f22"
T0 = datetime(2026, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]

# ---- strategies -------------------------------------------------------------

# Text protobuf can carry (no lone surrogates) and the text rules accept.
ANY_TEXT = st.characters(codec="utf-8")
SINGLE_LINE = st.characters(codec="utf-8", exclude_categories=["Cc"])
MULTI_LINE = st.characters(codec="utf-8", exclude_categories=["Cc"], include_characters="\n\r\t")

times = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(ZONES),
)
ids = st.one_of(st.text(ANY_TEXT, min_size=1, max_size=20), st.sampled_from(["i" * 64, EMOJI * 64]))
versions = st.integers(1, 2**63 - 1)


def single_line(max_len: int, min_size: int = 1) -> st.SearchStrategy[str]:
    boundaries = [c * max_len for c in ("a", EMOJI, CJK)]
    return st.one_of(
        st.text(SINGLE_LINE, min_size=min_size, max_size=30), st.sampled_from(boundaries)
    )


def multi_line(max_len: int, min_size: int = 0) -> st.SearchStrategy[str]:
    boundaries = [EMOJI * max_len, CJK * max_len, "line\n\ttab\r\n" + "x" * (max_len - 11)]
    return st.one_of(
        st.text(MULTI_LINE, min_size=min_size, max_size=80), st.sampled_from(boundaries)
    )


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(ANY_TEXT),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(ANY_TEXT), inner, max_size=4)
    ),
    max_leaves=10,
)


def entities(model: type[Model], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid ``model``s with the versioned-entity fields plus ``fields``."""
    common = {
        "id": ids,
        "version": versions,
        "created_at": times,
        "updated_at": times,
        "deleted_at": opt(times),
    }
    return plain_models(model, **common, **fields)


def plain_models(model: type[Model], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    @st.composite
    def strategy(draw: st.DrawFn) -> Model:
        data = draw(st.fixed_dictionaries(fields))
        try:
            return build(model, data)
        except ValidationError:  # whitespace-only text the strategies let through
            assume(False)
            raise

    return strategy()


users = entities(
    User,
    display_name=single_line(NAME_MAX),
    email=opt(single_line(EMAIL_MAX, min_size=0)),
    is_tenant_admin=st.booleans(),
)
projects = entities(
    Project,
    key=st.from_regex(r"[A-Z][A-Z0-9]{1,9}", fullmatch=True),
    name=single_line(NAME_MAX),
    description=multi_line(DESCRIPTION_MAX),
    status=st.sampled_from(core_enums.ProjectStatus),
    created_by=ids,
)
members = entities(
    ProjectMember, project_id=ids, user_id=ids, role=st.sampled_from(core_enums.Role)
)
work_items = entities(
    WorkItem,
    project_id=ids,
    item_number=st.one_of(st.integers(1, 10**6), st.just(MAX_ITEM_NUMBER)),
    type=st.sampled_from(core_enums.WorkItemType),
    title=single_line(TITLE_MAX),
    description=multi_line(DESCRIPTION_MAX),
    status=st.sampled_from(core_enums.WorkItemStatus),
    priority=st.sampled_from(core_enums.Priority),
    story_points=opt(st.integers(0, 1000)),
    position=st.floats(allow_nan=False),
    parent_id=opt(ids),
    sprint_id=opt(ids),
    assignee_id=opt(ids),
    created_by=ids,
    start_date=opt(st.dates()),
    due_date=opt(st.dates()),
)
sprints = entities(
    Sprint,
    project_id=ids,
    name=single_line(NAME_MAX),
    goal=multi_line(DESCRIPTION_MAX),
    status=st.sampled_from(core_enums.SprintStatus),
    starts_at=opt(times),
    ends_at=opt(times),
)
comments = entities(
    Comment,
    project_id=ids,
    work_item_id=ids,
    author_id=ids,
    body=multi_line(COMMENT_MAX, min_size=1),
)
time_entries = entities(
    TimeEntry,
    project_id=ids,
    work_item_id=ids,
    user_id=ids,
    started_at=times,
    ended_at=opt(times),
    note=multi_line(DESCRIPTION_MAX),
)
dependencies = entities(
    Dependency,
    project_id=ids,
    from_item_id=ids,
    to_item_id=ids,
    type=st.sampled_from(core_enums.DependencyType),
    created_by=ids,
)
swim_lanes = entities(
    SwimLane,
    project_id=ids,
    name=single_line(NAME_MAX),
    status=st.sampled_from(core_enums.WorkItemStatus),
    position=st.integers(0, 2**31 - 1),
    wip_limit=opt(st.integers(1, 10_000)),
)
llm_contexts = entities(
    LlmContext,
    project_id=opt(ids),
    context_type=st.sampled_from(core_enums.LlmContextType),
    category=single_line(CATEGORY_MAX, min_size=0),
    title=single_line(TITLE_MAX),
    content=multi_line(CONTEXT_CONTENT_MAX, min_size=1),
    example_sql=opt(st.text(ANY_TEXT)),
    priority=st.integers(0, 100),
    created_by=opt(ids),
)
webhooks = entities(
    Webhook,
    name=single_line(100),
    url=st.text(ANY_TEXT, min_size=1, max_size=40),
    secret_hint=st.text(ANY_TEXT, max_size=5),
    project_ids=st.lists(ids, max_size=3).map(tuple),
    entity_types=st.lists(st.sampled_from(core_enums.EntityType), max_size=3).map(tuple),
    actions=st.lists(st.sampled_from(core_enums.Action), max_size=3).map(tuple),
    state=st.sampled_from(core_enums.WebhookState),
    acked_seq=st.integers(0, 2**62),
    consecutive_failures=st.integers(0, 2**31),
    last_error=opt(st.text(ANY_TEXT, max_size=20)),
    created_by=opt(ids),
)
labels = entities(
    Label,
    project_id=ids,
    name=single_line(NAME_MAX),
    color=st.from_regex(r"#[0-9a-f]{6}", fullmatch=True),
)
item_labels = entities(ItemLabel, project_id=ids, work_item_id=ids, label_id=ids, created_by=ids)
watches = entities(Watch, project_id=ids, work_item_id=ids, user_id=ids, watching=st.booleans())
notifications = entities(
    Notification,
    user_id=ids,
    project_id=ids,
    work_item_id=ids,
    comment_id=opt(ids),
    actor_id=ids,
    reason=st.sampled_from(core_enums.NotificationReason),
    seq=st.integers(1, 2**62),
    read_at=opt(times),
)
field_changes = plain_models(FieldChange, field=st.text(ANY_TEXT), old=json_values, new=json_values)
activity_entries = plain_models(
    ActivityEntry,
    id=ids,
    project_id=opt(ids),
    entity_type=st.sampled_from(core_enums.EntityType),
    entity_id=ids,
    action=st.sampled_from(core_enums.Action),
    field=opt(st.text(ANY_TEXT)),
    old_value=json_values,
    new_value=json_values,
    actor_id=opt(ids),
    created_at=times,
)


def _work_item_to_pb(item: WorkItem) -> pb.WorkItem:
    return work_item_to_pb(item, "PM")


def _label_to_pb(label: Label) -> pb.Label:
    return to_pb(label, pb.Label)


def _item_label_to_pb(attached: ItemLabel) -> pb.ItemLabel:
    return to_pb(attached, pb.ItemLabel)


def _watch_to_pb(watch: Watch) -> pb.Watch:
    return to_pb(watch, pb.Watch)


def _notification_to_pb(notification: Notification) -> pb.Notification:
    return to_pb(notification, pb.Notification)


# model class, strategy, to_pb, from_pb, message class
CASES: list[tuple[type[Model], Any, Callable[[Any], Message], Callable[[Any], Model], Any]] = [
    (User, users, user_to_pb, user_from_pb, pb.User),
    (Project, projects, project_to_pb, project_from_pb, pb.Project),
    (ProjectMember, members, project_member_to_pb, project_member_from_pb, pb.ProjectMember),
    (WorkItem, work_items, _work_item_to_pb, work_item_from_pb, pb.WorkItem),
    (Sprint, sprints, sprint_to_pb, sprint_from_pb, pb.Sprint),
    (Comment, comments, comment_to_pb, comment_from_pb, pb.Comment),
    (TimeEntry, time_entries, time_entry_to_pb, time_entry_from_pb, pb.TimeEntry),
    (Dependency, dependencies, dependency_to_pb, dependency_from_pb, pb.Dependency),
    (SwimLane, swim_lanes, swim_lane_to_pb, swim_lane_from_pb, pb.SwimLane),
    (LlmContext, llm_contexts, llm_context_to_pb, llm_context_from_pb, pb.LlmContext),
    (Label, labels, _label_to_pb, label_from_pb, pb.Label),
    (ItemLabel, item_labels, _item_label_to_pb, item_label_from_pb, pb.ItemLabel),
    (Watch, watches, _watch_to_pb, watch_from_pb, pb.Watch),
    (Notification, notifications, _notification_to_pb, notification_from_pb, pb.Notification),
    (FieldChange, field_changes, field_change_to_pb, field_change_from_pb, pb.FieldChange),
    (
        ActivityEntry,
        activity_entries,
        activity_entry_to_pb,
        activity_entry_from_pb,
        pb.ActivityEntry,
    ),
    (Webhook, webhooks, webhook_to_pb, webhook_from_pb, pb.Webhook),
]
CASE_IDS = [case[0].__name__ for case in CASES]


# ---- round trips ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_class", "strategy", "to_pb", "from_pb", "message_class"), CASES, ids=CASE_IDS
)
@given(data=st.data())
def test_entity_round_trips_through_the_wire_unchanged(
    model_class, strategy, to_pb, from_pb, message_class, data
):
    model = data.draw(strategy)
    wire = to_pb(model).SerializeToString()
    back = from_pb(message_class.FromString(wire))
    assert type(back) is model_class
    assert back == model
    for name in type(model).model_fields:
        value = getattr(back, name)
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0), name


def test_every_model_in_pm_core_has_a_converter():
    entity_classes = {
        cls for cls in vars(models).values() if isinstance(cls, type) and issubclass(cls, Model)
    } - {Model, models.Entity, models.StoredEvent}
    assert entity_classes == {case[0] for case in CASES}


# Model field -> message field where the names differ (values travel as JSON text).
RENAMED = {
    FieldChange: {"old": "old_json", "new": "new_json"},
    ActivityEntry: {"old_value": "old_json", "new_value": "new_json"},
}
# Derived when read: a work item's display key; an activity row's actor kind (the users table)
DERIVED = {WorkItem: {"display_key"}, ActivityEntry: {"actor_kind"}}


@pytest.mark.parametrize(
    ("model_class", "message_class"), [(c[0], c[4]) for c in CASES], ids=CASE_IDS
)
def test_message_and_model_have_the_same_fields(model_class, message_class):
    renamed = RENAMED.get(model_class, {})
    model_fields = {renamed.get(name, name) for name in model_class.model_fields}
    message_fields = {f.name for f in message_class.DESCRIPTOR.fields}
    assert message_fields - DERIVED.get(model_class, set()) == model_fields


def test_optional_fields_are_absent_on_the_wire_when_none():
    bare: Message = work_item_to_pb(WORK_ITEM, "PM")
    for name in ("story_points", "parent_id", "sprint_id", "assignee_id", "deleted_at"):
        assert not bare.HasField(name), name
    for name in ("start_date", "due_date"):
        assert not bare.HasField(name), name
    update = {"story_points": 0, "parent_id": "e1", "deleted_at": T0, "due_date": date(1, 1, 1)}
    full: Message = work_item_to_pb(WORK_ITEM.model_copy(update=update), "PM")
    for name in update:
        assert full.HasField(name), name


def test_zero_story_points_is_not_none():
    item = WORK_ITEM.model_copy(update={"story_points": 0})
    assert work_item_from_pb(work_item_to_pb(item, "PM")).story_points == 0


def test_field_change_values_travel_as_canonical_json():
    change = FieldChange(field="title", old={"b": 1, "a": [EMOJI, None]}, new=None)
    msg = field_change_to_pb(change)
    assert msg.old_json == '{"a":["\U0001f600",null],"b":1}'
    assert msg.new_json == "null"


def test_field_change_with_empty_json_reads_as_none():
    assert field_change_from_pb(pb.FieldChange(field="x")) == FieldChange(field="x")


# ---- work item display key --------------------------------------------------

WORK_ITEM = build(
    WorkItem,
    {
        "id": "w1",
        "created_at": T0,
        "updated_at": T0,
        "project_id": "p1",
        "item_number": 12,
        "type": "task",
        "title": "A task",
        "created_by": "u1",
    },
)


def test_work_item_display_key_is_project_key_and_number():
    assert work_item_to_pb(WORK_ITEM, "PM").display_key == "PM-12"


def test_work_item_without_project_key_has_empty_display_key():
    assert work_item_to_pb(WORK_ITEM, "").display_key == ""
    assert entity_to_pb(WORK_ITEM).display_key == ""  # type: ignore[attr-defined]


def test_work_item_with_invalid_project_key_is_refused():
    with pytest.raises(ValidationError) as info:
        work_item_to_pb(WORK_ITEM, "pm")
    assert info.value.field == "project_key"


def test_work_item_display_key_is_ignored_on_input():
    msg = work_item_to_pb(WORK_ITEM, "PM")
    msg.display_key = "garbage \x00"
    assert work_item_from_pb(msg) == WORK_ITEM


# ---- hostile content --------------------------------------------------------

USER = build(User, {"id": "u1", "created_at": T0, "updated_at": T0, "display_name": "Ann"})
PROJECT = build(
    Project,
    {
        "id": "p1",
        "created_at": T0,
        "updated_at": T0,
        "key": "PM",
        "name": "pm",
        "created_by": "u1",
    },
)


def _set(name: str, value: Any) -> Callable[[Any], None]:
    return lambda msg: setattr(msg, name, value)


def _clear(name: str) -> Callable[[Any], None]:
    return lambda msg: msg.ClearField(name)


def _set_seconds(name: str, seconds: int, nanos: int = 0) -> Callable[[Any], None]:
    def change(msg: Any) -> None:
        getattr(msg, name).seconds = seconds
        getattr(msg, name).nanos = nanos

    return change


# from_pb, a valid message, how to spoil it, the field the error must name
HOSTILE = [
    pytest.param(work_item_from_pb, WORK_ITEM, _set("type", 99), "type", id="unknown-type"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("type", -1), "type", id="negative-type"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("status", 0), "status", id="unset-status"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("priority", 77), "priority", id="unknown-prio"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("title", "a" * 501), "title", id="long-title"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("title", EMOJI * 501), "title", id="emoji"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("title", "a\x00b"), "title", id="nul-title"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("title", "  "), "title", id="blank-title"),
    pytest.param(
        work_item_from_pb,
        WORK_ITEM,
        _set("description", "x" * (DESCRIPTION_MAX + 1)),
        "description",
        id="long-description",
    ),
    pytest.param(
        work_item_from_pb, WORK_ITEM, _set("description", "\x00"), "description", id="nul-desc"
    ),
    pytest.param(
        work_item_from_pb, WORK_ITEM, _set("story_points", 1001), "story_points", id="points"
    ),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("item_number", 0), "item_number", id="num"),
    pytest.param(
        work_item_from_pb,
        WORK_ITEM,
        _set("item_number", MAX_ITEM_NUMBER + 1),
        "item_number",
        id="num-too-big",
    ),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("id", ""), "id", id="empty-id"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("id", "i" * 65), "id", id="long-id"),
    pytest.param(work_item_from_pb, WORK_ITEM, _set("version", 0), "version", id="version-0"),
    pytest.param(
        work_item_from_pb, WORK_ITEM, _clear("created_at"), "created_at", id="no-created-at"
    ),
    pytest.param(
        work_item_from_pb,
        WORK_ITEM,
        _set_seconds("updated_at", 10**15),
        "updated_at",
        id="time-out-of-range",
    ),
    pytest.param(
        work_item_from_pb,
        WORK_ITEM,
        _set_seconds("deleted_at", 0, -1),
        "deleted_at",
        id="negative-nanos",
    ),
    pytest.param(project_from_pb, PROJECT, _set("key", "pm"), "key", id="project-key"),
    pytest.param(project_from_pb, PROJECT, _set("status", 3), "status", id="project-status"),
    pytest.param(project_from_pb, PROJECT, _set("name", "a\nb"), "name", id="name-newline"),
    pytest.param(user_from_pb, USER, _set("display_name", ""), "display_name", id="user-name"),
    pytest.param(
        user_from_pb, USER, _set("email", "a" * (EMAIL_MAX + 1)), "email", id="long-email"
    ),
]


@pytest.mark.parametrize(("from_pb", "model", "spoil", "field"), HOSTILE)
def test_from_pb_of_hostile_content_names_the_field(from_pb, model, spoil, field):
    msg = entity_to_pb(model, project_key="PM")
    spoil(msg)
    with pytest.raises(ValidationError) as info:
        from_pb(type(msg).FromString(msg.SerializeToString()))
    assert info.value.field == field
    assert "\x00" not in info.value.message


@pytest.mark.parametrize("text", ["{", "nul\x00", "[1,", "NaN-ish", "'x'"])
def test_field_change_with_invalid_json_names_the_field(text):
    with pytest.raises(ValidationError) as info:
        field_change_from_pb(pb.FieldChange(field="x", old_json="1", new_json=text))
    assert info.value.field == "new_json"


def test_activity_entry_with_deeply_nested_json_is_refused_not_crashed():
    msg = activity_entry_to_pb(
        build(
            ActivityEntry,
            {
                "id": "a1",
                "project_id": None,
                "entity_type": "project",
                "entity_id": "p1",
                "action": "created",
                "actor_id": None,
                "created_at": T0,
            },
        )
    )
    msg.old_json = "[" * 100_000
    with pytest.raises(ValidationError) as info:
        activity_entry_from_pb(msg)
    assert info.value.field == "old_json"


# ---- dispatch -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_class", "strategy", "to_pb", "from_pb", "message_class"), CASES, ids=CASE_IDS
)
@given(data=st.data())
def test_entity_to_pb_dispatches_to_the_converter(
    model_class, strategy, to_pb, from_pb, message_class, data
):
    model = data.draw(strategy)
    assert entity_to_pb(model, project_key="PM") == to_pb(model)


def test_entity_to_pb_refuses_a_model_without_a_message():
    with pytest.raises(TypeError):
        entity_to_pb(models.StoredEvent(seq=1, project_id=None, payload=b"", created_at=T0))


@pytest.mark.parametrize("owner_class", [events_pb2.Event, envelope_pb2.Error])
@pytest.mark.parametrize(
    ("model_class", "strategy"),
    [(c[0], c[1]) for c in CASES if c[0] in ONEOF_FIELDS],
    ids=[c[0].__name__ for c in CASES if c[0] in ONEOF_FIELDS],
)
@given(data=st.data())
def test_set_entity_fills_the_matching_oneof_field(owner_class, model_class, strategy, data):
    model = data.draw(strategy)
    owner = owner_class()
    set_entity(owner, model, project_key="PM")
    oneof = owner.DESCRIPTOR.fields_by_name[ONEOF_FIELDS[model_class]].containing_oneof.name
    assert owner.WhichOneof(oneof) == ONEOF_FIELDS[model_class]
    parsed = owner_class.FromString(owner.SerializeToString())
    assert getattr(parsed, ONEOF_FIELDS[model_class]) == entity_to_pb(model, project_key="PM")


@pytest.mark.parametrize(
    ("owner_class", "oneof"), [(events_pb2.Event, "entity"), (envelope_pb2.Error, "current")]
)
def test_oneof_field_names_match_the_schema(owner_class, oneof):
    fields = owner_class.DESCRIPTOR.oneofs_by_name[oneof].fields
    entity_fields = {f.name: f.message_type.name for f in fields if f.name != "presence"}
    assert entity_fields == {name: cls.__name__ for cls, name in ONEOF_FIELDS.items()}


def test_set_entity_puts_the_display_key_on_a_work_item():
    event = events_pb2.Event()
    set_entity(event, WORK_ITEM, project_key="PM")
    assert event.work_item.display_key == "PM-12"


@pytest.mark.parametrize("model", [USER, FieldChange(field="x")])
def test_set_entity_refuses_a_model_outside_the_oneof(model):
    with pytest.raises(TypeError):
        set_entity(events_pb2.Event(), model)


# ---- timestamps -------------------------------------------------------------


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(ZONES),
    )
)
def test_timestamp_round_trip_keeps_the_instant_in_utc(dt):
    back = from_timestamp(Timestamp.FromString(to_timestamp(dt).SerializeToString()))
    assert back == dt
    assert back.utcoffset() == timedelta(0)
    assert back.microsecond == dt.microsecond


@given(st.datetimes(timezones=st.just(UTC)))
def test_to_timestamp_agrees_with_protobuf(dt):
    expected = Timestamp()
    expected.FromDatetime(dt)
    assert to_timestamp(dt) == expected


def test_to_timestamp_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="aware"):
        to_timestamp(datetime(2026, 1, 1))


def test_from_timestamp_truncates_nanoseconds_to_microseconds():
    dt = from_timestamp(Timestamp(seconds=-1, nanos=999_999_999))
    assert dt == datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(253_402_300_800, 0), (-62_135_596_801, 0), (2**62, 0), (0, 1_000_000_000), (0, -1)],
)
def test_from_timestamp_out_of_range_is_a_validation_error(seconds, nanos):
    with pytest.raises(ValidationError) as info:
        from_timestamp(Timestamp(seconds=seconds, nanos=nanos), "starts_at")
    assert info.value.field == "starts_at"


def test_from_timestamp_accepts_the_whole_protobuf_range():
    assert from_timestamp(Timestamp(seconds=-62_135_596_800)) == datetime(1, 1, 1, tzinfo=UTC)
    last = from_timestamp(Timestamp(seconds=253_402_300_799, nanos=999_999_999))
    assert last == datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def test_set_time_and_get_time_map_none_to_absent():
    msg = pb.Sprint()
    assert get_time(msg, "starts_at") is None
    set_time(msg, "starts_at", T0)
    assert msg.HasField("starts_at")
    assert get_time(msg, "starts_at") == T0
    set_time(msg, "starts_at", None)
    assert not msg.HasField("starts_at")


def test_epoch_is_a_present_timestamp_not_an_absent_one():
    msg = pb.Sprint()
    set_time(msg, "starts_at", datetime(1970, 1, 1, tzinfo=UTC))
    parsed = pb.Sprint.FromString(msg.SerializeToString())
    assert get_time(parsed, "starts_at") == datetime(1970, 1, 1, tzinfo=UTC)
