"""docs/operations.md's table of the export format, from the export's tables.

A row per table of :data:`pm_db.export.TABLES`, in export order: its columns
in order, each with what the model says of it (an enum's values, an integer's
range, the field's description; an extra column's note), and the columns that
refer to another table.
"""

from __future__ import annotations

import types
import typing
from enum import StrEnum
from typing import Any

import annotated_types

from pm_db.export import TABLES, Table
from tools.docs.blocks import cell, table


def _plain(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _constraints(annotation: Any, metadata: list[Any]) -> list[Any]:
    """The field's constraints: pydantic's own, or those of ``Annotated[X, ...] | None``."""
    if typing.get_origin(annotation) is typing.Annotated:
        for extra in typing.get_args(annotation)[1:]:
            metadata = [*metadata, *getattr(extra, "metadata", [extra])]
    return metadata


def _range(metadata: list[Any]) -> str:
    """``0-100`` for an integer with both bounds; "" otherwise."""
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
    return "" if low is None or high is None else f"{low}-{high}"


def _column(tab: Table, name: str) -> str:
    info = tab.model.model_fields.get(name)
    says: list[str] = []
    if info is None:
        says.append(tab.notes.get(name, ""))
    else:
        kind = _plain(info.annotation)
        metadata = _constraints(kind, info.metadata)
        if typing.get_origin(kind) is typing.Annotated:
            kind = typing.get_args(kind)[0]
        if isinstance(kind, type) and issubclass(kind, StrEnum):
            says.append(", ".join(f"`{member.value}`" for member in kind))
        elif kind is int and name != "version":
            says.append(_range(metadata))
        says.append(info.description or "")
    said = "; ".join(s for s in says if s)
    return f"`{name}`" + (f" ({said})" if said else "")


def export_table() -> str:
    rows = [
        (
            f"`{tab.name}`",
            cell(", ".join(_column(tab, name) for name in tab.columns)),
            ", ".join(f"`{column}` -> {target}" for column, target in tab.refs) or "none",
        )
        for tab in TABLES
    ]
    note = (
        "<!-- From pm_db/export.py's TABLES (the registry's entities, their models' fields) "
        "by make docs: edit those, not this table. -->"
    )
    return note + "\n\n" + table(("table", "columns (in order)", "references"), rows)
