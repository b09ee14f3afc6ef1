"""Every entity is complete in every place that lists the entities, and the failure says where.

The checks are parametrised by ``EntityType`` member (and by command), so a new
entity gets test ids of its own, and each failure names the entity and the
file to edit. They follow the checklist in docs/architecture.md; the places
derived from the registry (export tables, live-row lookup, entity oneof
fields, the EntityType enum pair) are checked here too, so that the checks
still hold if one of them is ever written by hand again.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sqlite3
import sys
import types
import typing
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from pydantic import AwareDatetime

from pm_client.cli import runner
from pm_core import registry
from pm_core.enums import EntityType
from pm_core.models import Entity
from pm_core.registry import EntitySpec
from pm_db.cascades import Cascades
from pm_db.codec import db_time
from pm_db.export import TABLES
from pm_db.migrator import load_migrations, migrate
from pm_db.repositories.live_rows import LiveRowRepository
from pm_db.unit_of_work import UnitOfWork
from pm_proto import entities as pb_entities
from pm_proto import enums as pb_enums
from pm_proto.timestamps import from_timestamp
from pm_proto.v1 import entities_pb2, envelope_pb2, events_pb2

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
STAMPS = ("id", "version", "created_at", "updated_at", "deleted_at")
#: Commands of the session rather than the board: the CLI has no group for them.
SESSION_COMMANDS = frozenset(
    {"join_presence", "leave_presence", "list_presence", "unsubscribe", "reauthenticate"}
)
COMMANDS = [f.name for f in envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields]


def spec_for(entity_type: EntityType) -> EntitySpec:
    spec = registry.BY_TYPE.get(entity_type)
    if spec is None:
        pytest.fail(
            f"EntityType.{entity_type.name} has no entry in pm_core/registry.py: add "
            f'EntitySpec(EntityType.{entity_type.name}, <its model>, "<its table>", <refs>) '
            "to ENTITIES"
        )
    return spec


every_entity_type = pytest.mark.parametrize(
    "entity_type", list(EntityType), ids=lambda t: str(t.value)
)


@pytest.fixture(scope="module")
def schema() -> Iterator[sqlite3.Connection]:
    """A database with every migration applied; foreign keys off so sample rows stand alone."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row  # as the tenant's connections have it
    migrate(conn, load_migrations())
    conn.execute("PRAGMA foreign_keys = OFF")
    yield conn
    conn.close()


def columns_of(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))


@contextlib.contextmanager
def schema_names_missing() -> Iterator[None]:
    """A statement built from the registry that fails on the schema names what is missing."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if not str(exc).startswith(("no such table", "no such column")):
            raise
        pytest.fail(
            f"the schema lacks what pm_core/registry.py names ({exc}): add it in a migration "
            "in pm_db/migrations/"
        )


# -- sample values: one of each field, built from the model's annotations ---------


def _plain(annotation: Any) -> Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (annotation,) = (arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def sample(spec: EntitySpec) -> Entity:
    """A row of the entity with every field set (not validated: only its shape matters).

    Values differ per field so checks such as ``from_item_id <> to_item_id`` hold,
    and times grow in field order so ``starts_at < ends_at`` holds.
    """
    values: dict[str, Any] = {}
    for number, (name, info) in enumerate(spec.model.model_fields.items()):
        kind = _plain(info.annotation)
        if kind in (datetime, AwareDatetime):
            values[name] = T0 + timedelta(seconds=number)
        elif name == "color":  # a colour is #rrggbb
            values[name] = f"#{number:06x}"
        elif kind is date:
            values[name] = (T0 + timedelta(days=number)).date()
        elif isinstance(kind, type) and issubclass(kind, StrEnum):
            values[name] = next(iter(kind))
        elif kind is bool:
            values[name] = True
        elif kind is int:
            values[name] = number + 1
        elif kind is float:
            values[name] = number + 0.5
        else:
            values[name] = f"{name}-{spec.name}"
    values["deleted_at"] = None
    return spec.model.model_construct(**values)


def insert(conn: sqlite3.Connection, spec: EntitySpec, row: Entity) -> None:
    """Store ``row`` in the entity's table; columns the model lacks get a small integer."""
    columns = columns_of(conn, spec.table)
    if not columns:
        pytest.fail(
            f"the schema has no table {spec.table!r} (pm_core/registry.py names it): add a "
            f"migration pm_db/migrations/NNNN_{spec.table}.sql that creates it"
        )
    values: dict[str, Any] = {}
    for column in columns:
        if column not in spec.model.model_fields:
            values[column] = 2
            continue
        value = getattr(row, column)
        if isinstance(value, datetime):
            value = db_time(value)
        elif isinstance(value, date):
            value = value.isoformat()
        values[column] = value
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    conn.execute(f"INSERT INTO {spec.table} ({names}) VALUES ({marks})", values)


