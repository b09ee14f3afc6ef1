"""``pm``'s parser stays light: agents run client commands many times a minute.

Building the parser (what every ``pm`` invocation does first) must not import the
database layer, the server, the token and password libraries or aiohttp's server
side; those load only when a command that needs them runs.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: Modules a client command (``pm item list``, ``pm --help``) has no use for.
HEAVY = ("pm_db", "pm_auth", "pm_server.app", "aiohttp.web", "pydantic_settings", "argon2", "jwt")

_PROBE = """
import json, sys
from pm_server import cli
cli.parser().parse_args({argv})
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {roots} or m in {names})))
"""


def _loaded(argv: list[str], before: str = "") -> list[str]:
    """The heavy modules loaded once ``pm ARGV``'s arguments are parsed (after ``before``)."""
    roots = {name for name in HEAVY if "." not in name}
    names = {name for name in HEAVY if "." in name}
    probe = before + _PROBE.format(argv=argv, roots=roots, names=names)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(out.stdout))


def test_building_the_parser_for_a_client_command_loads_no_server_module() -> None:
    assert _loaded(["item", "list", "--project", "SHOP"]) == []
    assert _loaded(["user", "set-password", "acme", "a@example.com"]) == []


def test_the_probe_sees_a_heavy_module_when_one_is_imported() -> None:
    # Else the test above could pass by never seeing anything.
    assert "pm_db" in _loaded(["item", "list"], before="import pm_server.tenant_cli\n")
