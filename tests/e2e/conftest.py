"""Browser tests of the live control desk: a real `fieldops serve`, a private Mosquitto, Chromium.

Skipped with the reason when Chromium or Mosquitto is missing locally; fatal in CI
(``CI=true``), like the PostgreSQL tests: CI must run them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.support.broker import mosquitto_binary
from tests.support.browser import CHROMIUM, chromium, chromium_available
from tests.support.live_server import LiveServer, live_server


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing; CI must run the browser tests (./run.sh test installs it)")
    pytest.skip(f"{what} is missing (./run.sh test installs it)")


def require_browser_and_broker() -> None:
    """Call before starting anything: a missing tool skips (or fails in CI) at once."""
    _require(chromium_available(), f"Chromium ({CHROMIUM})")
    _require(mosquitto_binary() is not None, "mosquitto")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    """One server per test module; each test works on its own tickets and devices."""
    _require(mosquitto_binary() is not None, "mosquitto")
    with live_server(tmp_path_factory.mktemp("desk-server"), sqlite_template) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module: a Playwright sync instance must be gone before another test module starts one."""
    _require(chromium_available(), f"Chromium ({CHROMIUM})")
    with chromium() as launched:
        yield launched


@dataclass
class Desk:
    """One desk screen: its own browser context (own storage, own stream) and page."""

    context: Any
    page: Any
    username: str
    stream_requests: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def open_desk(browser: Any, server: LiveServer) -> Iterator[Any]:
    """Open /desk/ in a new context and log in through the page; closes everything afterwards."""
    from playwright.sync_api import expect

    desks: list[Desk] = []

    def open_(
        username: str = "desk",
        *,
        locale: str = "zh-CN",
        viewport: tuple[int, int] = (1366, 768),
        login: bool = True,
        clock: bool | datetime = False,
    ) -> Desk:
        """``clock``: True installs Playwright's clock at now, a datetime at that time."""
        context = browser.new_context(locale=locale, viewport={"width": viewport[0], "height": viewport[1]})
        if isinstance(clock, datetime):
            context.clock.install(time=clock)
        elif clock:
            context.clock.install()
        page = context.new_page()
        desk = Desk(context, page, username)
        desks.append(desk)
        page.on("request", lambda r: desk.stream_requests.append(r) if "/api/desk/stream" in r.url else None)
        page.on("pageerror", lambda error: desk.errors.append(str(error)))
        # A label missing from i18n/*.json shows its key on screen; the page warns about it.
        page.on("console", lambda m: desk.errors.append(m.text) if "i18n: missing" in m.text else None)
        page.goto(f"{server.base_url}/desk/")
        if login:
            log_in(page, username)
        return desk

    def log_in(page: Any, username: str) -> None:
        page.locator("#login-username").fill(username)
        page.locator("#login-password").fill(f"demo-{username}")
        page.locator("#login-submit").click()
        expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=10_000)
        expect(page.locator("body")).to_have_attribute("data-connection", "live", timeout=10_000)

    yield open_
    for desk in desks:
        desk.context.close()
    errors = [e for desk in desks for e in desk.errors]
    assert not errors, f"JavaScript errors on the desk page: {errors}"


DURATION = re.compile(r"\d+:\d\d")


@pytest.fixture
def report_page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A report page in a new context, logged in the way the desk logs in (its token and user under
    the desk's storage keys); JavaScript errors and missing i18n keys fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(
        name: str, username: str | None = "desk", *, locale: str = "zh-CN", clock: bool = False,
        fragment: str = "",
    ) -> Any:
        context = browser.new_context(locale=locale, viewport={"width": 1366, "height": 900})
        contexts.append(context)
        if clock:
            context.clock.install()
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if "i18n: missing" in m.text else None)
        page.goto(f"{server.base_url}/desk/{name}{fragment}")
        if username is not None:
            sign_in_as_desk(page, server, username)
            page.reload()
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on a report page: {errors}"


def sign_in_as_desk(page: Any, server: LiveServer, username: str) -> None:
    token = server.login(username)
    with server.api(username) as api:
        user = api.get("/api/auth/me").json()
    page.evaluate(
        """async ([token, user]) => {
        const { STORAGE } = await import('/desk/js/config.js');
        localStorage.setItem(STORAGE.token, token);
        localStorage.setItem(STORAGE.user, JSON.stringify(user));
    }""",
        [token, user],
    )
