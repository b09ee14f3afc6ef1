"""Export and import of a whole tenant as one versioned JSON document.

The format (``docs/operations.md`` describes it field by field)::

    {"format": "pm-tenant-export", "version": 1, "schema_version": 2,
     "exported_at": "...", "source": {"tenant_id": ..., "epoch": ..., "seq": ...},
     "meta": {"created_at": ...},
     "tables": {"users": [{column: value, ...}, ...], "projects": [...], ...}}

Every row of every board table is included, soft-deleted rows too, and the
whole activity log. Values are the stored ones: ids and times as the text the
database holds, ``users.is_tenant_admin`` as a boolean and the activity log's
``old_value``/``new_value`` as the JSON values they encode. The event log and
the idempotency keys are left out (they belong to the live tenant and its
epoch), and so is the epoch: an imported tenant gets its own.

Import validates the whole document before anything is written (format and
version, every column of every row through the pm_core model of its table,
unique ids, every reference), builds the new tenant in a private file in one
transaction and only then links it into place under the tenant's id, so a bad
file, or any failure, leaves no tenant behind. A document of an older schema
version holds the tables and columns of that version: a later table starts
empty, a later column takes its migration's default.

Sign-in secrets are never exported: accounts, refresh tokens, invitations and
API keys (``0006_identity.sql``) stay behind, so the users of an imported tenant
are invited again (docs/operations.md).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import pydantic

from pm_core import registry
from pm_core.enums import EntityType
from pm_core.errors import (
    FileAlreadyExistsError,
    InvalidFileError,
    MigrationError,
    NoSuchFileError,
    SchemaTooNewError,
    TenantExistsError,
    TenantNotFoundError,
)
from pm_core.keys import MAX_ITEM_NUMBER
from pm_core.models import ActivityEntry, Model
from pm_db.admin import check_database, read_facts, snapshot
from pm_db.codec import db_time, from_json, to_json, utc_now
from pm_db.migrator import load_migrations, migrate
from pm_db.paths import (
    DEFAULT_BUSY_TIMEOUT_MS,
    TenantPaths,
    connect,
    publish_new,
    remove_with_sidecars,
)

FORMAT: Final = "pm-tenant-export"
VERSION: Final = 1
#: tenant_meta keys carried by the export (the epoch is the tenant's own, never copied).
META_KEYS: Final = ("created_at",)
_TOP_LEVEL: Final = ("format", "version", "schema_version", "exported_at", "source", "meta")
_DB_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_META_MAX: Final = 100


@dataclass(frozen=True, slots=True)
class Table:
    """One exported table: its columns in schema order and what they mean."""

    name: str
    model: type[Model]
    columns: tuple[str, ...]
    #: (column, table) pairs: the column holds an id of that table (or null).
    refs: tuple[tuple[str, str], ...] = ()
    #: Columns that are not fields of the model, checked here instead.
    extra: tuple[str, ...] = ()
    #: What each extra column means (a model field says it in its description);
    #: docs/operations.md shows it.
    notes: Mapping[str, str] = field(default_factory=dict)
    #: JSON text in the database, the JSON value itself in the file.
    json_columns: tuple[str, ...] = ()
    #: 0/1 in the database, false/true in the file.
    bool_columns: tuple[str, ...] = ()
    select: str = field(init=False)
    #: The schema's convention: every ``*_at`` column is a time, and only those.
    time_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = ", ".join(self.columns)
        object.__setattr__(self, "select", f"SELECT {names} FROM {self.name} ORDER BY id")
        object.__setattr__(
            self, "time_columns", tuple(c for c in self.columns if c.endswith("_at"))
        )


_STAMPS: Final = ("version", "created_at", "updated_at", "deleted_at")
#: Columns of an entity's table that are no field of its model, each checked by ``_extra``,
#: with what they mean.
_EXTRA: Final[Mapping[EntityType, Mapping[str, str]]] = {
    EntityType.PROJECT: {
        "next_item_number": (
            "the number the next item gets; above every item number of the project"
        )
    }
}


def _entity_table(spec: registry.EntitySpec) -> Table:
    """A registry entity's table: ``id``, the model's own fields, the extras, the stamps."""
    fields = spec.model.model_fields
    extra = _EXTRA.get(spec.entity_type, {})
    return Table(
        spec.table,
        spec.model,
        (*(name for name in fields if name not in _STAMPS), *extra, *_STAMPS),
        refs=tuple((ref.field, registry.BY_TYPE[ref.target].table) for ref in spec.refs),
        extra=tuple(extra),
        notes=extra,
        bool_columns=tuple(name for name, info in fields.items() if info.annotation is bool),
    )


#: In an order that satisfies every reference between tables (the registry's).
TABLES: Final = (
    *(_entity_table(spec) for spec in registry.ENTITIES),
    Table(
        "activity_log",
        ActivityEntry,
        (
            "id",
            "project_id",
            "entity_type",
            "entity_id",
            "action",
            "field",
            "old_value",
            "new_value",
            "actor_id",
            "created_at",
        ),
        json_columns=("old_value", "new_value"),
    ),
)
TABLE_NAMES: Final = tuple(table.name for table in TABLES)


# -- export --------------------------------------------------------------------


def export_tenant(
    paths: TenantPaths, tenant_id: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> dict[str, Any]:
    """The tenant as an export document, read from one consistent snapshot.

    Safe while a server writes to the tenant (a read transaction in WAL mode).
    """
    path = paths.db_path(tenant_id)
    if not path.is_file():
        raise TenantNotFoundError(tenant_id)
    with snapshot(path, busy_timeout_ms) as conn:
        facts = read_facts(conn)
        newest = len(load_migrations())
        if facts.schema_version > newest:  # columns this code does not know would be lost
            raise SchemaTooNewError(facts.schema_version, newest)
        meta = dict(conn.execute("SELECT key, value FROM tenant_meta").fetchall())
        tables = {
            table.name: [_to_file(table, row) for row in conn.execute(table.select)]
            for table in TABLES
        }
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema_version": facts.schema_version,
        "exported_at": db_time(utc_now()),
        "source": {"tenant_id": tenant_id, "epoch": facts.epoch, "seq": facts.seq},
        "meta": {key: meta[key] for key in META_KEYS if key in meta},
        "tables": tables,
    }


def _to_file(table: Table, row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(table.columns, row, strict=True))
    for name in table.bool_columns:
        out[name] = bool(out[name])
    for name in table.json_columns:
        out[name] = from_json(out[name])
    return out


def dumps(document: Mapping[str, Any]) -> str:
    """The document as UTF-8 JSON text: one row per line, keys in schema order."""

    def encode(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)

    lines = ["{"]
    lines.extend(f" {encode(key)}: {encode(document[key])}," for key in _TOP_LEVEL)
    lines.append(' "tables": {')
    tables = document["tables"]
    for number, name in enumerate(tables):
        rows = tables[name]
        comma = "," if number < len(tables) - 1 else ""
        if not rows:
            lines.append(f"  {encode(name)}: []{comma}")
            continue
        lines.append(f"  {encode(name)}: [")
        lines.extend(f"   {encode(row)}," for row in rows[:-1])
        lines.append(f"   {encode(rows[-1])}")
        lines.append(f"  ]{comma}")
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_export(document: Mapping[str, Any], dest: Path, *, overwrite: bool = False) -> int:
    """Write the document to ``dest`` (via a temporary file and a rename); returns bytes written."""
    dest = Path(dest).absolute()
    if dest.exists() and not overwrite:
        raise FileAlreadyExistsError(dest)
    if not dest.parent.is_dir():
        raise NoSuchFileError(dest.parent)
    data = dumps(document).encode("utf-8")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return len(data)


# -- validation ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValidatedExport:
    """A document that passed every check, its rows in database form."""

    schema_version: int
    meta: dict[str, str]
    #: Per table, the columns it had at ``schema_version`` (those the rows hold, in order).
    columns: dict[str, tuple[str, ...]]
    rows: dict[str, list[tuple[Any, ...]]]

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items()}


def parse_export(data: str | bytes) -> ValidatedExport:
    """Decode and validate an export; any problem is one InvalidFileError naming where."""
    try:
        document = json.loads(data, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise InvalidFileError(f"not valid JSON: {_one_line(str(exc))}") from exc
    return validate_export(document)


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def validate_export(document: object) -> ValidatedExport:
    if not isinstance(document, dict):
        raise InvalidFileError("not a pm tenant export: the top level is not an object")
    if document.get("format") != FORMAT:
        raise InvalidFileError(
            f"not a pm tenant export: format is {_show(document.get('format'))}, "
            f"expected {FORMAT!r}"
        )
    version = document.get("version")
    if type(version) is not int or version != VERSION:
        raise InvalidFileError(
            f"export format version {_show(version)} is not supported; "
            f"this pm reads version {VERSION}"
        )
    _exact_keys(document, (*_TOP_LEVEL, "tables"), "the document")
    schema_version = _schema_version(document["schema_version"])
    if not isinstance(document["exported_at"], str):
        raise InvalidFileError("exported_at: must be a string")
    if not isinstance(document["source"], dict):
        raise InvalidFileError("source: must be an object")
    meta = _meta(document["meta"])
    tables = document["tables"]
    if not isinstance(tables, dict):
        raise InvalidFileError("tables: must be an object")
    # A table a later migration created is not in an older document: it starts empty.
    # A column a later migration added is not in its rows: it gets that migration's default.
    present = _columns_at(schema_version)
    _exact_keys(tables, tuple(name for name in TABLE_NAMES if name in present), "tables")

    columns = {
        table.name: tuple(c for c in table.columns if c in present.get(table.name, ()))
        for table in TABLES
    }
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        rows[table.name] = _table_rows(table, columns[table.name], tables.get(table.name, []))
    _check_references(rows)
    return ValidatedExport(
        schema_version=schema_version,
        meta=meta,
        columns=columns,
        rows={
            table.name: [tuple(row[c] for c in columns[table.name]) for row in rows[table.name]]
            for table in TABLES
        },
    )


def _columns_at(schema_version: int) -> dict[str, frozenset[str]]:
    """Each table of the schema at ``schema_version`` and its columns (migrations run in memory)."""
    conn = sqlite3.connect(":memory:")
    try:
        migrate(conn, load_migrations()[:schema_version])
        return {
            name: frozenset(row[1] for row in conn.execute(f"PRAGMA table_info({name})"))
            for name in _tables(conn)
        }
    finally:
        conn.close()


def _tables(conn: sqlite3.Connection) -> frozenset[str]:
    return frozenset(
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    )


def _schema_version(value: object) -> int:
    newest = len(load_migrations())
    if type(value) is not int or not 1 <= value <= newest:
        raise InvalidFileError(
            f"schema_version {_show(value)} is not one this pm can import (1 to {newest})"
        )
    return value


def _meta(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidFileError("meta: must be an object")
    _exact_keys(value, META_KEYS, "meta")
    for key, text in value.items():
        if not isinstance(text, str) or not 0 < len(text) <= _META_MAX or not text.isprintable():
            raise InvalidFileError(f"meta.{key}: must be a short single-line string")
    return dict(value)


def _table_rows(table: Table, columns: tuple[str, ...], rows: object) -> list[dict[str, Any]]:
    """The rows of one table, each holding exactly ``columns`` (the table's at the version)."""
    if not isinstance(rows, list):
        raise InvalidFileError(f"tables.{table.name}: must be a list of rows")
    fields = tuple(c for c in columns if c not in table.extra)
    seen: set[str] = set()
    out = []
    for index, raw in enumerate(rows):
        where = f"tables.{table.name}[{index}]"
        if not isinstance(raw, dict):
            raise InvalidFileError(f"{where}: a row must be an object")
        _exact_keys(raw, columns, where)
        for name in (c for c in table.time_columns if c in columns):
            value = raw[name]
            if value is not None and not (isinstance(value, str) and _DB_TIME.fullmatch(value)):
                raise InvalidFileError(
                    f"{where}.{name}: a time must be UTC text like 2026-11-22T10:00:00.000000Z"
                )
        try:
            model = table.model.model_validate_json(
                json.dumps({name: raw[name] for name in fields}), strict=True
            )
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            loc = ".".join(str(part) for part in first["loc"])
            raise InvalidFileError(f"{where}.{loc}: {first['msg']}") from exc
        row = _to_database(table, columns, model, raw, where)
        if row["id"] in seen:
            raise InvalidFileError(f"{where}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        out.append(row)
    return out


def _to_database(
    table: Table, columns: tuple[str, ...], model: Model, raw: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """The row as it is stored, taken from the validated model so it is in canonical form.

    Times are the file's text, already checked to be canonical (the model parsed
    the same text). Enums and booleans are bound as they are (a StrEnum binds as
    its value, a bool as 0/1).
    """
    values = model.model_dump()
    row: dict[str, Any] = {}
    for name in columns:
        if name in table.time_columns:
            row[name] = raw[name]
        elif name in table.json_columns:
            row[name] = to_json(values[name])
        elif name in table.extra:
            row[name] = _extra(table, name, raw[name], where)
        elif isinstance(values[name], date):  # a calendar date (times were handled above)
            row[name] = values[name].isoformat()
        else:
            row[name] = values[name]
    return row


def _extra(table: Table, name: str, value: Any, where: str) -> Any:
    if (table.name, name) == ("projects", "next_item_number"):
        if type(value) is not int or not 1 <= value <= MAX_ITEM_NUMBER + 1:
            raise InvalidFileError(
                f"{where}.next_item_number: must be an integer from 1 to {MAX_ITEM_NUMBER + 1}"
            )
        return value
    raise AssertionError(f"no check for {table.name}.{name}")  # pragma: no cover


def _check_references(rows: Mapping[str, list[dict[str, Any]]]) -> None:
    ids = {name: {row["id"] for row in table_rows} for name, table_rows in rows.items()}
    for table in TABLES:
        for index, row in enumerate(rows[table.name]):
            for column, target in table.refs:
                value = row.get(column)  # None too when the document predates the column
                if value is not None and value not in ids[target]:
                    raise InvalidFileError(
                        f"tables.{table.name}[{index}].{column}: refers to {target} id "
                        f"{value!r}, which is not in the file"
                    )
    highest: dict[str, int] = {}
    for item in rows["work_items"]:
        number = item["item_number"]
        highest[item["project_id"]] = max(highest.get(item["project_id"], 0), number)
    for index, project in enumerate(rows["projects"]):
        if project["next_item_number"] <= highest.get(project["id"], 0):
            raise InvalidFileError(
                f"tables.projects[{index}].next_item_number: must be above the project's "
                f"highest item number ({highest[project['id']]})"
            )


def _exact_keys(mapping: Mapping[str, Any], expected: tuple[str, ...], where: str) -> None:
    for name in expected:
        if name not in mapping:
            raise InvalidFileError(f"{where}: missing {name!r}")
    for name in mapping:
        if name not in expected:
            raise InvalidFileError(f"{where}: unknown key {_show(name)}")


def _show(value: object) -> str:
    """An untrusted value for a one-line message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- import --------------------------------------------------------------------


def import_tenant(paths: TenantPaths, tenant_id: str, data: str | bytes) -> ValidatedExport:
    """Create the new tenant ``tenant_id`` from an export; refuse an existing one.

    The whole document is validated first. The database is then built in a
    private file: migrated to the export's schema version, filled in one
    transaction, migrated to the newest schema, and hard-linked into place
    (which fails, atomically, if the tenant appeared meanwhile).
    """
    path = paths.db_path(tenant_id)
    if path.exists():
        raise TenantExistsError(tenant_id, "import into a new tenant id, or delete it first")
    validated = parse_export(data)
    paths.root.mkdir(parents=True, exist_ok=True)
    staging = paths.scratch("import", tenant_id)
    try:
        conn = connect(staging, create=True)
        try:
            # A private file until it is linked into place: no syncing while it is
            # built (a crash leaves only a scratch file), one fsync at the end.
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA journal_mode = MEMORY")
            conn.execute("PRAGMA foreign_keys = ON")
            migrations = load_migrations()
            migrate(conn, migrations[: validated.schema_version])
            _write(conn, validated)
            try:
                migrate(conn, migrations)
            except MigrationError as exc:
                raise InvalidFileError(
                    f"the rows of schema version {validated.schema_version} cannot be "
                    f"migrated to this pm's schema: {exc}"
                ) from exc
            check_database(conn, f"the imported tenant {tenant_id}")
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        publish_new(staging, path, tenant_id, "it was created while importing")
    finally:
        remove_with_sidecars(staging)
    return validated


def _write(conn: sqlite3.Connection, validated: ValidatedExport) -> None:
    """Replace every row of the fresh database (its seeded rows too) in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("PRAGMA defer_foreign_keys = ON")
        present = _tables(conn)  # the database is at the document's schema version
        for table in reversed(TABLES):
            if table.name in present:
                conn.execute(f"DELETE FROM {table.name}")
        for key, value in validated.meta.items():
            conn.execute(
                "INSERT INTO tenant_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        for table in TABLES:
            columns = validated.columns[table.name]
            marks = ", ".join("?" for _ in columns)
            insert = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            for index, row in enumerate(validated.rows[table.name]):
                try:
                    conn.execute(insert, row)
                except sqlite3.IntegrityError as exc:
                    raise InvalidFileError(
                        f"tables.{table.name}[{index}]: breaks a database constraint ({exc})"
                    ) from exc
        try:
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            raise InvalidFileError(f"the rows break a database constraint ({exc})") from exc
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
