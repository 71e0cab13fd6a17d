"""Playwright driving Debian's Chromium (never a downloaded browser) against live_server.

On CI (CI=true) a missing Chromium is a failure, elsewhere a skip with the reason.
Screenshots of each step land in test-artifacts/browser/.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def chromium_path():
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: run scripts/install-browser"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the browser tests)")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def browser(chromium_path, transactional_db, live_server, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # (setup and checks, never concurrent with the server thread's requests) are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server answers each request in a new thread; a persistent connection would
    # outlive its thread and keep PostgreSQL from dropping the test database at the end.
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
        # ORM calls made while Playwright runs get their own connection (asgiref's Local
        # follows the context Playwright switched to); close it here, in that same context,
        # or PostgreSQL cannot drop the test database at the end.
        connections.close_all()


class Session:
    """One signed-in person in their own browser context."""

    def __init__(self, browser, live_server, username, password="pw-for-tests", locale="en-US"):
        self.base = live_server.url
        # The browser's own locale only shapes native widgets (file and date pickers); the
        # interface language must follow the user's preference whatever Accept-Language says.
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.page.goto(f"{self.base}/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_selector("#user-tools")

    def goto(self, path):
        self.page.goto(self.base + path)

    def shot(self, name):
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()


@pytest.fixture
def login(browser, live_server):
    sessions = []

    def open_session(username, locale="en-US"):
        session = Session(browser, live_server, username, locale=locale)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        session.close()
