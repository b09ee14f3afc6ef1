"""``pm label ...``: a project's labels (generated CRUD), and attaching them to items.

``create``, ``list``, ``update`` and ``delete`` are :mod:`pm_client.cli.crud`'s;
``attach`` and ``detach`` name the item by display key and the label by name
(any case) or id, and ``pm item list --label NAME`` filters by them.
"""

from __future__ import annotations

import argparse
from typing import Final

from pm_client.cli import crud
from pm_client.cli.exits import UsageError
from pm_client.cli.options import Subcommands
from pm_client.cli.output import Output, to_json
from pm_client.cli.session import Session
from pm_core.enums import EntityType
from pm_core.registry import BY_TYPE

ENTITY: Final = EntityType.LABEL
SPELLING: Final = crud.Spelling(
    name="label",
    help="labels: create, list, update, delete, attach, detach",
    description="a project's labels (name unique in the project ignoring case, colour "
    "`#rrggbb`); `attach ITEM LABEL` and `detach ITEM LABEL` name the label by name or id",
)


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    add = crud.register_entity(commands, common, BY_TYPE[ENTITY], SPELLING)
    for verb, handler, help_text in (
        ("attach", attach, "attach a label to an item"),
        ("detach", detach, "detach a label from an item"),
    ):
        p = add(verb, handler, help_text)
        p.add_argument("item", metavar="ITEM", help="display key (PM-12) or id")
        p.add_argument("label", metavar="LABEL", help="the label's name (any case) or id")


async def label_id(s: Session, project_id: str, ref: str) -> str:
    """The id of the project's label named ``ref`` (any case), or with id ``ref``."""
    labels = (await s.pm.list_labels(project_id=project_id)).labels
    for label in labels:
        if ref == label.id or label.name.casefold() == ref.casefold():
            return label.id
    raise UsageError(f"no label {ref!r} in this project")


async def attach(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.attach_label(
        work_item_id=item.id, label_id=await label_id(s, item.project_id, args.label)
    )
    return Output(to_json(reply.item_label), f"{item.display_key}: attached {args.label}")


async def detach(s: Session, args: argparse.Namespace) -> Output:
    item = await s.item(args.item)
    reply = await s.pm.detach_label(
        work_item_id=item.id, label_id=await label_id(s, item.project_id, args.label)
    )
    return Output(to_json(reply.item_label), f"{item.display_key}: detached {args.label}")
