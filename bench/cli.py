"""``python -m bench [--quick]``: run the scenarios and baselines, write the results.

A full run writes ``bench/results/latest.json`` and ``docs/benchmarks.md``;
``--quick`` writes ``bench/results/quick.json`` and ``quick.md``; a partial
run (``--only``) writes ``bench/results/partial.*``, never the docs page.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.baselines import measure
from bench.config import FULL, QUICK, Run
from bench.machine import describe, load_average
from bench.scenarios.board import scenario_11
from bench.scenarios.cluster import scenario_7
from bench.scenarios.creates import scenario_1, scenario_2
from bench.scenarios.fanout import scenario_3
from bench.scenarios.growth import scenario_6
from bench.scenarios.http import scenario_8
from bench.scenarios.idle import scenario_5
from bench.scenarios.search import scenario_10
from bench.scenarios.tenants import scenario_4
from bench.scenarios.webhooks import scenario_9
from bench.server import BENCH_SETTINGS
from bench.workers import raise_fd_limit, uvloop_available

ROOT = Path(__file__).absolute().parent.parent
RESULTS = ROOT / "bench" / "results"

SCENARIOS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "1": scenario_1,
    "2": scenario_2,
    "3": scenario_3,
    "4": scenario_4,
    "5": scenario_5,
    "6": scenario_6,
    "7": scenario_7,
    "8": scenario_8,
    "9": scenario_9,
    "10": scenario_10,
    "11": scenario_11,
}
BASELINES: dict[str, Callable[[Run], dict[str, Any]]] = {
    "echo": measure.echo,
    "fanout": measure.fanout,
    "group_commit": measure.group_commit,
    "churn": measure.churn,
    "idle": measure.idle,
    "open_databases": measure.open_databases,
}

#: Each baseline runs right after the scenario it is compared with, so that a ratio
#: compares figures taken minutes apart, not a whole run apart (the baselines reuse
#: the frame sizes the scenarios saw).
ORDER: tuple[tuple[str, str], ...] = (
    ("scenarios", "1"),
    ("baselines", "echo"),
    ("scenarios", "2"),
    ("baselines", "group_commit"),
    ("scenarios", "3"),
    ("baselines", "fanout"),
    ("scenarios", "4"),
    ("baselines", "churn"),
    ("scenarios", "5"),
    ("baselines", "idle"),
    ("baselines", "open_databases"),
    ("scenarios", "6"),
    ("scenarios", "7"),
    ("scenarios", "8"),
    ("scenarios", "9"),
    ("scenarios", "10"),
    ("scenarios", "11"),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 2 minutes")
    parser.add_argument(
        "--only",
        help="comma-separated scenarios (1-11) and baselines (echo, fanout, group_commit, "
        "churn, idle, open_databases) to run; results go to bench/results/partial.*",
    )
    parser.add_argument("--profile", type=Path, help="record py-spy profiles of the server here")
    parser.add_argument(
        "--client-loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop of the load processes (auto: uvloop when installed)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir (data, logs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    chosen = [part.strip() for part in args.only.split(",")] if args.only else None
    unknown = set(chosen or ()) - set(SCENARIOS) - set(BASELINES)
    if unknown:
        parser.error(f"unknown scenario or baseline: {', '.join(sorted(unknown))}")
    client_uvloop = args.client_loop == "uvloop" or (
        args.client_loop == "auto" and uvloop_available()
    )
    fd_limit = raise_fd_limit()
    run = Run(
        sizes=QUICK if args.quick else FULL,
        quick=args.quick,
        client_uvloop=client_uvloop,
        profile_dir=args.profile,
    )
    if args.quick:
        print(
            "QUICK run: smaller sizes and shorter windows than `make bench` "
            "(not the figures the targets are judged by)",
            flush=True,
        )
    print(f"scratch dir {run.workdir}; file descriptor limit {fd_limit}", flush=True)
    busy = load_average()
    if busy > 1.0:
        print(
            f"WARNING: load average {busy:.2f}: other work on this machine will skew the figures",
            flush=True,
        )
    mode = "quick" if args.quick else "full"
    results = _measure(run, chosen, mode if chosen is None else f"{mode}, partial")

    if chosen is not None:
        json_path, md_path = RESULTS / "partial.json", RESULTS / "partial.md"
    elif args.quick:
        json_path, md_path = RESULTS / "quick.json", RESULTS / "quick.md"
    else:
        json_path, md_path = RESULTS / "latest.json", ROOT / "docs" / "benchmarks.md"
    report.write(results, json_path, md_path)
    print("", flush=True)
    for line in report.console_lines(results):
        print(line)
    print(f"\nwrote {json_path} and {md_path} in {results['elapsed_s']:.0f} s")
    if args.quick:
        print("(QUICK run: smaller sizes; `make bench` gives the judged figures)")
    if args.keep:
        print(f"kept {run.workdir}")
    else:
        shutil.rmtree(run.workdir, ignore_errors=True)
    return 1 if results["errors"] else 0


def _measure(run: Run, chosen: list[str] | None, mode: str) -> dict[str, Any]:
    """Run the chosen scenarios, then the chosen baselines; a failure is recorded, not fatal."""
    started = time.perf_counter()
    results: dict[str, Any] = {
        "mode": mode,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": describe(ROOT),
        "sizes": dataclasses.asdict(run.sizes),
        "client_uvloop": run.client_uvloop,
        "server_settings": BENCH_SETTINGS,
        "loadavg_start": load_average(),
        "scenarios": {},
        "baselines": {},
        "errors": {},
    }
    for group, name in ORDER:
        if chosen is not None and name not in chosen:
            continue
        fn = (SCENARIOS if group == "scenarios" else BASELINES)[name]
        print(f"{group[:-1]} {name} ...", flush=True)
        began = time.perf_counter()
        try:
            results[group][name] = fn(run)
        except Exception:
            results["errors"][name] = traceback.format_exc()
            print(f"  FAILED:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        print(f"  done in {time.perf_counter() - began:.1f} s", flush=True)
    results["server_uvloop"] = run.server_uvloop
    results["elapsed_s"] = time.perf_counter() - started
    results["loadavg_end"] = load_average()
    return results
