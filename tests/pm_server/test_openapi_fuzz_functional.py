"""schemathesis against a running ``pm serve``, from the document the server publishes.

Every operation of ``GET /v1/openapi.json``, with valid and invalid data
(``--mode all``: its coverage phase sends each field's boundaries and wrong
types, its fuzzing phase random bodies), as a tenant admin. The checks: no
5xx, and every status, content type, header and body is one the document
declares. Bounded by a fixed ``--max-examples`` and a fixed seed, so a run
costs the same each time and a failure is reproduced by running it again.
The counts of operations and cases are printed (``pytest -s``) and asserted.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from pm_auth.tokens import load_or_create_signing_key, mint_token
from pm_server.rpc import COMMANDS
from tests.serve_process import ServerProcess

MAX_EXAMPLES = 5
SEED = 20261207
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


@pytest.mark.slow
@pytest.mark.timeout(900)  # a few seconds of CPU, but under a loaded machine's scheduling
async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    tmp_path: Path,
) -> None:
    server = ServerProcess(
        tmp_path / "data",
        tmp_path / "server.log",
        # Thousands of requests in seconds: the tenant bucket must not turn them all to 429s.
        {"PM_RATE_LIMIT_TENANT_PER_SECOND": "0"},
    )
    await server.start()
    try:
        token = mint_token(
            load_or_create_signing_key(server.data_dir),
            tenant_id="fuzz",
            user_id="schemathesis",
            name="Schemathesis",
            tenant_admin=True,
        )
        report = tmp_path / "report.json"
        cli = Path(sys.executable).with_name("st")
        proc = await asyncio.create_subprocess_exec(
            str(cli),
            "run",
            f"{server.base_url}/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--mode",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "2",
            "--no-color",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            cwd=tmp_path,  # its example database and reports stay out of the work tree
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
    finally:
        await server.stop()
    text = output.decode(errors="replace")
    assert report.exists(), text[-4000:]
    result = json.loads(report.read_text())
    operations, cases = result["operations"], result["test_cases"]
    print(
        f"schemathesis: {operations['tested']} operations, {cases['generated']} cases, "
        f"{cases['with_failures']} with failures, {len(result['errors'])} errors, "
        f"{result['running_time']:.1f}s"
    )
    assert proc.returncode == 0, text[-4000:]
    assert (result["failures"], result["errors"]) == ([], []), text[-4000:]
    assert operations["tested"] == operations["total"] == len(COMMANDS)
    assert cases["generated"] >= len(COMMANDS) * MAX_EXAMPLES
    assert "Traceback" not in server.log_path.read_text()
