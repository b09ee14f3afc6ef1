"""The doc tables generated from the code are current, and the generator names what it lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from pm_client.cli import runner
from pm_db.export import TABLES
from pm_proto.v1 import envelope_pb2
from tools.docs import blocks, protocol
from tools.docs.blocks import DocError
from tools.docs.commandline import command_line_table
from tools.docs.exports import export_table
from tools.docs.writer import BLOCKS, FILES, generated

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [f.name for f in envelope_pb2.ClientMessage.DESCRIPTOR.oneofs_by_name["command"].fields]


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    try:
        return generated(ROOT)
    except DocError as exc:
        pytest.fail(str(exc))


@pytest.mark.parametrize("path", sorted([*BLOCKS, *FILES]))
def test_committed_doc_tables_are_what_the_generator_writes(
    path: str, fresh: dict[str, str]
) -> None:
    committed = (ROOT / path).read_text(encoding="utf-8")
    assert committed == fresh[path], (
        f"{path}: a generated table is stale: run make proto (or make docs), which rewrites it "
        "from the schema's comments, the export tables and the CLI's parsers"
    )


def test_protocol_table_has_a_row_for_every_command() -> None:
    text = protocol.commands_table(ROOT)
    for command in COMMANDS:
        assert f"| `{command}` |" in text, command


def test_export_table_has_a_row_for_every_exported_table() -> None:
    text = export_table()
    for table in TABLES:
        assert f"| `{table.name}` |" in text, table.name


def test_command_line_table_has_a_row_for_every_client_group() -> None:
    text = command_line_table()
    for command in runner.COMMANDS:
        assert f"| `pm {command}" in text or f" · `pm {command} " in text, command


def test_a_command_without_a_role_comment_names_the_proto_file() -> None:
    with pytest.raises(DocError, match=r"proto/pm_proto/v1/commands\.proto: message CreateLabel"):
        protocol.role_and_notes("just notes\n", message="CreateLabel")


def test_role_and_notes_come_from_the_comment() -> None:
    assert protocol.role_and_notes(" by key\n or id\n role: viewer\n", message="M") == (
        "viewer",
        "by key or id",
    )


def test_a_doc_without_its_markers_is_refused_naming_the_block() -> None:
    with pytest.raises(DocError, match=r"README\.md needs exactly one block"):
        blocks.replace("no markers here\n", {"command-line": "x"}, where="README.md")


def test_replace_keeps_the_prose_around_the_block() -> None:
    text = f"before\n{blocks.begin('t')}\nold\n{blocks.END}\nafter\n"
    assert blocks.replace(text, {"t": "| a |"}, where="f") == (
        f"before\n{blocks.begin('t')}\n\n| a |\n\n{blocks.END}\nafter\n"
    )
