"""Acceptance in Chromium against a real server and database: offline patrol, outbox replay, 409,
scanning a tag-sheet QR through a fake camera, a forged tag refused (the update prompt:
test_update_prompt.py)."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.pwa.camera import camera_flags, write_y4m
from tests.pwa.support import until
from tests.support.browser import chromium, persistent_chromium
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_required")]
PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "device_scale_factor": 2}
PHOTO = Path(__file__).resolve().parents[2] / "pwa" / "app" / "icons" / "icon-512.png"
OUTBOX = "(async (fn) => { const o = await import('/app/js/outbox.js'); return fn(o); })"


@pytest.fixture
def server(live: LiveServer) -> LiveServer:
    return live


def _db_count(server: LiveServer, sql: str) -> int:
    path = server.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _login(page: Any, base: str) -> None:
    page.goto(f"{base}/app/")
    page.fill("input[name=username]", "spec1")
    page.fill("input[name=password]", "demo-spec1")
    page.click("button[type=submit]")
    page.wait_for_selector("#scan-button")
    # The shell is cached and the checkpoints are in IndexedDB before we go offline.
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
    page.wait_for_function("""async () => { const db = await import('/app/js/db.js');
        return !!(await db.get('cache', 'checkpoints')) && !!(await db.get('cache', 'today')); }""")


def _go_offline(context: Any) -> None:
    # set_offline emulates the page's network only: the service worker is not emulated, and
    # its Background Sync would reach the server while the page believes it is offline. So
    # the page does not see SyncManager here (the app then replays on `online` and start).
    context.add_init_script("delete window.SyncManager;")
    context.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    context.set_offline(True)


def _vacant_tag(server: LiveServer) -> dict[str, Any]:
    with server.api("spec1") as api:
        return next(c for c in api.get("/api/patrols/checkpoints").json() if c["kind"] == "vacant_unit")


def _fill_vacant_patrol(page: Any) -> None:
    for key in (
        "entry_door",
        "walls",
        "doors_windows",
        "intercom",
        "gas_meter",
        "lock",
        "occupation",
        "cleaning",
    ):
        page.click(f"label[for={key}-ok]")
    page.click("label[for=leaks-defect]")
    page.fill("textarea[name=leaks-note]", "卫生间天花板渗水")
    page.set_input_files("input[name=leaks-photo]", str(PHOTO))
    page.wait_for_selector(".button.photo.done")
    page.fill("input[name=water_meter]", "12.5")
    page.click("button[type=submit].primary")


def test_offline_patrol_survives_a_restart_and_syncs_exactly_once(server: LiveServer, tmp_path: Path) -> None:
    checkpoint = _vacant_tag(server)
    profile = tmp_path / "profile"
    with persistent_chromium(profile, **PHONE) as context:
        page = context.pages[0] if context.pages else context.new_page()
        _login(page, server.base_url)
        _go_offline(context)
        response = page.reload()
        assert response is not None
        assert response.from_service_worker  # the app shell comes from the service worker
        page.wait_for_selector("#scan-button")
        assert "离线" in page.inner_text("#net")
        page.click("#scan-button")
        page.fill("#manual-code", checkpoint["tag"])
        page.click("form.manual button[type=submit]")
        page.wait_for_selector(f"h2:has-text('{checkpoint['label']}')")
        page.click("button[type=submit].primary")  # nothing answered yet: refused with a message
        assert "请回答" in page.inner_text(".checklist .error")
        _fill_vacant_patrol(page)
        page.wait_for_selector("#scan-button")
        until(lambda: "待同步 3 条" in page.inner_text("#pending"), what="3 pending")  # scan, photo, run
        # Logging out with pending work is refused.
        page.click("text=设置")
        page.click("#logout")
        page.wait_for_selector("#logout-message:has-text('3 条记录未同步')")
        assert page.is_visible("#export-logout")  # the way out: export first

    assert _db_count(server, "select count(*) from patrol_runs") == 0
    with persistent_chromium(profile, **PHONE) as context:
        _go_offline(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{server.base_url}/app/")
        runs = "select count(*) from patrol_runs"
        until(
            lambda: "待同步 3 条" in page.inner_text("#pending"),
            what=lambda: (
                f"pending kept across restart: {page.inner_text('#pending')!r}, "
                f"runs on server {_db_count(server, runs)}"
            ),
        )
        snapshot = page.evaluate(OUTBOX + "(o => o.exportAll())")
        assert [i["kind"] for i in snapshot["items"]] == ["scan", "photo", "patrol_run"]
        context.unroute("**/api/**")
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")  # as the OS would on reconnect
        until(lambda: "已全部同步" in page.inner_text("#pending"), timeout=20, what="synced")
        assert "上次同步" in page.inner_text("#last-sync")

        counts = (
            "select count(*) from patrol_runs",
            "select count(*) from tickets where kind = 'patrol_defect'",
            "select count(*) from ticket_attachments t join tickets k on k.id = t.ticket_id "
            "where k.kind = 'patrol_defect'",
            "select count(*) from attachments",
            "select count(*) from patrol_scans",
        )
        assert [_db_count(server, q) for q in counts] == [1, 1, 1, 1, 1]

        # Replaying the very same outbox creates nothing new.
        page.evaluate(OUTBOX + "(o => o.importItems(" + _json(snapshot) + "))")
        page.evaluate(OUTBOX + "(o => o.sync({force: true}))")
        until(lambda: "已全部同步" in page.inner_text("#pending"), what="replay acknowledged")
        assert [_db_count(server, q) for q in counts] == [1, 1, 1, 1, 1]

        # A changed replay (same UUID, other content) is a 409 the app shows.
        changed = copy.deepcopy(snapshot)
        changed["items"] = [i for i in changed["items"] if i["kind"] == "patrol_run"]
        changed["photos"] = {}
        for answer in changed["items"][0]["payload"]["answers"]:
            if answer["item"] == "water_meter":
                answer["number"] = 99.0
        page.evaluate(OUTBOX + "(o => o.importItems(" + _json(changed) + "))")
        page.evaluate(OUTBOX + "(o => o.sync({force: true}))")
        banner = page.wait_for_selector("#conflict:not([hidden])")
        assert "409" in banner.inner_text()
        assert [_db_count(server, q) for q in counts] == [1, 1, 1, 1, 1]
        page.click("button:has-text('待同步')")
        page.wait_for_selector("ul.pending li.conflict")
        assert "冲突 409" in page.inner_text("ul.pending")


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _scan_with_camera(server: LiveServer, y4m: Path) -> Any:
    with chromium(extra_args=camera_flags(y4m)) as browser:
        context = browser.new_context(**PHONE)
        context.grant_permissions(["camera"], origin=server.base_url)
        page = context.new_page()
        page.goto(f"{server.base_url}/app/")
        page.fill("input[name=username]", "spec1")
        page.fill("input[name=password]", "demo-spec1")
        page.click("button[type=submit]")
        page.wait_for_selector("#scan-button")
        page.wait_for_function(
            "async () => !!(await (await import('/app/js/db.js')).get('cache', 'checkpoints'))"
        )
        page.click("#scan-button")
        yield page
        context.close()


def test_scanning_a_printed_tag_opens_its_checklist(server: LiveServer, tmp_path: Path) -> None:
    checkpoint = _vacant_tag(server)
    y4m = write_y4m(tmp_path / "tag.y4m", checkpoint["tag"])
    for page in _scan_with_camera(server, y4m):
        page.wait_for_selector(f"h2:has-text('{checkpoint['label']}')", timeout=20000)
        assert page.is_visible("fieldset[data-item=water_meter]")


def test_a_forged_tag_is_refused_with_a_clear_message(server: LiveServer, tmp_path: Path) -> None:
    checkpoint = _vacant_tag(server)
    forged = checkpoint["tag"][:-4] + ("AAAA" if not checkpoint["tag"].endswith("AAAA") else "BBBB")
    y4m = write_y4m(tmp_path / "forged.y4m", forged)
    for page in _scan_with_camera(server, y4m):
        page.wait_for_selector("#scan-message:has-text('标签无效')", timeout=20000)
        assert "伪造" in page.inner_text("#scan-message")
        assert not page.is_visible("form.checklist")
