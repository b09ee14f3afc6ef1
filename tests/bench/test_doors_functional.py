"""Scenarios 8 and 9 end to end at a tiny size: real servers, real load processes, the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench import report
from bench.config import QUICK, Run
from bench.scenarios.http import scenario_8
from bench.scenarios.webhooks import scenario_9

pytestmark = pytest.mark.slow

TINY = dataclasses.replace(
    QUICK,
    warmup_s=0.1,
    duration_s=0.4,
    s8_clients=3,
    s8_warmup=1,
    s8_requests=4,
    s9_rate=40.0,
    s9_seconds=0.5,
)


def _run(tmp_path: Path) -> Run:
    return Run(sizes=TINY, quick=True, client_uvloop=False, workdir=tmp_path)


def test_http_door_is_measured_beside_the_websocket_and_reported(tmp_path: Path) -> None:
    result = scenario_8(_run(tmp_path))

    for door in ("websocket", "http"):
        assert result[f"{door}_sequential"]["latency"]["count"] == 4
        assert result[f"{door}_concurrent"]["latency"]["count"] > 0
        assert result[f"{door}_concurrent"]["creates_per_s"] > 0
    assert isinstance(result["kept_alive"], bool)
    lines = report.console_lines({"scenarios": {"8": result}, "baselines": {}})
    assert any(line.startswith("[8] HTTP creates/s, 3 clients:") for line in lines)
    assert any(line.startswith("target [8] HTTP ≥ 0.5 x WebSocket") for line in lines)


def test_webhook_lag_is_measured_for_every_event_in_order(tmp_path: Path) -> None:
    result = scenario_9(_run(tmp_path))

    assert result["creates_total"] > 0
    assert result["creates_failed"] == 0
    assert result["events_missing"] == 0
    assert result["events_received"] == result["creates_total"]
    assert result["in_order"] is True
    assert result["lag"]["count"] > 0
    lines = report.console_lines({"scenarios": {"9": result}, "baselines": {}})
    assert any(line.startswith("[9] webhook lag commit to receipt p99") for line in lines)
