"""The board in a real Chromium against a real pm server: two users on one board.

One server and one browser per test module (tests/web/browser.py); each test makes its own
project (and the restore test its own tenant), so the tests do not depend on each other.
Screenshots of the board, the drawer and the burndown are taken by the showcase test; with
PM_SCREENSHOTS=docs they are written to docs/ (where docs/web.md shows them).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pm_client import PmClient
from pm_proto.v1 import entities_pb2 as pb
from pm_proto.v1 import envelope_pb2
from tests.web.browser import Server

pytestmark = pytest.mark.timeout(300)

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
TENANT = "acme"
IN_PROGRESS = pb.WORK_ITEM_STATUS_IN_PROGRESS


def in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end: in a thread of its own, as Playwright's sync API keeps an
    event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Project:
    id: str
    key: str
    items: dict[str, str]  # title -> id


def setup(server: Server, key: str, titles: list[str], tenant: str = TENANT) -> Project:
    """A project of Alice's with Bob as an editor, and items in To do."""

    async def run() -> Project:
        bob_token = server.token(tenant, "bob", "Bob Builder")
        async with PmClient(server.ws_url, bob_token):
            pass  # Bob's user row exists from his first connection on
        async with PmClient(server.ws_url, server.token(tenant, "alice", "Alice Smith")) as pm:
            project = (await pm.create_project(key=key, name=f"{key} board")).project
            await pm.add_member(project_id=project.id, user_id="bob", role=pb.ROLE_EDITOR)
            items = {}
            for title in titles:
                reply = await pm.create_work_item(
                    project_id=project.id,
                    type=pb.WORK_ITEM_TYPE_TASK,
                    title=title,
                    status=pb.WORK_ITEM_STATUS_TODO,
                )
                items[title] = reply.item.id
            return Project(project.id, key, items)

    return in_thread(run())


def as_user(server: Server, user: str, name: str, tenant: str = TENANT) -> PmClient:
    return PmClient(server.ws_url, server.token(tenant, user, name))


@pytest.fixture
def pages(server: Server, browser: Any) -> Iterator[dict[str, Any]]:
    """A browser context (its own storage) per user, Alice's and Bob's."""
    contexts = {
        user: browser.new_context(viewport={"width": 1400, "height": 900})
        for user in ("alice", "bob")
    }
    yield {user: context.new_page() for user, context in contexts.items()}
    for context in contexts.values():
        context.close()


def open_board(
    page: Any, server: Server, user: str, name: str, project: Project, tenant: str = TENANT
) -> None:
    token = server.token(tenant, user, name)
    page.goto(f"{server.base_url}/#token={token}")
    select = page.get_by_label("Project", exact=True)
    select.wait_for()
    page.wait_for_function(
        "id => [...document.querySelectorAll('select option')].some(o => o.value === id)",
        arg=project.id,
    )
    select.select_option(project.id)
    page.locator(".column").first.wait_for()


def column(page: Any, status: int) -> Any:
    return page.locator(f'.column[data-status="{status}"]')


