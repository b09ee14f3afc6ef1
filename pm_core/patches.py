"""Typed patches: what an update asks to change, one optional field per updatable column.

A patch field left at :data:`UNSET` is not part of the change; ``None`` on a
nullable field is a change (it clears the field). Each entity's patch class is
declared in :mod:`pm_core.models`, beside its model (``WorkItemPatch`` after
``WorkItem``), so the one file holds both. Because each entity has its own
frozen patch class, ``mypy --strict`` refuses a misspelt or fixed field
(``WorkItemPatch(titel=...)``, ``SprintPatch(status=...)``) before anything runs.

A patch carries no constraint of its own: its field types are the model's, and
:func:`pm_core.validation.merge` re-validates the whole entity once the set
fields are applied. A repository's updatable fields are its patch's fields
(:meth:`Patch.field_names`), so the two never drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final


class Unset(enum.Enum):
    """The type of :data:`UNSET`. An enum of one member, so that mypy narrows
    ``value is UNSET`` and ``T | Unset`` to ``T`` in the other branch."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Not part of this change": distinct from None, which clears a nullable field.
UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class Patch:
    """The fields an update sets; subclasses declare each field as ``T | Unset = UNSET``."""

    def changes(self) -> Mapping[str, object]:
        """The set fields by name, in declaration order (None included: it clears)."""
        return {
            field.name: value
            for field in fields(self)
            if (value := getattr(self, field.name)) is not UNSET
        }

    def is_empty(self) -> bool:
        """True when the patch sets no field at all."""
        return all(getattr(self, field.name) is UNSET for field in fields(self))

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """Every field a patch of this class can set: the entity's updatable fields."""
        return frozenset(field.name for field in fields(cls))