# -- pm_core: the registry itself ------------------------------------------------


@every_entity_type
def test_every_entity_type_has_a_registry_entry(entity_type: EntityType) -> None:
    spec = spec_for(entity_type)
    assert issubclass(spec.model, Entity), (
        f"pm_core/registry.py: the model of EntityType.{entity_type.name} must be an Entity "
        "(pm_core/models.py): id, version and the three times"
    )


def test_registry_names_each_entity_model_and_table_once() -> None:
    for what in ("entity_type", "model", "table"):
        values = [getattr(spec, what) for spec in registry.ENTITIES]
        twice = {v for v in values if values.count(v) > 1}
        assert not twice, f"pm_core/registry.py: ENTITIES repeats the {what} {twice}"


@every_entity_type
def test_registry_refs_are_fields_pointing_back(entity_type: EntityType) -> None:
    spec = spec_for(entity_type)
    earlier = {s.entity_type for s in registry.ENTITIES[: registry.ENTITIES.index(spec) + 1]}
    for ref in spec.refs:
        assert ref.field in spec.model.model_fields, (
            f"pm_core/registry.py: EntityType.{entity_type.name} refers through {ref.field!r}, "
            f"which is no field of {spec.model.__name__}"
        )
        assert ref.target in earlier, (
            f"pm_core/registry.py: EntityType.{entity_type.name} refers to "
            f"EntityType.{ref.target.name}, which must come before it in ENTITIES "
            "(import fills the tables in that order)"
        )


# -- pm_db: the schema, the export, the unit of work, the live-row lookup --------


@every_entity_type
def test_schema_has_the_entity_table_with_the_model_fields(
    entity_type: EntityType, schema: sqlite3.Connection
) -> None:
    spec = spec_for(entity_type)
    columns = columns_of(schema, spec.table)
    assert columns, (
        f"EntityType.{entity_type.name}: the schema has no table {spec.table!r}: add a migration "
        f"pm_db/migrations/NNNN_{spec.table}.sql that creates it"
    )
    for name in (*STAMPS, *spec.model.model_fields):
        assert name in columns, (
            f"EntityType.{entity_type.name}: table {spec.table!r} has no column {name!r}; "
            f"every field of {spec.model.__name__} (and {', '.join(STAMPS)}) needs one: "
            "add it in a migration in pm_db/migrations/"
        )
    (table,) = (t for t in TABLES if t.name == spec.table)
    for name in columns:
        assert name in spec.model.model_fields or name in table.extra, (
            f"EntityType.{entity_type.name}: column {spec.table}.{name} is no field of "
            f"{spec.model.__name__}: add the field in pm_core/models.py, or list the column in "
            "_EXTRA in pm_db/export.py and check its values in _extra()"
        )


@every_entity_type
def test_registry_refs_are_the_schema_foreign_keys(
    entity_type: EntityType, schema: sqlite3.Connection
) -> None:
    spec = spec_for(entity_type)
    keys = schema.execute(f"PRAGMA foreign_key_list({spec.table})").fetchall()
    foreign = {(row[3], row[2]) for row in keys}
    declared = {(ref.field, registry.BY_TYPE[ref.target].table) for ref in spec.refs}
    for column, table in sorted(foreign - declared):
        pytest.fail(
            f"EntityType.{entity_type.name}: {spec.table}.{column} references {table} in the "
            f"schema: add Ref({column!r}, EntityType.<...>) to its entry in pm_core/registry.py"
        )
    for column, table in sorted(declared - foreign):
        pytest.fail(
            f"EntityType.{entity_type.name}: pm_core/registry.py says {column!r} refers to "
            f"{table}, but {spec.table}.{column} has no REFERENCES {table} (id) in the schema "
            "(pm_db/migrations/)"
        )
    cascading = {row[3] for row in keys if row[6] == "CASCADE"}
    for ref in spec.refs:
        assert ref.cascade == (ref.field in cascading), (
            f"EntityType.{entity_type.name}: {spec.table}.{ref.field} is "
            f"{'' if ref.field in cascading else 'not '}ON DELETE CASCADE in the schema, so its "
            f"Ref in pm_core/registry.py needs cascade={ref.field in cascading}"
        )


