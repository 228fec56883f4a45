"""Helpers for the dispatch inbox and push browser tests: a real server, the phone app, tickets."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.support.broker import mosquitto_binary
from tests.support.browser import CHROMIUM, chromium_available
from tests.support.desk_requests import staff_id
from tests.support.live_server import LiveServer

PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "device_scale_factor": 2}
OUTBOX = "(async (fn) => { const o = await import('/app/js/outbox.js'); return fn(o); })"


def require_browser_and_broker() -> None:
    """Skip locally (fail in CI) when Chromium or Mosquitto is missing."""
    for ok, what in (
        (chromium_available(), f"Chromium ({CHROMIUM})"),
        (mosquitto_binary() is not None, "mosquitto"),
    ):
        if not ok:
            if IN_CI:
                pytest.fail(f"{what} is missing; CI must run the browser tests")
            pytest.skip(f"{what} is missing (./run.sh test installs it)")


def until(check: Callable[[], Any], timeout: float = 15, what: Any = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.1)


def watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def log_in(page: Any, base: str, username: str = "spec1") -> None:
    page.goto(f"{base}/app/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"demo-{username}")
    page.click("button[type=submit]")
    page.wait_for_selector("#inbox-button")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)


def go_offline(context: Any) -> None:
    """The page's network off. set_offline does not cover the service worker, whose Background
    Sync would reach the server: the page then does not see SyncManager (as in test_browser.py)."""
    context.add_init_script("delete window.SyncManager;")
    context.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    context.set_offline(True)


def go_online(context: Any, page: Any) -> None:
    context.unroute("**/api/**")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # as the OS would on reconnect


def dispatch(server: LiveServer, ticket_id: int, username: str = "spec1") -> dict[str, Any]:
    with server.api("desk") as api:
        response = api.post(
            f"/api/tickets/{ticket_id}/actions",
            json={"action": "dispatch", "assignee_id": staff_id(server, username)},
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


def ticket(server: LiveServer, ticket_id: int, username: str = "desk") -> dict[str, Any]:
    with server.api(username) as api:
        response = api.get(f"/api/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def sla(server: LiveServer, ticket_id: int) -> dict[str, dict[str, Any]]:
    with server.api("desk") as api:
        response = api.get(f"/api/tickets/{ticket_id}/sla")
    assert response.status_code == 200, response.text
    return {c["clock"]: c for c in response.json()["clocks"]}


def db_value(server: LiveServer, sql: str, *params: Any) -> Any:
    path = server.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


def db_execute(server: LiveServer, sql: str, *params: Any) -> None:
    path = server.database_url.split("///", 1)[1]
    with sqlite3.connect(path, timeout=10) as conn:
        conn.execute(sql, params)


def sqlite_time(at: datetime) -> str:
    """How server.db.UTCDateTime stores a time on SQLite (naive UTC)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def to_js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
