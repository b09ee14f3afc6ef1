"""The password sign-in page in a real Chromium: a wrong password is refused on the page, the
right one opens the board.

Its own server (built-in sign-in changes how every other module's tenants come to exist: with
PM_SIGNIN a token for a tenant that has no database is refused), so its own browser too (the
browser fixture is per module: Playwright's sync API holds this thread's event loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser import Server, serving

pytestmark = pytest.mark.timeout(300)

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def signin_server() -> Iterator[Server]:
    with serving({"PM_SIGNIN": "true"}) as srv:
        srv.pm(
            "tenant", "create", "signin", "--admin-email", "alice@example.com",
            "--admin-name", "Alice Smith",
        )  # fmt: skip
        srv.pm("user", "set-password", "signin", "alice@example.com", stdin=PASSWORD + "\n")
        yield srv


def test_a_wrong_password_shows_the_error_and_the_right_one_opens_the_board(
    signin_server: Server, browser: Any
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(signin_server.base_url + "/")
        form = page.get_by_role("form", name="Sign in")
        form.get_by_label("Organisation").fill("signin")
        form.get_by_label("Email").fill("alice@example.com")
        form.get_by_label("Password").fill("not the password")
        form.get_by_role("button", name="Sign in").click()
        expect(form.get_by_role("alert")).to_contain_text("wrong email or password")
        expect(page.locator(".topbar")).to_have_count(0)

        form.get_by_label("Password").fill(PASSWORD)
        form.get_by_role("button", name="Sign in").click()
        expect(page.locator(".topbar .me")).to_have_text("Alice Smith")
        expect(page.get_by_text("No project yet")).to_be_visible()
        # Signed in for real: the board works (a project made here opens with its lanes).
        page.get_by_role("button", name="New project").click()
        new = page.get_by_role("form", name="New project")
        new.get_by_placeholder("KEY").fill("SIGN")
        new.get_by_placeholder("Name").fill("Signed in")
        new.get_by_role("button", name="Create").click()
        expect(page.locator(".column").first).to_be_visible()
    finally:
        context.close()