def test_a_card_dragged_by_one_user_moves_on_the_other_board_and_both_see_each_other(
    server: Server, pages: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    project = setup(server, "DRAG", ["Write the spec", "Build it"])
    alice, bob = pages["alice"], pages["bob"]
    open_board(alice, server, "alice", "Alice Smith", project)
    open_board(bob, server, "bob", "Bob Builder", project)

    alice.locator(".card", has_text="Write the spec").drag_to(
        column(alice, IN_PROGRESS).locator(".cards")
    )
    expect(column(bob, IN_PROGRESS)).to_contain_text("Write the spec")
    expect(column(alice, IN_PROGRESS)).to_contain_text("Write the spec")
    for page in (alice, bob):
        expect(page.locator('.presence .avatar[title="Alice Smith"]')).to_be_visible()
        expect(page.locator('.presence .avatar[title="Bob Builder"]')).to_be_visible()

    # The keyboard does what the mouse does: Alt+Right moves the focused card one column on.
    bob.locator(".card", has_text="Build it").focus()
    bob.keyboard.press("Alt+ArrowRight")
    expect(column(alice, IN_PROGRESS)).to_contain_text("Build it")


def test_a_comment_typed_in_one_drawer_appears_in_the_other(
    server: Server, pages: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    project = setup(server, "TALK", ["Discuss the plan"])
    alice, bob = pages["alice"], pages["bob"]
    for page, user, name in ((alice, "alice", "Alice Smith"), (bob, "bob", "Bob Builder")):
        open_board(page, server, user, name, project)
        page.locator(".card", has_text="Discuss the plan").click()
        page.locator(".drawer").wait_for()
    alice.get_by_label("New comment").fill("Looks good to me")
    alice.get_by_role("button", name="Comment").click()
    expect(bob.get_by_label("Comments", exact=True)).to_contain_text("Looks good to me")


def test_an_edit_that_meets_conflict_shows_theirs_and_keeps_the_unsaved_text(
    server: Server, pages: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    project = setup(server, "EDIT", ["Original title"])
    bob = pages["bob"]
    open_board(bob, server, "bob", "Bob Builder", project)
    bob.locator(".card", has_text="Original title").click()
    bob.locator(".drawer").wait_for()
    bob.locator('.drawer input[name="title"]').fill("Bob's better title")

    async def alice_edits() -> None:
        async with as_user(server, "alice", "Alice Smith") as pm:
            await pm.update_work_item(
                item_id=project.items["Original title"], title="Alice's title"
            )

    in_thread(alice_edits())
    expect(bob.locator(".card", has_text="Alice's title")).to_be_visible()
    bob.get_by_role("button", name="Save").click()
    expect(bob.locator(".conflict")).to_contain_text("Alice's title")
    expect(bob.locator('.drawer input[name="title"]')).to_have_value("Bob's better title")
    expect(bob.locator(".notices")).to_contain_text("changed by someone else")
    bob.get_by_role("button", name="Save").click()  # again: over Alice's version now
    expect(bob.locator(".card", has_text="Bob's better title")).to_be_visible()
    expect(bob.locator(".conflict")).to_have_count(0)


def test_both_boards_show_what_changed_while_the_server_restarted_without_a_reload(
    server: Server, pages: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    project = setup(server, "BOOT", ["Before the restart"])
    alice, bob = pages["alice"], pages["bob"]
    open_board(alice, server, "alice", "Alice Smith", project)
    open_board(bob, server, "bob", "Bob Builder", project)
    for page in (alice, bob):
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    server.stop()
    for page in (alice, bob):
        expect(page.locator(".banner.offline")).to_be_visible()
    server.start()

    async def changes() -> None:
        async with as_user(server, "alice", "Alice Smith") as pm:
            for title in ("Made after the restart", "And another"):
                await pm.create_work_item(
                    project_id=project.id,
                    type=pb.WORK_ITEM_TYPE_TASK,
                    title=title,
                    status=pb.WORK_ITEM_STATUS_TODO,
                )

    in_thread(changes())
    for page in (alice, bob):
        expect(page.locator(".card", has_text="Made after the restart")).to_be_visible(
            timeout=30_000
        )
        expect(page.locator(".card", has_text="And another")).to_be_visible()
        expect(page.locator(".banner.offline")).to_have_count(0)
        assert page.evaluate("window.__sameDocument") is True


def test_a_tenant_restore_makes_the_board_reload(
    server: Server, pages: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    tenant = "restored"
    project = setup(server, "BACK", ["In the backup"], tenant=tenant)
    alice = pages["alice"]
    open_board(alice, server, "alice", "Alice Smith", project, tenant=tenant)
    backup = tmp_path / "backup.db"
    server.pm("tenant", "backup", tenant, str(backup))

    async def after_backup() -> None:
        async with as_user(server, "alice", "Alice Smith", tenant) as pm:
            await pm.create_work_item(
                project_id=project.id,
                type=pb.WORK_ITEM_TYPE_TASK,
                title="Not in the backup",
                status=pb.WORK_ITEM_STATUS_TODO,
            )

    in_thread(after_backup())
    expect(alice.locator(".card", has_text="Not in the backup")).to_be_visible()
    alice.evaluate("window.__sameDocument = true")
    server.pm("tenant", "restore", tenant, str(backup), "--yes")
    expect(alice.locator(".notices")).to_contain_text("reloaded", timeout=30_000)
    expect(alice.locator(".card", has_text="Not in the backup")).to_have_count(0)
    expect(alice.locator(".card", has_text="In the backup")).to_be_visible()


# Whether the board saved a project in its IndexedDB cache (the database exists by then: the
# board opened it to look for the project before painting).
SAVED = """async ([name, projectId]) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    if (!db.objectStoreNames.contains("projects")) return false;
    const row = await new Promise((resolve) => {
      const get = db.transaction("projects").objectStore("projects").get(projectId);
      get.onsuccess = () => resolve(get.result);
      get.onerror = () => resolve(undefined);
    });
    return row !== undefined;
  } finally {
    db.close();
  }
}"""


def test_a_reload_paints_from_the_cache_before_the_network_answers(
    server: Server, pages: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    # A tenant of its own: Alice's only project there is the one the board opens first.
    project = setup(server, "FAST", ["Cached card"], tenant="cached")
    alice = pages["alice"]
    open_board(alice, server, "alice", "Alice Smith", project, tenant="cached")
    expect(alice.locator(".card", has_text="Cached card")).to_be_visible()
    while not alice.evaluate(SAVED, ["pm-board:cached:alice", project.id]):  # evaluate awaits it
        alice.wait_for_timeout(50)
    held: list[Any] = []

    def hold(ws: Any) -> None:  # the socket is never connected to the server nor answered
        held.append(ws)

    alice.route_web_socket(re.compile(r".*/v1/ws$"), hold)
    alice.reload()
    expect(alice.locator(".card", has_text="Cached card")).to_be_visible()
    assert alice.locator(".me").inner_text() == ""  # no welcome: nothing came from the server
    while not held:  # the page does try to connect (after painting)
        alice.wait_for_timeout(50)


def test_user_text_is_shown_as_text_and_never_runs(server: Server, pages: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    project = setup(server, "SAFE", [payload])
    alice = pages["alice"]
    dialogs: list[str] = []

    def dialog(d: Any) -> None:  # an alert() from a payload would land here
        dialogs.append(d.message)
        d.dismiss()

    alice.on("dialog", dialog)
    open_board(alice, server, "alice", "Alice Smith", project)
    card = alice.locator(".card .title").first
    expect(card).to_have_text(payload)
    card.click()
    expect(alice.locator('.drawer input[name="title"]')).to_have_value(payload)
    assert alice.evaluate("window.__xss") is None
    assert dialogs == []


def test_showcase_board_drawer_and_burndown(
    server: Server, pages: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = ROOT / "docs" if os.environ.get("PM_SCREENSHOTS") == "docs" else tmp_path

    async def showcase() -> Project:
        titles = [
            ("Sign-in page", pb.WORK_ITEM_STATUS_DONE, pb.PRIORITY_HIGH, 3, "alice"),
            ("Project switcher", pb.WORK_ITEM_STATUS_DONE, pb.PRIORITY_MEDIUM, 2, "bob"),
            (
                "Drag and drop between lanes",
                pb.WORK_ITEM_STATUS_IN_REVIEW,
                pb.PRIORITY_HIGH,
                5,
                "alice",
            ),
            (
                "Item drawer with comments",
                pb.WORK_ITEM_STATUS_IN_PROGRESS,
                pb.PRIORITY_MEDIUM,
                5,
                "bob",
            ),
            ("Offline banner", pb.WORK_ITEM_STATUS_IN_PROGRESS, pb.PRIORITY_LOW, 1, "alice"),
            ("Burndown chart", pb.WORK_ITEM_STATUS_TODO, pb.PRIORITY_MEDIUM, 3, "bob"),
            ("IndexedDB snapshot", pb.WORK_ITEM_STATUS_TODO, pb.PRIORITY_CRITICAL, 8, None),
            ("Keyboard moves", pb.WORK_ITEM_STATUS_BACKLOG, pb.PRIORITY_LOW, 2, None),
        ]
        project = setup(server, "SHOW", [])
        async with as_user(server, "alice", "Alice Smith") as pm:
            now = datetime.now(UTC)
            sprint = (
                await pm.create_sprint(
                    project_id=project.id,
                    name="Sprint 1",
                    starts_at=now - timedelta(days=4),
                    ends_at=now + timedelta(days=10),
                )
            ).sprint
            sprint = (
                await pm.transition_sprint(
                    sprint_id=sprint.id,
                    expected_version=sprint.version,
                    status=pb.SPRINT_STATUS_ACTIVE,
                )
            ).sprint
            for title, status, priority, points, assignee in titles:
                item = (
                    await pm.create_work_item(
                        project_id=project.id,
                        type=pb.WORK_ITEM_TYPE_STORY,
                        title=title,
                        status=pb.WORK_ITEM_STATUS_TODO
                        if status == pb.WORK_ITEM_STATUS_DONE
                        else status,
                        priority=priority,
                        story_points=points,
                        assignee_id=assignee,
                        sprint_id=sprint.id if status != pb.WORK_ITEM_STATUS_BACKLOG else None,
                    )
                ).item
                project.items[title] = item.id
                if status == pb.WORK_ITEM_STATUS_DONE:
                    await pm.update_work_item(item_id=item.id, status=status)
            drawer_item = project.items["Item drawer with comments"]
            await pm.create_comment(work_item_id=drawer_item, body="The drawer shows every field.")
        async with as_user(server, "bob", "Bob Builder") as pm:
            await pm.create_comment(
                work_item_id=drawer_item, body="Comments arrive live, no reload."
            )
        return project

    project = in_thread(showcase())
    alice = pages["alice"]
    open_board(alice, server, "alice", "Alice Smith", project)
    expect(alice.locator(".card")).to_have_count(8)
    alice.screenshot(path=str(shots / "web-board.png"))
    alice.locator(".card", has_text="Item drawer with comments").click()
    expect(alice.get_by_label("Comments", exact=True)).to_contain_text("Comments arrive live")
    alice.screenshot(path=str(shots / "web-drawer.png"))
    alice.get_by_role("button", name="Close").click()
    alice.get_by_role("tab", name="Burndown").click()
    expect(alice.locator(".burndown .actual")).to_have_count(1)
    # The server's report: 7 items of 27 points in the sprint, 5 of them done (2 items) today.
    expect(alice.locator(".burndown")).to_contain_text("7 items, 27 points; 22 remaining")
    alice.screenshot(path=str(shots / "web-burndown.png"))
    for name in ("web-board.png", "web-drawer.png", "web-burndown.png"):
        assert (shots / name).stat().st_size > 10_000


class HeldFrames:
    """Alice's WebSocket routed through the test: frames the page sends that ``hold`` picks are
    kept back until :meth:`release`; everything else passes both ways untouched."""

    def __init__(self) -> None:
        self.hold: Any = lambda message: False
        self.held: list[bytes] = []
        self.server: Any = None

    def route(self, ws: Any) -> None:
        self.server = ws.connect_to_server()
        ws.on_message(self.from_page)

    def from_page(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes) and self.hold(envelope_pb2.ClientMessage.FromString(frame)):
            self.held.append(frame)
        else:
            self.server.send(frame)

    def release(self) -> None:
        self.hold = lambda message: False
        for frame in self.held:
            self.server.send(frame)
        self.held.clear()


def test_switching_projects_while_one_loads_never_shows_the_old_project_in_the_new(
    server: Server, pages: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    # A tenant of its own: Alice's projects there are these two, RACE1 first.
    home = setup(server, "RACE1", ["Home card"], tenant="race")
    away = setup(server, "RACE2", ["Away card"], tenant="race")
    alice, bob = pages["alice"], pages["bob"]
    open_board(bob, server, "bob", "Bob Builder", away, tenant="race")  # Bob is here on RACE2
    frames = HeldFrames()
    alice.route_web_socket(re.compile(r".*/v1/ws$"), frames.route)
    open_board(alice, server, "alice", "Alice Smith", home, tenant="race")
    expect(alice.locator(".card", has_text="Home card")).to_be_visible()
    select = alice.get_by_label("Project", exact=True)

    def back_home_then_release(check: str) -> None:
        """Pick RACE1 again while frames are held, release them, and wait until the page has
        handled their answers: an item created after them shows, then one Alice adds (its reply
        comes after anything the page sent in answer to the released frames)."""
        select.select_option(home.id)
        expect(alice.locator(".card", has_text="Home card")).to_be_visible()
        frames.release()

        async def create() -> None:
            async with as_user(server, "alice", "Alice Smith", "race") as pm:
                await pm.create_work_item(
                    project_id=home.id,
                    type=pb.WORK_ITEM_TYPE_TASK,
                    title=f"{check} from elsewhere",
                    status=pb.WORK_ITEM_STATUS_TODO,
                )

        in_thread(create())
        expect(alice.locator(".card", has_text=f"{check} from elsewhere")).to_be_visible()
        todo = column(alice, pb.WORK_ITEM_STATUS_TODO)
        todo.get_by_role("button", name="+ Add item").click()
        todo.get_by_label("Title").fill(f"{check} added here")
        todo.get_by_role("button", name="Add").click()
        expect(alice.locator(".card", has_text=f"{check} added here")).to_be_visible()

    # RACE2's listing is held: Alice goes back to RACE1 before it loads.
    frames.hold = lambda m: (
        m.WhichOneof("command") == "list_work_items" and m.list_work_items.project_id == away.id
    )
    select.select_option(away.id)
    while not frames.held:
        alice.wait_for_timeout(50)
    back_home_then_release("First")
    expect(alice.locator(".card", has_text="Away card")).to_have_count(0)
    # The superseded load joined no presence: Bob, on RACE2 only, is not shown on RACE1.
    expect(alice.locator('.presence .avatar[title="Bob Builder"]')).to_have_count(0)
    expect(bob.locator('.presence .avatar[title="Alice Smith"]')).to_have_count(0)

    # A move on RACE2 whose answer comes after Alice went back to RACE1.
    select.select_option(away.id)
    card = alice.locator(".card", has_text="Away card")
    expect(card).to_be_visible()
    frames.hold = lambda m: m.WhichOneof("command") == "update_work_item"
    card.focus()
    alice.keyboard.press("Alt+ArrowRight")
    while not frames.held:
        alice.wait_for_timeout(50)
    back_home_then_release("Second")
    expect(alice.locator(".card", has_text="Away card")).to_have_count(0)
    expect(alice.locator(".card")).to_have_count(5)  # Home card, First x2, Second x2