@every_entity_type
def test_export_has_the_entity_table(entity_type: EntityType) -> None:
    spec = spec_for(entity_type)
    tables = {table.name: table for table in TABLES}
    assert spec.table in tables, (
        f"EntityType.{entity_type.name} has no export table: add {spec.table!r} to TABLES "
        "in pm_db/export.py"
    )
    assert tables[spec.table].model is spec.model


@every_entity_type
def test_unit_of_work_has_a_repository(entity_type: EntityType) -> None:
    """Each repository module says which entity it stores in ``ENTITY`` (its error name)."""
    served = {}
    for name, member in vars(UnitOfWork).items():
        if isinstance(member, cached_property):
            repository = typing.get_type_hints(member.func)["return"]
            served[getattr(sys.modules[repository.__module__], "ENTITY", None)] = name
    assert entity_type in served, (
        f"EntityType.{entity_type.name} has no repository in pm_db/unit_of_work.py: add a "
        "cached_property returning the repository of its module in pm_db/repositories/ "
        f"(whose ENTITY is EntityType.{entity_type.name})"
    )


@every_entity_type
def test_live_row_lookup_finds_the_row_and_its_project(
    entity_type: EntityType, schema: sqlite3.Connection
) -> None:
    spec = spec_for(entity_type)
    row = sample(spec)
    lookup = LiveRowRepository(schema)
    schema.execute("BEGIN")
    try:
        with schema_names_missing():
            insert(schema, spec, row)
            live = lookup.find(entity_type, row.id)
            assert live is not None, f"pm_db/repositories/live_rows.py finds no {spec.name} row"
            field = spec.project_field
            assert live.project_id == (None if field is None else getattr(row, field))
            schema.execute(f"UPDATE {spec.table} SET deleted_at = ? WHERE id = ?", ("x", row.id))
            assert lookup.find(entity_type, row.id) is None
            assert lookup.find(entity_type, "missing") is None
    finally:
        schema.execute("ROLLBACK")


@every_entity_type
def test_deleting_what_a_row_refers_to_with_cascade_deletes_the_row(
    entity_type: EntityType, schema: sqlite3.Connection
) -> None:
    spec = spec_for(entity_type)
    cascades = Cascades(schema, T0 + timedelta(days=1))
    delete = {
        EntityType.PROJECT: cascades.delete_project_rows,
        EntityType.WORK_ITEM: cascades.delete_item_rows,
    }
    for ref in spec.refs:
        if not ref.cascade or ref.target not in delete:
            continue
        row = sample(spec).model_copy(update={ref.field: "deleted-target"})
        schema.execute("BEGIN")
        try:
            with schema_names_missing():
                insert(schema, spec, row)
                changed = delete[ref.target]("deleted-target")
            assert [(t, e.id) for t, e in changed] == [(entity_type, row.id)], (
                f"deleting a {ref.target.value} leaves the {spec.name} rows whose "
                f"{ref.field} names it: pm_db/cascades.py derives its statements from the "
                "refs with cascade=True in pm_core/registry.py"
            )
            assert changed[0][1].deleted_at is not None
        finally:
            schema.execute("ROLLBACK")


# -- pm_proto: the schema's message, enum value and oneof fields; the converter --


@every_entity_type
def test_proto_has_the_entity_message_and_type_value(entity_type: EntityType) -> None:
    spec = spec_for(entity_type)
    proto = "proto/pm_proto/v1/entities.proto"
    message = spec.model.__name__
    assert message in entities_pb2.DESCRIPTOR.message_types_by_name, (
        f"EntityType.{entity_type.name}: add message {message} to {proto}, then run make proto"
    )
    value = f"ENTITY_TYPE_{entity_type.name}"
    assert value in entities_pb2.EntityType.DESCRIPTOR.values_by_name, (
        f"EntityType.{entity_type.name}: add {value} to enum EntityType in {proto}, "
        "then run make proto"
    )
    assert pb_enums.from_pb_entity_type(pb_enums.to_pb_entity_type(entity_type), "t") is (
        entity_type
    )


