"""Scenario 11: the web board of a 1,000-item project in headless Chromium.

- **Cold first paint**: a new browser context (empty HTTP cache, empty IndexedDB) navigates to
  the board; the time from navigation start to the first frame with cards in it (the board
  paints the first cards of each column first, about what a screen holds), and to the frame
  with all 1,000 in the DOM.
- **From the IndexedDB cache**: the same context reloads with its WebSocket held unanswered
  (Playwright routes it and never connects it), so whatever paints came from the cache; the
  same measure.
- **A remote change**: a Python client renames a card (``update_work_item``) one change at a
  time; the time from just before the client sent it to the first frame showing the new title.
- **Bundle size**: the committed JS and CSS (``pm_server/static/assets``), gzipped (level 9).

Every time is taken in the page, so neither Playwright's nor Python's overhead is counted: an
init script's ``MutationObserver`` notes ``performance.now()`` when the first ``.card`` is added
(or a card's title becomes the new one), then one ``requestAnimationFrame`` later (the frame
that shows it). ``performance.now()`` counts from the navigation's start; for remote changes
the page's wall clock (``performance.timeOrigin + performance.now()``) is compared with the
client's ``time.time()`` taken just before its send, so the figure bounds commit-to-visible
from above (it includes the request's way to the server and the commit itself).

Skipped, with the reason in the results, when Playwright or Chromium is missing.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.config import Run
from bench.fixtures import OWNER, provision
from bench.seed import seed_items, tenant_db
from bench.server import PmServer
from bench.stats import percentile
from pm_client import PmClient
from pm_proto.v1.entities_pb2 import ROLE_EDITOR
from tools.chromium import CHROMIUM, CHROMIUM_FLAGS, unavailable

TENANT = "board"
KEY = "BOARD"
ITEMS = 1_000
STATIC = Path(__file__).absolute().parent.parent.parent / "pm_server" / "static" / "assets"
MARKER = "bench-change-"
#: The user whose Python client makes the remote changes (an editor of the project).
REMOTE = "remote"

# Before any of the page's scripts: note when the first card is added and when a card's title
# becomes a marker, then the frame after (rAF runs before that frame is painted).
OBSERVER = """
(() => {
  window.__seen = {};
  const frame = (note) => requestAnimationFrame(() => note(performance.now()));
  const wall = (t) => performance.timeOrigin + t;
  new MutationObserver((mutations) => {
    const now = performance.now();
    if (window.__firstCard === undefined && document.querySelector(".card") !== null) {
      window.__firstCard = now;
      window.__cardsAtFirst = document.querySelectorAll(".card").length;
      frame((t) => (window.__firstCardFrame = t));
    }
    if (window.__firstCard !== undefined && window.__allCardsFrame === undefined &&
        document.querySelectorAll(".card").length >= ITEMS) {
      window.__allCardsFrame = -1;
      frame((t) => (window.__allCardsFrame = t));
    }
    for (const m of mutations) {
      const text = m.type === "characterData" ? m.target.data : m.target.textContent;
      if (typeof text !== "string" || !text.includes("MARKER")) continue;
      for (const found of text.matchAll(/MARKER\\d+/g)) {
        const key = found[0];
        if (window.__seen[key] !== undefined) continue;
        window.__seen[key] = { dom: wall(now) };
        frame((t) => (window.__seen[key].frame = wall(t)));
      }
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
})();
""".replace("MARKER", MARKER).replace("ITEMS", str(ITEMS))

# Whether the board saved the project in its IndexedDB cache (as tests/web does).
SAVED = """async ([name, projectId]) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    if (!db.objectStoreNames.contains("projects")) return false;
    return await new Promise((resolve) => {
      const get = db.transaction("projects").objectStore("projects").get(projectId);
      get.onsuccess = () => resolve(get.result !== undefined);
      get.onerror = () => resolve(false);
    });
  } finally {
    db.close();
  }
}"""


def scenario_11(run: Run) -> dict[str, Any]:
    reason = unavailable()
    if reason is not None:
        run.echo(f"  SKIPPED scenario 11 (the board in Chromium): {reason}")
        return {"skipped": reason}
    data_dir = run.data_dir("s11")
    with PmServer(data_dir, run.log_path("s11")) as server:
        project = asyncio.run(provision(server, TENANT, KEY, [(REMOTE, ROLE_EDITOR)]))
    seed_items(tenant_db(data_dir, TENANT), project.id, OWNER, ITEMS)
    with PmServer(data_dir, run.log_path("s11")) as server:
        url = f"{server.base_url}/#token={server.token(TENANT, OWNER)}"
        result = _measure(run, server, url, project.id)
    return {"items": ITEMS, **result, "bundle": bundle_size()}


def _measure(run: Run, server: PmServer, url: str, project_id: str) -> dict[str, Any]:
    # A dev dependency, absent where the scenario is skipped: imported only when it runs.
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    sizes = run.sizes
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            cold, cards, every = [], [], []
            for _ in range(sizes.s11_paint_runs):
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.add_init_script(OBSERVER)
                page.goto(url)
                cold.append(_first_frame(page))
                cards.append(page.evaluate("() => window.__cardsAtFirst"))
                every.append(_all_cards_frame(page))
                context.close()
            run.echo(f"  cold first paint p50 {_summary(cold)['p50_ms']:.0f} ms")

            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.add_init_script(OBSERVER)
            page.goto(url)
            _first_frame(page)
            while not page.evaluate(SAVED, [f"pm-board:{TENANT}:{OWNER}", project_id]):
                page.wait_for_timeout(50)
            held: list[Any] = []

            def hold(ws: Any) -> None:  # never connected to the server, never answered
                held.append(ws)

            page.route_web_socket(re.compile(r".*/v1/ws$"), hold)
            cached = []
            for _ in range(sizes.s11_paint_runs):
                page.reload()
                cached.append(_first_frame(page))
            run.echo(f"  from the cache p50 {_summary(cached)['p50_ms']:.0f} ms")
            context.close()

            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.add_init_script(OBSERVER)
            page.goto(url)
            _first_frame(page)  # listed after subscribing: every change from now on reaches it
            sent = _changes(server, project_id, sizes.s11_changes)
            page.wait_for_function(
                "n => Object.values(window.__seen).filter((s) => s.frame).length >= n",
                arg=len(sent),
            )
            seen: dict[str, dict[str, float]] = page.evaluate("() => window.__seen")
            context.close()
        finally:
            browser.close()
    to_frame = [seen[marker]["frame"] - t0 * 1000 for marker, t0, _ in sent]
    after_reply = [seen[marker]["frame"] - t1 * 1000 for marker, _, t1 in sent]
    return {
        "cold_first_paint": _summary(cold) | {"cards_at_first_paint": min(cards)},
        "cold_all_cards": _summary(every),
        "cached_first_paint": _summary(cached),
        "remote_change": _summary(to_frame),
        "remote_change_after_reply": _summary(after_reply),
        "changes": len(sent),
        "paint_runs": sizes.s11_paint_runs,
    }


def _first_frame(page: Any) -> float:
    page.wait_for_function("() => window.__firstCardFrame !== undefined", timeout=60_000)
    return float(page.evaluate("() => window.__firstCardFrame"))


def _all_cards_frame(page: Any) -> float:
    page.wait_for_function("() => window.__allCardsFrame > 0", timeout=60_000)
    return float(page.evaluate("() => window.__allCardsFrame"))


def _changes(server: PmServer, project_id: str, count: int) -> list[tuple[str, float, float]]:
    """Rename cards one at a time from a Python client: (marker, time sent, time answered)."""

    async def rename() -> list[tuple[str, float, float]]:
        sent = []
        async with PmClient(server.ws_url, server.token(TENANT, REMOTE)) as pm:
            items = (await pm.list_work_items(project_id=project_id, limit=20)).items
            for n in range(count):
                marker = f"{MARKER}{n}"
                before = time.time()
                await pm.update_work_item(item_id=items[n % len(items)].id, title=marker)
                sent.append((marker, before, time.time()))
                await asyncio.sleep(0.05)  # one change at a time: the page is idle between
        return sent

    # Playwright's sync API keeps an event loop of its own in this thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, rename()).result()


def bundle_size() -> dict[str, int]:
    """Bytes of the board's JS and CSS as served, and gzipped (level 9)."""
    files = [p for p in STATIC.iterdir() if p.suffix in (".js", ".css")]
    raw = sum(p.stat().st_size for p in files)
    gzipped = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    return {"raw_bytes": raw, "gzip_bytes": gzipped, "files": len(files)}


def _summary(ms: list[float]) -> dict[str, float]:
    """Count, p50, p95, p99 and max of samples already in milliseconds."""
    ordered = sorted(ms)
    return {
        "count": len(ordered),
        **{f"p{q}_ms": percentile(ordered, q) for q in (50, 95, 99)},
        "max_ms": ordered[-1],
    }
