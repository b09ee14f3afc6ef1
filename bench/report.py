"""Figures, ratios and targets from a run's results; the JSON file and the Markdown page.

Every pm figure is paired with the bare baseline measured in the same run
(``ratio`` = pm / baseline, so for rates higher is better and for latencies
and memory lower is better). Targets are those of the issue; a quick run
evaluates them too but says that its sizes are not the judged ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import ratio

KB_IN_KIB = 1000 / 1024  # targets are in KB (1,000 bytes); /proc reports KiB


@dataclass(frozen=True, slots=True)
class Figure:
    scenario: str
    name: str
    unit: str
    value: float | None
    baseline: str = ""
    baseline_value: float | None = None

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline_value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "figure": self.name,
            "unit": self.unit,
            "value": self.value,
            "baseline": self.baseline,
            "baseline_value": self.baseline_value,
            "ratio": self.ratio,
        }


@dataclass(frozen=True, slots=True)
class Target:
    scenario: str
    text: str
    value: float | None
    unit: str
    met: bool | None  # None: not measured in this run

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "target": self.text,
            "value": self.value,
            "unit": self.unit,
            "met": self.met,
        }


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def figures(results: dict[str, Any]) -> list[Figure]:
    s = results.get("scenarios", {})
    b = results.get("baselines", {})
    echo_seq = _get(b, "echo", "sequential", "latency") or {}
    echo_conc = _get(b, "echo", "concurrent") or {}
    raw_commit = _get(b, "group_commit", "mutations_per_s")
    out: list[Figure] = []
    add = out.append
    echo_name = "bare aiohttp echo, 1 client"
    echo_n = f"bare aiohttp echo, {echo_conc.get('clients', 50)} clients"
    if "1" in s:
        lat = s["1"]["latency"]
        add(Figure("1", "round trip p50", "ms", lat["p50_ms"], echo_name, echo_seq.get("p50_ms")))
        add(Figure("1", "round trip p99", "ms", lat["p99_ms"], echo_name, echo_seq.get("p99_ms")))
    if "2" in s:
        two = s["2"]
        lat, echo_lat = two["latency"], echo_conc.get("latency", {})
        rate = two["creates_per_s"]
        add(Figure("2", "creates/s", "/s", rate, echo_n, echo_conc.get("round_trips_per_s")))
        add(Figure("2", "creates/s", "/s", rate, "raw SQLite group commit", raw_commit))
        add(Figure("2", "round trip p50", "ms", lat["p50_ms"], echo_n, echo_lat.get("p50_ms")))
        add(Figure("2", "round trip p99", "ms", lat["p99_ms"], echo_n, echo_lat.get("p99_ms")))
        add(Figure("2", "event deliveries/s to subscribers", "/s", two["deliveries_per_s"]))
        event_p99 = _get(two, "event_latency", "p99_ms")
        add(Figure("2", "commit to receipt p99 at subscribers", "ms", event_p99))
        add(Figure("2", "events missing at subscribers", "", two["events_missing"]))
    out += _fan_out_figures(s.get("3") or {}, b)
    if "4" in s:
        four = s["4"]
        rate = four["mutations_per_s"]
        churn = b.get("churn") or {}
        churn_name = f"raw SQLite open+commit+close, {churn.get('threads', 2)} threads"
        add(Figure("4", "mutations/s", "/s", rate, churn_name, churn.get("cycles_per_s")))
        add(Figure("4", "mutations/s", "/s", rate, "raw SQLite group commit", raw_commit))
        p99, base_p99 = four["latency"]["p99_ms"], _get(echo_conc, "latency", "p99_ms")
        add(Figure("4", "round trip p99", "ms", p99, echo_n, base_p99))
    if "5" in s:
        conns, tenants = s["5"]["connections"], s["5"]["tenants"]
        add(
            Figure(
                "5",
                f"memory per idle connection ({conns['connections']:,})",
                "KiB",
                conns["kib_per_connection"],
                "bare aiohttp idle WebSocket",
                _get(b, "idle", "kib_per_connection"),
            )
        )
        add(
            Figure(
                "5",
                f"memory per open tenant ({tenants['tenants']:,})",
                "KiB",
                tenants["kib_per_tenant"],
                "raw SQLite database, writer + reader",
                _get(b, "open_databases", "kib_per_database"),
            )
        )
    if "6" in s:
        for items, level in s["6"]["levels"].items():
            label = f"{int(items):,} items"
            for what, key in (("get-by-key", "get_by_key"), ("list-by-status", "list_by_status")):
                for q in ("p50", "p99"):
                    add(
                        Figure(
                            "6",
                            f"{what} {q}, {label}",
                            "ms",
                            level[key][f"{q}_ms"],
                            echo_name + f" {q}",
                            echo_seq.get(f"{q}_ms"),
                        )
                    )
    if "7" in s:
        seven = s["7"]
        one, two = seven["one_process"], seven["workers_2"]
        name = f"{seven['clients']} clients over {seven['tenants']} tenants: creates/s"
        add(
            Figure(
                "7",
                f"{name}, --workers 2",
                "/s",
                two["mutations_per_s"],
                "one process",
                one["mutations_per_s"],
            )
        )
        relay = seven["relay"]
        for q in ("p50", "p99"):
            add(
                Figure(
                    "7",
                    f"sequential create {q} through a non-owner (relayed)",
                    "ms",
                    relay["relayed"][f"{q}_ms"],
                    "straight to the owner",
                    relay["direct"][f"{q}_ms"],
                )
            )
    out += _door_figures(s) + _search_figures(s.get("10") or {}) + _board_figures(s.get("11") or {})
    return out


def _door_figures(s: dict[str, Any]) -> list[Figure]:
    """Scenario 8 (each HTTP figure against the WebSocket's of the same run) and 9."""
    out: list[Figure] = []
    eight = s.get("8")
    if eight:
        ws = "WebSocket, same server"
        for phase, who in (
            ("sequential", "1 client"),
            ("concurrent", f"{eight['clients']} clients"),
        ):
            http, sock = eight[f"http_{phase}"], eight[f"websocket_{phase}"]
            if phase == "concurrent":
                rate = http["creates_per_s"]
                out.append(
                    Figure("8", f"HTTP creates/s, {who}", "/s", rate, ws, sock["creates_per_s"])
                )
            for q in ("p50", "p99"):
                value, base = http["latency"][f"{q}_ms"], sock["latency"][f"{q}_ms"]
                out.append(Figure("8", f"HTTP create round trip {q}, {who}", "ms", value, ws, base))
    nine = s.get("9")
    if nine:
        at = f"at {nine['rate']:g} events/s"
        for q in ("p50", "p99"):
            out.append(
                Figure("9", f"webhook lag commit to receipt {q} {at}", "ms", nine["lag"][f"{q}_ms"])
            )
        out.append(Figure("9", f"webhook deliveries/s {at}", "/s", nine["deliveries_per_s"]))
        out.append(Figure("9", "webhook events missing", "", nine["events_missing"]))
        out.append(Figure("9", "webhook events posted twice", "", nine["duplicates"]))
    return out


def _search_figures(ten: dict[str, Any]) -> list[Figure]:
    if not ten:
        return []
    label = f"{ten['items']:,} items"
    out = [
        Figure("10", f"search {q}, {label}", "ms", ten["search"][f"{q}_ms"]) for q in ("p50", "p95")
    ]
    rates = ten["creates_per_s"]
    out.append(
        Figure(
            "10",
            f"creates/s, {ten['clients']} clients, with the search index",
            "/s",
            rates["with_index"],
            "without it",
            rates["without_index"],
        )
    )
    cpu = ten.get("server_cpu_us_per_create")
    if cpu:
        out.append(
            Figure(
                "10",
                "server CPU per create, with the search index",
                "µs",
                cpu["with_index"],
                "without it",
                cpu["without_index"],
            )
        )
    return out


def _board_figures(eleven: dict[str, Any]) -> list[Figure]:
    """Scenario 11's figures: the board in Chromium (none when the scenario was skipped)."""
    if not eleven or "skipped" in eleven:
        return []
    items = f"{eleven['items']:,} items"
    cold = eleven["cold_first_paint"]
    out = [
        Figure(
            "11",
            f"cold first paint p50, {items} ({cold['cards_at_first_paint']} cards in it)",
            "ms",
            cold["p50_ms"],
        ),
        Figure(
            "11",
            f"cold load to all {items} in the DOM p50",
            "ms",
            _get(eleven, "cold_all_cards", "p50_ms"),
        ),
        Figure(
            "11",
            f"first paint from the IndexedDB cache p50, {items}",
            "ms",
            eleven["cached_first_paint"]["p50_ms"],
        ),
    ]
    for q in ("p50", "p95"):
        out.append(
            Figure(
                "11",
                f"remote change visible {q} (from the send)",
                "ms",
                eleven["remote_change"][f"{q}_ms"],
            )
        )
    bundle = eleven["bundle"]
    out.append(Figure("11", "bundle JS + CSS gzipped", "KB", bundle["gzip_bytes"] / 1000))
    return out


def _fan_out_figures(three: dict[str, Any], b: dict[str, Any]) -> list[Figure]:
    """Scenario 3's figures: per subscriber count, and the paced phase where there is one."""
    out: list[Figure] = []
    add = out.append
    for n, fan in sorted(three.items(), key=lambda kv: int(kv[0])):
        base = _get(b, "fanout", n) or {}
        name = f"bare aiohttp fan-out to {n}"
        base_lat = base.get("latency", {})
        add(
            Figure(
                "3",
                f"deliveries/s, {n} subscribers",
                "/s",
                fan["deliveries_per_s"],
                name,
                base.get("deliveries_per_s"),
            )
        )
        for q in ("p50", "p99"):
            add(
                Figure(
                    "3",
                    f"commit to receipt {q}, {n} subscribers",
                    "ms",
                    fan["latency"][f"{q}_ms"],
                    name,
                    base_lat.get(f"{q}_ms"),
                )
            )
        paced = fan.get("paced")
        if paced:
            at = f"{n} subscribers, writer paced at {paced['writer_rate']:g} creates/s"
            add(Figure("3", f"deliveries/s, {at}", "/s", paced["deliveries_per_s"]))
            for q in ("p50", "p99"):
                add(Figure("3", f"commit to receipt {q}, {at}", "ms", paced["latency"][f"{q}_ms"]))
            add(Figure("3", f"creates failed, {at}", "", paced.get("writer_failed", 0)))
    return out


def _check(value: float | None, test: Callable[[float], bool]) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return test(value)


def targets(results: dict[str, Any]) -> list[Target]:
    s = results.get("scenarios", {})
    b = results.get("baselines", {})
    out: list[Target] = []
    two = s.get("2") or {}
    rate = two.get("creates_per_s")
    raw = _get(b, "group_commit", "mutations_per_s")
    out.append(Target("2", "≥ 5,000 creates/s", rate, "/s", _check(rate, lambda v: v >= 5000)))
    p99 = _get(two, "latency", "p99_ms")
    out.append(Target("2", "p99 ≤ 50 ms", p99, "ms", _check(p99, lambda v: v <= 50)))
    share = ratio(rate, raw)
    out.append(
        Target("2", "≥ 0.5 x raw group-commit rate", share, "x", _check(share, lambda v: v >= 0.5))
    )
    p50 = _get(s, "1", "latency", "p50_ms")
    out.append(Target("1", "p50 ≤ 1 ms", p50, "ms", _check(p50, lambda v: v <= 1)))
    fan = _get(s, "3", "1000") or {}
    fan_rate = fan.get("deliveries_per_s")
    out.append(
        Target(
            "3",
            "≥ 100,000 deliveries/s at 1,000 subscribers",
            fan_rate,
            "/s",
            _check(fan_rate, lambda v: v >= 100_000),
        )
    )
    fan_share = ratio(fan_rate, _get(b, "fanout", "1000", "deliveries_per_s"))
    out.append(
        Target(
            "3",
            "≥ 0.8 x bare fan-out at 1,000",
            fan_share,
            "x",
            _check(fan_share, lambda v: v >= 0.8),
        )
    )
    fan_p99 = _get(fan, "latency", "p99_ms")
    out.append(
        Target(
            "3",
            "p99 ≤ 100 ms at 1,000, writer at full speed",
            fan_p99,
            "ms",
            _check(fan_p99, lambda v: v <= 100),
        )
    )
    paced = fan.get("paced") or {}
    paced_p99 = _get(paced, "latency", "p99_ms")
    rate_ok = _check(paced.get("deliveries_per_s"), lambda v: v >= 100_000)
    p99_ok = _check(paced_p99, lambda v: v <= 100)
    out.append(
        Target(
            "3",
            "p99 ≤ 100 ms at 1,000 while delivering ≥ 100,000/s (writer paced)",
            paced_p99,
            "ms",
            None if rate_ok is None or p99_ok is None else rate_ok and p99_ok,
        )
    )
    four = _get(s, "4", "mutations_per_s")
    out.append(
        Target(
            "4",
            "≥ 2,000 mutations/s with LRU churn",
            four,
            "/s",
            _check(four, lambda v: v >= 2000),
        )
    )
    conn_kib = _get(s, "5", "connections", "kib_per_connection")
    out.append(
        Target(
            "5",
            "≤ 30 KB per idle connection",
            conn_kib,
            "KiB",
            _check(conn_kib, lambda v: v <= 30 * KB_IN_KIB),
        )
    )
    tenant_kib = _get(s, "5", "tenants", "kib_per_tenant")
    out.append(
        Target(
            "5",
            "≤ 400 KB per open tenant",
            tenant_kib,
            "KiB",
            _check(tenant_kib, lambda v: v <= 400 * KB_IN_KIB),
        )
    )
    growth = _get(s, "6", "get_p50_growth")
    levels = list((_get(s, "6", "levels") or {}).keys())
    largest = f"{int(levels[-1]):,}" if levels else "1,000,000"
    smallest = f"{int(levels[0]):,}" if levels else "1,000"
    out.append(
        Target(
            "6",
            f"get-by-key p50 at {largest} ≤ 2 x at {smallest}",
            growth,
            "x",
            _check(growth, lambda v: v <= 2),
        )
    )
    cluster = _get(s, "7", "ratio")
    out.append(
        Target(
            "7",
            "--workers 2 ≥ 1.7 x one process (creates/s, 100 tenants, 50 clients)",
            cluster,
            "x",
            _check(cluster, lambda v: v >= 1.7),
        )
    )
    http_share = ratio(
        _get(s, "8", "http_concurrent", "creates_per_s"),
        _get(s, "8", "websocket_concurrent", "creates_per_s"),
    )
    text = "HTTP ≥ 0.5 x WebSocket creates/s, 50 clients, same server"
    out.append(Target("8", text, http_share, "x", _check(http_share, lambda v: v >= 0.5)))
    nine = s.get("9") or {}
    lag = _get(nine, "lag", "p99_ms")
    whole = None if not nine else nine["events_missing"] == 0 and nine["in_order"]
    lag_ok = _check(lag, lambda v: v <= 1000)
    text = "webhook lag p99 ≤ 1 s at 500 events/s, every event, in seq order"
    out.append(Target("9", text, lag, "ms", None if lag_ok is None else lag_ok and bool(whole)))
    out += _search_targets(s)
    out += _board_targets(s.get("11") or {})
    return out


def _search_targets(s: dict[str, Any]) -> list[Target]:
    out: list[Target] = []
    items = _get(s, "10", "items")
    search_p50 = _get(s, "10", "search", "p50_ms")
    out.append(
        Target(
            "10",
            f"search p50 ≤ 10 ms at {items or 100_000:,} items",
            search_p50,
            "ms",
            _check(search_p50, lambda v: v <= 10),
        )
    )
    create_ratio = _get(s, "10", "create_ratio")
    out.append(
        Target(
            "10",
            "creates/s with the search index ≥ 0.85 x without it",
            create_ratio,
            "x",
            _check(create_ratio, lambda v: v >= 0.85),
        )
    )
    return out


def _board_targets(eleven: dict[str, Any]) -> list[Target]:
    measured = bool(eleven) and "skipped" not in eleven
    cold = _get(eleven, "cold_first_paint", "p50_ms") if measured else None
    cached = _get(eleven, "cached_first_paint", "p50_ms") if measured else None
    change = _get(eleven, "remote_change", "p95_ms") if measured else None
    gzipped = _get(eleven, "bundle", "gzip_bytes") if measured else None
    kb = None if gzipped is None else gzipped / 1000
    return [
        Target(
            "11",
            "board of 1,000 items: cold first paint p50 ≤ 1 s",
            cold,
            "ms",
            _check(cold, lambda v: v <= 1000),
        ),
        Target(
            "11",
            "first paint from the IndexedDB cache p50 ≤ 200 ms",
            cached,
            "ms",
            _check(cached, lambda v: v <= 200),
        ),
        Target(
            "11",
            "remote change visible p95 ≤ 100 ms after commit",
            change,
            "ms",
            _check(change, lambda v: v <= 100),
        ),
        Target(
            "11", "bundle (JS + CSS) ≤ 250 KB gzipped", kb, "KB", _check(kb, lambda v: v <= 250)
        ),
    ]


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "KiB":
        return f"{value:,.1f} KiB"
    if not unit and float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}{(' ' + unit) if unit else ''}"
    return f"{value:.2f}{(' ' + unit) if unit else ''}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def console_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for fig in figures(results):
        text = f"[{fig.scenario}] {fig.name}: {_fmt(fig.value, fig.unit)}"
        if fig.baseline:
            text += f"  | {fig.baseline}: {_fmt(fig.baseline_value, fig.unit)}"
            text += f"  | ratio {_fmt(fig.ratio, 'x')}"
        lines.append(text)
    lines.append("")
    lines += _baseline_lines(results.get("baselines", {}))
    lines.append("")
    for target in targets(results):
        verdict = _verdict(target.met).replace("*", "")
        value = _fmt(target.value, target.unit)
        lines.append(f"target [{target.scenario}] {target.text}: {value} -> {verdict}")
    return lines


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    quick = results["mode"] == "quick"
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand. "
        "`make bench-quick` (`python -m bench --quick`) runs smaller sizes in under two minutes "
        "and writes `bench/results/quick.md` instead.",
        "",
    ]
    if quick:
        lines += [
            "> **Quick run**: smaller sizes and shorter windows than `make bench`; "
            "the targets are judged on the full run's figures, not these.",
            "",
        ]
    lines += [
        f"- Date: {results['date']} ({results['elapsed_s']:.0f} s run, mode `{results['mode']}`)",
        f"- Machine: {machine['cpu_model']}, {machine['cpus']} CPUs "
        f"({machine['cpus_usable']} usable), {machine['memory_gib']} GiB RAM, "
        f"Linux {machine['kernel']}",
        f"- Python {machine['python']}, SQLite {machine['sqlite']}, aiohttp {machine['aiohttp']}, "
        f"protobuf {machine['protobuf']}",
        f"- Event loop: pm server on {'uvloop' if results['server_uvloop'] else 'asyncio'}; "
        f"bare baseline servers the same; load processes on "
        f"{'uvloop' if results['client_uvloop'] else 'asyncio'}",
        "- Server settings: defaults, except limits lifted so the limiter never refuses: "
        + ", ".join(
            f"`PM_{name.upper()}={value}`"
            for name, value in results.get("server_settings", {}).items()
        )
        + "; scenario 4 adds `PM_MAX_OPEN_TENANTS`, scenario 5 raises it above its tenants.",
        f"- Code: commit {machine['commit']}"
        + (" with uncommitted changes" if machine["uncommitted_changes"] else ""),
        "- Server and load share the machine: the server is one process; "
        "load runs in separate processes over 127.0.0.1.",
        f"- Load average (1 min) at start {results['loadavg_start']}, at end "
        f"{results['loadavg_end']} (the end includes the run's own load)"
        + (
            ": **the machine was busy with other work; figures are pessimistic and noisy**"
            if results["loadavg_start"] > 1.0
            else ""
        ),
        "",
        "## Targets",
        "",
        "| scenario | target | measured | verdict |",
        "|---|---|---|---|",
    ]
    for target in targets(results):
        lines.append(
            f"| {target.scenario} | {target.text} | {_fmt(target.value, target.unit)} "
            f"| {_verdict(target.met)} |"
        )
    lines += [
        "",
        "Durability and correctness are judged by `make test` (the full suite runs with group "
        "commit on), not here.",
        "",
        "## Figures and ratios to the bare baselines",
        "",
        "Ratio = pm / baseline: for rates higher is better, for latencies and memory lower is "
        "better.",
        "",
        "| scenario | figure | pm | baseline | baseline value | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for fig in figures(results):
        lines.append(
            f"| {fig.scenario} | {fig.name} | {_fmt(fig.value, fig.unit)} | {fig.baseline or '-'} "
            f"| {_fmt(fig.baseline_value, fig.unit) if fig.baseline else '-'} "
            f"| {_fmt(fig.ratio, 'x') if fig.baseline else '-'} |"
        )
    lines += ["", "## CPU during the measured windows", ""]
    lines += _cpu_lines(results)
    lines += ["", "## Baselines", ""]
    lines += _baseline_lines(results.get("baselines", {}))
    lines += ["", "## How each scenario is measured", "", *_method_lines(results), ""]
    return "\n".join(lines)


def _cpu_lines(results: dict[str, Any]) -> list[str]:
    """Server CPU (cores) and the machine's CPU (all processes): is the figure server-bound?"""
    s, b = results.get("scenarios", {}), results.get("baselines", {})
    rows: list[tuple[str, dict[str, Any] | None]] = [
        ("1: sequential creates", _get(s, "1", "cpu")),
        ("2: 50 clients creating", _get(s, "2", "cpu")),
    ]
    rows += [(f"3: fan-out to {n}", fan.get("cpu")) for n, fan in (s.get("3") or {}).items()]
    rows += [
        (f"3: fan-out to {n}, writer paced", fan["paced"].get("cpu"))
        for n, fan in (s.get("3") or {}).items()
        if "paced" in fan
    ]
    rows.append(("4: many tenants", _get(s, "4", "cpu")))
    rows.append(
        ("8: 50 clients creating over the WebSocket", _get(s, "8", "websocket_concurrent", "cpu"))
    )
    rows.append(("8: 50 clients creating over HTTP", _get(s, "8", "http_concurrent", "cpu")))
    rows.append(("9: webhook deliveries", _get(s, "9", "cpu")))
    rows.append(("baseline: echo, 50 clients", _get(b, "echo", "concurrent", "cpu")))
    rows += [
        (f"baseline: fan-out to {n}", fan.get("cpu")) for n, fan in (b.get("fanout") or {}).items()
    ]
    lines = [
        "Server CPU in cores (1.0 = one core busy all the time) and the whole machine's CPU "
        "(server, load processes and anything else running): a server well under 1.0 while the "
        "machine is near 100% was starved, not slow.",
        "",
        "| phase | server CPU (cores) | machine busy |",
        "|---|---|---|",
    ]
    for name, cpu in rows:
        if cpu:
            busy = cpu.get("machine_busy_pct")
            lines.append(
                f"| {name} | {cpu.get('server_cpu_cores', '-')} "
                f"| {f'{busy:.0f}%' if busy is not None else '-'} |"
            )
    return lines


def _baseline_lines(b: dict[str, Any]) -> list[str]:
    lines = []
    if "echo" in b:
        echo = b["echo"]
        conc = echo["concurrent"]
        lines.append(
            f"- Echo: frames of {echo['request_bytes']} bytes answered with "
            f"{echo['reply_bytes']} bytes (pm's create request and reply); 1 client p50 "
            f"{_fmt(echo['sequential']['latency']['p50_ms'], 'ms')}; {conc['clients']} clients "
            f"{_fmt(conc['round_trips_per_s'], '/s')} round trips, p99 "
            f"{_fmt(conc['latency']['p99_ms'], 'ms')}."
        )
    for n, fan in sorted((b.get("fanout") or {}).items(), key=lambda kv: int(kv[0])):
        lines.append(
            f"- Fan-out to {int(n):,}: one {fan['frame_bytes']}-byte frame per connection per "
            f"round with `send_bytes`, {fan['rounds']:,} rounds: "
            f"{_fmt(fan['deliveries_per_s'], '/s')} deliveries, p99 "
            f"{_fmt(fan['latency']['p99_ms'], 'ms')} (the sender never waits, so its latency "
            "is queueing at saturation, not a floor)."
        )
    if "group_commit" in b:
        raw = b["group_commit"]
        lines.append(
            f"- Raw SQLite group commit (WAL, synchronous={raw['synchronous']}, "
            f"{raw['batch']} creates per transaction, a create's five rows): "
            f"{_fmt(raw['mutations_per_s'], '/s')} creates, "
            f"{_fmt(raw['transactions_per_s'], '/s')} transactions."
        )
    if "churn" in b:
        raw = b["churn"]
        lines.append(
            f"- Raw SQLite churn (copies of a tenant database, each opened with pm's pragmas, "
            f"one create's rows committed, closed; round robin on {raw['threads']} threads, "
            f"synchronous={raw['synchronous']}): {_fmt(raw['cycles_per_s'], '/s')} cycles."
        )
    if "idle" in b:
        lines.append(
            f"- Idle bare aiohttp WebSockets ({b['idle']['connections']:,}): "
            f"{_fmt(b['idle']['kib_per_connection'], 'KiB')} each."
        )
    if "open_databases" in b:
        raw = b["open_databases"]
        lines.append(
            f"- Open SQLite databases ({raw['databases']:,} copies of a tenant database, a "
            f"writer and a reader each): {_fmt(raw['kib_per_database'], 'KiB')} each."
        )
    return lines


def _method_lines(results: dict[str, Any]) -> list[str]:
    sizes = results["sizes"]
    s = results.get("scenarios", {})
    window = f"{sizes['warmup_s']:g} s warm-up, then {sizes['duration_s']:g} s measured"
    lines = [
        f"1. One client, one create at a time: {sizes['s1_requests']:,} round trips after "
        f"{sizes['s1_warmup']:,} warm-up.",
        f"2. {sizes['s2_clients']} clients (editors) each send the next create when the "
        f"previous reply arrives, {sizes['s2_subscribers']} subscribers receive every event; "
        f"{window}.",
        f"3. One writer connection keeps {sizes['s3_window']} creates in flight; "
        f"{', '.join(f'{n:,}' for n in sizes['s3_subscribers'])} subscribers; {window}. "
        "Deliveries/s = events received in the window / (last receipt - window start); "
        "latency = receipt time - the event's `occurred_at` (same clock). At full speed the "
        "server and the subscribers' load processes saturate the machine, so latency there is "
        "mostly queueing; a second run at the most subscribers paces the writer at "
        f"{sizes.get('s3_paced_rate', 0):g} creates/s (a new create every 1/rate s, whatever "
        "the replies) to measure latency at a set delivery rate just above the target's.",
        f"4. {sizes['s4_tenants']:,} tenants (copies of one), `PM_MAX_OPEN_TENANTS="
        f"{sizes['s4_open_cap']}`, {sizes['s4_concurrency']} loops creating one item in the "
        f"next tenant in turn; {window}.",
        f"5. Server VmRSS before and after {sizes['s5_connections']:,} idle connections, and "
        f"before and after opening {sizes['s5_tenants']:,} tenants (one read each).",
        f"6. Items written into one project's database while the server is stopped, at "
        f"{', '.join(f'{n:,}' for n in sizes['s6_items'])}; one client: get-by-key of random "
        f"items, list-by-status of a random status ({sizes['s6_list_limit']} a page).",
    ]
    six = s.get("6")
    if six:
        seeded = ", ".join(
            f"{int(n):,} in {level['seed_seconds']:.1f} s ({level['db_mib']:.0f} MiB)"
            for n, level in six["levels"].items()
        )
        lines.append(f"   Seeding: {seeded}.")
    lines += [
        f"8. One server, no subscribers; for each door in turn: one client's "
        f"{sizes.get('s8_requests', 0):,} sequential creates, then {sizes.get('s8_clients', 50)} "
        f"clients each sending the next create when the previous answer came ({window}). HTTP: "
        "`POST /v1/rpc/create_work_item` with the JSON body, one connection pool per load "
        f"process; kept-alive connections: {_get(s, '8', 'kept_alive')}. The target is this "
        "project's, not the issue's (which asks for the figures side by side).",
        f"9. One endpoint for the tenant's work-item events, its receiver in a separate process "
        f"(aiohttp on 127.0.0.1, answering 204); one writer starts {sizes.get('s9_rate', 0):g} "
        f"creates/s on schedule for {sizes['warmup_s']:g} s warm-up and "
        f"{sizes.get('s9_seconds', 0):g} s measured; lag = receipt time - the event's "
        "`occurredAt` (same clock), over the events committed in the measured window. The 1 s "
        "target is this project's.",
    ]
    if "s10_items" in sizes:
        lines.append(
            f"10. Through the server: {sizes['s10_items']:,} work items of random words written "
            "into one tenant's database while the server is stopped (the search index's "
            f"triggers index them); one client sends {sizes['s10_queries']:,} `search` commands "
            "one at a time (one or two words, the first a prefix; 20 hits a page). Then "
            f"{sizes['s10_clients']} editors create items in the same tenant as in scenario 2 "
            "(no subscribers), with the index's triggers and with them dropped, alternated "
            f"{sizes['s10_rounds']} round(s) each swapping which goes first, {window} each; "
            "the ratio compares the medians. The server's CPU time per create (its CPU over "
            "the window / the creates in it) is the same comparison by cost, which other work "
            "on the machine skews less."
        )
    ten = s.get("10")
    if ten:
        rounds = ten["creates_per_s"]["rounds"]
        lines.append(
            f"    Seeding: {ten['items']:,} in {ten['seed_seconds']:.1f} s "
            f"({ten['db_mib']:.0f} MiB); creates/s per round with the index "
            f"{', '.join(f'{v:,.0f}' for v in rounds['with_index'])}, without "
            f"{', '.join(f'{v:,.0f}' for v in rounds['without_index'])}; "
            f"CPU per create, without / with: {_fmt(ten.get('create_cpu_ratio'), 'x')}."
        )
    lines.append(
        f"11. The board (1,000 items written into one project's database while the server is "
        f"stopped, 200 per status) in Debian's headless Chromium through Playwright: "
        f"{sizes.get('s11_paint_runs', 5)} cold loads (a new browser context each: empty HTTP "
        "cache and IndexedDB), then as many reloads of one context with its WebSocket held "
        "unanswered (what paints came from the IndexedDB cache), then "
        f"{sizes.get('s11_changes', 50)} renames of cards by a Python client, one at a time. "
        "Times are the page's own: an init script's MutationObserver notes `performance.now()` "
        "when the first card (or a card's new title) enters the DOM and the first paint is the "
        "`requestAnimationFrame` after it (first paint counts from the navigation's start); a "
        "remote change is the page's wall clock (`performance.timeOrigin + performance.now()`) "
        "at that frame minus the client's `time.time()` just before it sent the change, an "
        "upper bound of commit-to-visible. Bundle: the committed JS and CSS gzipped at level 9."
    )
    eleven = s.get("11")
    if eleven and "skipped" in eleven:
        lines.append(f"   **Skipped in this run**: {eleven['skipped']}.")
    return lines


def write(results: dict[str, Any], json_path: Path, md_path: Path | None) -> None:
    results = dict(results)
    results["figures"] = [fig.as_dict() for fig in figures(results)]
    results["targets"] = [target.as_dict() for target in targets(results)]
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    if md_path is not None:
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(markdown(results))