@every_entity_type
def test_converter_carries_every_field(entity_type: EntityType) -> None:
    spec = spec_for(entity_type)
    row = sample(spec)
    try:
        message = pb_entities.entity_to_pb(row, project_key="PM")
    except TypeError as exc:
        if "no protobuf message" not in str(exc):
            raise
        pytest.fail(
            f"EntityType.{entity_type.name}: pm_proto has no message for {spec.model.__name__}: "
            f"add message {spec.model.__name__} to proto/pm_proto/v1/entities.proto and run "
            "make proto (pm_proto/entities.py converts it field by field, no edit there)"
        )
    assert type(message).__name__ == spec.model.__name__
    pairs = {p.enum: p for p in vars(pb_enums).values() if isinstance(p, pb_enums.EnumPair)}
    for name in spec.model.model_fields:
        value = getattr(row, name)
        if value is None:
            assert not message.HasField(name), name
            continue
        sent = getattr(message, name)
        if isinstance(value, datetime):
            sent = from_timestamp(sent)
        elif isinstance(value, date):
            sent = date.fromisoformat(sent)
        elif isinstance(value, StrEnum):
            sent = pairs[type(value)].from_pb(sent, name)
        assert sent == value, (
            f"EntityType.{entity_type.name}: the {spec.model.__name__} message does not carry "
            f"{name}: give its field in proto/pm_proto/v1/entities.proto the model field's name"
        )


@every_entity_type
@pytest.mark.parametrize(
    ("owner", "oneof", "where"),
    [
        (events_pb2.Event, "entity", "proto/pm_proto/v1/events.proto"),
        (envelope_pb2.Error, "current", "proto/pm_proto/v1/envelope.proto"),
    ],
    ids=["Event.entity", "Error.current"],
)
def test_published_entity_has_its_oneof_fields(
    entity_type: EntityType, owner: Any, oneof: str, where: str
) -> None:
    spec = spec_for(entity_type)
    fields = {f.name: f for f in owner.DESCRIPTOR.oneofs_by_name[oneof].fields}
    message = spec.model.__name__
    if not spec.published:
        assert spec.name not in fields, (
            f"{where} has {owner.__name__}.{spec.name}, but pm_core/registry.py says "
            f"EntityType.{entity_type.name} is not published (published=False)"
        )
        return
    assert spec.name in fields, (
        f"EntityType.{entity_type.name} is published but {owner.__name__} cannot carry it: add "
        f"`{message} {spec.name} = N;` to `oneof {oneof}` of message {owner.__name__} in "
        f"{where}, then run make proto"
    )
    assert fields[spec.name].message_type.name == message
    assert pb_entities.ONEOF_FIELDS[spec.model] == spec.name


@every_entity_type
def test_published_entity_is_carried_by_a_reply(entity_type: EntityType) -> None:
    spec = spec_for(entity_type)
    if not spec.published:
        return
    carried = {
        field.message_type.name
        for reply in envelope_pb2.Reply.DESCRIPTOR.oneofs_by_name["result"].fields
        if reply.message_type is not None
        for field in reply.message_type.fields
        if field.message_type is not None
    }
    assert spec.model.__name__ in carried, (
        f"EntityType.{entity_type.name}: no reply carries a {spec.model.__name__}: add its "
        "commands and replies to proto/pm_proto/v1/commands.proto and to ClientMessage.command "
        "and Reply.result in proto/pm_proto/v1/envelope.proto, then run make proto"
    )


# -- every command: a handler (tests/pm_server), a CLI command ------------------------
# (the docs' rows are generated: tests/test_docs_generated.py)


def _cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pm")
    runner.register(parser.add_subparsers(dest="command"))
    return parser


def _leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
    for action in subs:
        for child in dict(action.choices).values():
            yield from _leaves(child)


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - SESSION_COMMANDS))
def test_every_board_command_is_reachable_from_the_cli(command: str) -> None:
    generated = {leaf._defaults.get("sends") for leaf in _leaves(_cli_parser())}
    sources = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "pm_client" / "cli").glob("*.py")
    )
    assert command in generated or re.search(rf"\.{command}\(", sources), (
        f"the pm command line never sends `{command}`: name it create_/get_/update_/delete_"
        "<entity> or list_<entities> (its reply carrying the entity) and the entity's generated "
        "group sends it (pm_client/cli/crud.py), or add a sub-command for it in a group module "
        "of pm_client/cli/"
    )


@every_entity_type
def test_every_entity_with_a_create_command_has_a_cli_group(entity_type: EntityType) -> None:
    """A group module of its own (``ENTITY``) names its group; otherwise it is generated."""
    spec = spec_for(entity_type)
    owned = any(getattr(m, "ENTITY", None) is entity_type for m in runner.group_modules())
    if f"create_{spec.name}" not in COMMANDS or owned:
        return
    groups = {leaf.prog.split()[1] for leaf in _leaves(_cli_parser())}
    assert spec.name.replace("_", "-") in groups, (
        f"EntityType.{entity_type.name} has create_{spec.name} but no `pm` group: "
        "pm_client/cli/runner.py should generate it (pm_client/cli/crud.py)"
    )
