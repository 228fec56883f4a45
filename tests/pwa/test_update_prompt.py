"""The phone app's "update available" prompt, in Chromium against the real app and static route.

The server runs in this process on a copy of pwa/ (create_app serves ``server.app.PWA_DIR``),
so the test can ship a new service worker between visits without touching pwa/app/.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

import server.app
from server.app import create_app
from tests.conftest import make_settings
from tests.pwa.support import until
from tests.support.broker import free_port
from tests.support.browser import chromium

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_required")]

PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN"}
VERSION_LINE = re.compile(r'^const VERSION = "([^"]+)";', re.MULTILINE)
CACHES = "(async () => (await caches.keys()).filter((k) => k.startsWith('fieldops-app-')).sort())()"
CONTROLLED = "navigator.serviceWorker.controller !== null"


@dataclass
class AppCopy:
    base_url: str
    sw: Path  # the served copy of pwa/app/sw.js
    version: str  # its VERSION as shipped

    def ship(self, version: str) -> None:
        """Deploy a new shell: the same service worker with another VERSION."""
        source = self.sw.read_text(encoding="utf-8")
        self.sw.write_text(
            VERSION_LINE.sub(f'const VERSION = "{version}";', source, count=1), encoding="utf-8"
        )


@pytest.fixture
def app_copy(tmp_path: Path, sqlite_demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppCopy]:
    pwa = tmp_path / "pwa"
    shutil.copytree(server.app.PWA_DIR / "app", pwa / "app")
    sw = pwa / "app" / "sw.js"
    found = VERSION_LINE.search(sw.read_text(encoding="utf-8"))
    assert found, 'sw.js no longer declares `const VERSION = "…";`: this test must learn the new form'
    monkeypatch.setattr(server.app, "PWA_DIR", pwa)
    app = create_app(make_settings(tmp_path, sqlite_demo_url))
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    try:
        until(lambda: web.started or not thread.is_alive(), timeout=20, what="the server to start")
        assert thread.is_alive(), "the server stopped while starting"
        yield AppCopy(f"http://127.0.0.1:{port}", sw, found.group(1))
    finally:
        web.should_exit = True
        thread.join(timeout=20)


def _visit(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("input[name=username]")  # the app has started (login screen)
    page.wait_for_function(CONTROLLED, timeout=15000)


def _update_check(page: Any) -> None:
    """Look for a new service worker now and wait until the check is over."""
    page.evaluate("async () => { await (await navigator.serviceWorker.getRegistration()).update(); }")


def test_a_new_service_worker_is_offered_and_accepting_reloads_into_it(app_copy: AppCopy) -> None:
    old, new = app_copy.version, f"{app_copy.version}-next"
    with chromium() as browser:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        _visit(page, f"{app_copy.base_url}/app/")
        until(lambda: page.evaluate(CACHES) == [f"fieldops-app-{old}"], what="the shell precached")
        # A first visit installs the worker silently: nothing to update from.
        _update_check(page)
        assert page.is_hidden("#update")
        page.reload()
        page.wait_for_function(CONTROLLED)
        _update_check(page)
        assert page.is_hidden("#update")  # the same version again: still nothing

        app_copy.ship(new)
        page.reload()  # the browser checks for a new worker after each navigation in scope
        page.wait_for_function(CONTROLLED)
        banner = page.wait_for_selector("#update:not([hidden])", timeout=15000)
        assert "新版本" in banner.inner_text()
        # Until accepted, the page keeps running the old version (a checklist is never pulled away).
        assert page.evaluate("navigator.serviceWorker.controller.state") == "activated"
        assert page.evaluate("(async () => !!(await navigator.serviceWorker.getRegistration()).waiting)()")
        assert f"fieldops-app-{old}" in page.evaluate(CACHES)

        with page.expect_navigation(timeout=15000):
            page.click("#update-button")
        page.wait_for_selector("input[name=username]")
        page.wait_for_function(CONTROLLED)
        until(
            lambda: page.evaluate(CACHES) == [f"fieldops-app-{new}"],
            what=lambda: f"only the new cache, have {page.evaluate(CACHES)}",
        )
        assert (
            page.evaluate("(async () => (await navigator.serviceWorker.getRegistration()).waiting)()") is None
        )
        assert page.is_hidden("#update")  # reloaded into the new version: no prompt left
        context.close()
