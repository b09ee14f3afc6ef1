"""``pm lane ...``: swim lanes (board columns), generated from the schema under their own names.

Every verb is :mod:`pm_client.cli.crud`'s; this module only keeps the names the
command line has always had (``pm lane``, ``--wip``, ``--clear-wip``).
"""

from __future__ import annotations

import argparse
from typing import Final

from pm_client.cli import crud
from pm_client.cli.options import Subcommands
from pm_core.enums import EntityType
from pm_core.registry import BY_TYPE

ENTITY: Final = EntityType.SWIM_LANE
SPELLING: Final = crud.Spelling(
    name="lane",
    help="swim lanes (board columns): create, list, update, delete",
    description=(
        "swim lanes (board columns): one live lane per status, a project starts with one for "
        "each; `list --json` carries each lane's item count and whether it is over its WIP "
        "limit (`loads`)"
    ),
    options={"wip_limit": "--wip", "clear_wip_limit": "--clear-wip"},
)


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    crud.register_entity(commands, common, BY_TYPE[ENTITY], SPELLING)
