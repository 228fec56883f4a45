"""The supervisor's compliance page (/desk/patrols.html) in Chromium against `fieldops serve`."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.pwa.support import batch, iso, run_item, until, vacant_answers
from tests.support.browser import chromium
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_required")]

SH = ZoneInfo("Asia/Shanghai")
PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "device_scale_factor": 2}
DESK = {"viewport": {"width": 1440, "height": 900}, "locale": "zh-CN"}


def _last_month() -> tuple[str, datetime]:
    first_of_this = datetime.now(SH).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = (first_of_this - timedelta(days=1)).replace(day=5, hour=10)
    return f"{last:%Y-%m}", last


def _login(server: LiveServer, username: str) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/api/auth/login", json={"username": username, "password": f"demo-{username}"}
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _sync(api: httpx.Client, body: dict[str, Any]) -> None:
    """Send a batch as the phone's outbox does: again after a 5xx (the sync is idempotent).

    On SQLite the server's background writers (SLA clocks, push) can commit between a request's
    first read and its first write; the request then fails with "database is locked" (a 500).
    """
    for _ in range(3):
        response = api.post("/api/patrols/sync", json=body)
        if response.status_code < 500:
            break
    assert response.status_code == 200, response.text
    assert response.json()["failed"] is None, response.text


def _patrols(server: LiveServer) -> dict[str, Any]:
    """Last month spec1 patrols unit A once and unit B twice from a phone whose clock is 10 min fast;
    spec2's phone synced once and has been silent for 6 hours."""
    month, day = _last_month()
    with server.api("spec1") as api:
        points = api.get("/api/patrols/checkpoints").json()
        vacant = [c for c in points if c["kind"] == "vacant_unit"]
        once, twice = vacant[:2]
        runs = [
            run_item(once["tag"], day, vacant_answers()),
            run_item(twice["tag"], day, vacant_answers()),
            run_item(twice["tag"], day + timedelta(days=16), vacant_answers()),
        ]
        fast = datetime.now(UTC) + timedelta(minutes=10)
        _sync(api, batch(runs, sent_at=fast, device_id="phone-spec1-fast"))
    with server.api("spec2") as api:
        corridor = next(
            c for c in api.get("/api/patrols/checkpoints").json() if c["slug"] == "b2-f01-corridor"
        )
        item = {
            "id": "1b7f3c2e-0000-4000-8000-000000000001",
            "kind": "scan",
            "device_time": iso(day),
            "payload": {"tag": corridor["tag"], "via": "qr"},
        }
        _sync(api, batch([item], device_id="phone-spec2-quiet"))
    with sqlite3.connect(server.database_url.split("///", 1)[1]) as db:
        quiet = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%d %H:%M:%S.%f")
        db.execute("update patrol_devices set last_sync_at = ? where id = 'phone-spec2-quiet'", (quiet,))
    with server.api("supervisor") as api:
        report = api.get("/api/patrols/compliance", params={"month": month}).json()
        phones = {p["device_id"]: p for p in api.get("/api/patrols/devices").json()}
    assert phones["phone-spec2-quiet"]["stale"]
    assert not phones["phone-spec1-fast"]["stale"]
    return {"month": month, "once": once, "twice": twice, "report": report}


def _sign_in(page: Any, session: dict[str, Any]) -> None:
    """Log in the way the desk does: its token and user under the desk's own storage keys."""
    page.evaluate(
        """async ([token, user]) => {
        const { STORAGE } = await import('/desk/js/config.js');
        localStorage.setItem(STORAGE.token, token);
        localStorage.setItem(STORAGE.user, JSON.stringify(user));
    }""",
        [session["token"], session["user"]],
    )


def _row(page: Any, building: str, specialist: str) -> Any:
    return page.locator(f"#compliance tbody tr[data-building='{building}'][data-specialist='{specialist}']")


def _cells(row: Any) -> list[str]:
    return [c.strip() for c in row.locator("th, td").all_inner_texts()]


def test_the_supervisor_sees_missed_patrols_stale_phones_and_downloads_the_report(
    live: LiveServer, tmp_path: Path
) -> None:
    data = _patrols(live)
    b1 = next(b for b in data["report"]["buildings"] if b["building"] == "b1")
    assert b1["missed"] > 0
    with chromium() as browser:
        context = browser.new_context(**DESK, accept_downloads=True)
        page = context.new_page()
        page.goto(f"{live.base_url}/desk/patrols.html")
        # Not logged in: sent to the desk to log in.
        page.wait_for_selector("#signin:not([hidden])")
        assert "登录" in page.inner_text("#signin")
        assert page.eval_on_selector("#signin a", "a => a.href") == f"{live.base_url}/desk/"
        assert page.is_hidden("#main")

        _sign_in(page, _login(live, "supervisor"))
        page.reload()
        page.wait_for_selector("#main:not([hidden])")
        assert "客服主管" in page.inner_text("#who")
        page.fill("#month", data["month"])
        page.click("#filters button[type=submit]")
        row = _row(page, "b1", "spec1")
        row.wait_for()
        until(lambda: f"统计期间 {data['month']}-01" in page.inner_text("#range"), what="last month's report")

        # One row per building and specialist; b1's missed patrols are red on spec1's row.
        cells = _cells(row)
        assert cells[2:5] == [str(b1["due"]), str(b1["done"]), str(b1["missed"])]
        assert "has-missed" in (row.get_attribute("class") or "")
        assert "missed" in (row.locator("td").nth(3).get_attribute("class") or "")
        assert cells[7:9] == ["3", "3"]  # spec1's own patrols, and those that counted
        assert _row(page, "b2", "spec2").count() == 1

        # Filters: one specialist, one building.
        page.select_option("#specialist", "spec2")
        until(lambda: page.locator("#compliance tbody tr").count() == 1, what="spec2's row only")
        assert _row(page, "b2", "spec2").count() == 1
        page.select_option("#specialist", "")
        page.select_option("#building", "b1")
        until(lambda: page.locator("#compliance tbody tr[data-building='b2']").count() == 0, what="b1 only")
        assert _row(page, "b1", "spec1").count() == 1

        # CSV of what the table shows.
        with page.expect_download() as download:
            page.click("#csv")
        assert download.value.suggested_filename == f"patrols-{data['month']}.csv"
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("\ufeff")
        lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
        assert lines[0][:5] == ["楼栋", "楼栋", "专员", "专员", "应巡"]
        assert [line[:3] + line[4:7] for line in lines[1:]] == [
            ["b1", b1["name"], "spec1", str(b1["due"]), str(b1["done"]), str(b1["missed"])]
        ]

        # Drill-down: the missed checkpoint-periods of b1. The button counts those, the column patrols.
        assert "漏巡次数" in page.inner_text("#compliance thead")
        drill = row.locator("button[data-drill='b1']")
        assert drill.inner_text() == f"漏巡周期（{len(b1['missed_periods'])} 个）"
        drill.click()
        page.wait_for_selector("#drill:not([hidden])")
        assert b1["name"] in page.inner_text("#drill-title")
        once = page.locator(f"details[data-checkpoint='{data['once']['slug']}']")
        assert once.count() == 1
        once.locator("summary").click()
        assert "1/2" in once.inner_text()
        assert data["month"] in once.inner_text()
        assert page.locator(f"details[data-checkpoint='{data['twice']['slug']}']").count() == 0
        page.select_option("#drill-kind", "vacant_unit")
        vacant_missed = [m for m in b1["missed_periods"] if m["kind"] == "vacant_unit"]
        assert page.inner_text("#drill-count") == f"漏巡 {len(vacant_missed)} 个周期"
        assert page.locator("#drill-list details").count() == len({m["checkpoint_id"] for m in vacant_missed})
        with page.expect_download() as download:
            page.click("#drill-csv")
        missed_lines = list(
            csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8").lstrip("\ufeff")))
        )
        assert len(missed_lines) == 1 + len(vacant_missed)
        assert [data["once"]["slug"], "2", "1"] in [[m[1], m[6], m[7]] for m in missed_lines]

        # Phones: the silent one in red, the fast clock flagged.
        quiet = page.locator("#phones tr[data-device='phone-spec2-quiet']")
        assert "stale" in (quiet.get_attribute("class") or "")
        assert "超过 4 小时未同步" in quiet.inner_text()
        assert "spec2" in quiet.inner_text()
        assert "6 小时前" in quiet.inner_text()
        fast = page.locator("#phones tr[data-device='phone-spec1-fast']")
        assert "stale" not in (fast.get_attribute("class") or "")
        assert "时间异常" in fast.inner_text()
        assert re.search(r"\+(59\d|60\d) 秒", fast.inner_text())  # its clock is 10 minutes fast
        assert page.locator("#phones tbody tr").first.get_attribute("data-device") == "phone-spec2-quiet"

        # A custom range of days.
        month = data["month"]
        page.check("input[name=mode][value=range]")
        page.fill("#first", f"{month}-03")
        page.fill("#last", f"{month}-04")
        page.click("#filters button[type=submit]")
        until(lambda: f"{month}-03 至 {month}-04" in page.inner_text("#range"), what="the two days' report")
        with live.api("supervisor") as api:
            two_days = api.get(
                "/api/patrols/compliance",
                params={"first": f"{month}-03", "last": f"{month}-04", "building": "b1"},
            ).json()
        assert _cells(_row(page, "b1", "spec1"))[2] == str(two_days["buildings"][0]["due"]) != cells[2]

        # English, and the choice is kept for the desk too.
        page.select_option("#lang-select", "en")
        page.wait_for_selector("h1:has-text('Patrol compliance')")
        assert "Not synced for over 4 h" in quiet.inner_text()
        assert page.evaluate("document.documentElement.lang") == "en"
        page.reload()
        page.wait_for_selector("h1:has-text('Patrol compliance')")
        context.close()


def test_on_a_phone_it_fits_the_screen_and_a_specialist_is_refused(live: LiveServer) -> None:
    with chromium() as browser:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.goto(f"{live.base_url}/desk/patrols.html")
        page.wait_for_selector("#signin:not([hidden])")
        _sign_in(page, _login(live, "supervisor"))
        page.reload()
        page.wait_for_selector("#compliance tbody tr[data-building='b1']")
        # Wide tables scroll inside their cards; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        heights = page.eval_on_selector_all(
            "#filters button, #filters select, #compliance button", "els => els.map((e) => e.offsetHeight)"
        )
        assert min(heights) >= 44  # thumb-sized targets

        _sign_in(page, _login(live, "spec1"))
        page.reload()
        page.wait_for_selector("#denied:not([hidden])")
        assert "客服主管" in page.inner_text("#denied")
        assert page.is_hidden("#main")
        context.close()


def test_the_page_files_are_complete_and_local() -> None:
    """No build step: translations complete, every key the page uses exists, nothing from a CDN."""
    desk = Path(__file__).resolve().parents[2] / "pwa" / "desk"
    zh, en = (
        json.loads((desk / "i18n" / f"patrols.{lang}.json").read_text(encoding="utf-8"))
        for lang in ("zh-CN", "en")
    )
    assert set(zh) == set(en)
    assert all(v.strip() for v in [*zh.values(), *en.values()])
    scripts = [desk / "js" / "patrols_page.js", *sorted((desk / "js").glob("patrols_*.js"))]
    html = (desk / "patrols.html").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n="([^"]+)"', html))
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bmsg\(\s*'([a-z_.\-A-Z0-9]+)'", source))
        used |= {f"kind.{k}" for k in ("vacant_unit", "renovation_unit", "public_area")}
        # Column names through a local helper: c('due') is col.due or phones.due.
        for key in re.findall(r"\bc\('([a-z_]+)'\)", source):
            assert f"col.{key}" in zh or f"phones.{key}" in zh, key
        assert not re.search(r"[\u3400-\u9fff]", re.sub(r"//.*", "", source)), (
            f"{script.name}: Chinese in code"
        )
        for target in re.findall(r"from\s+'(\.[^']+)'", source):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports missing {target}"
    assert not used - set(zh), sorted(used - set(zh))
    for text in (html, (desk / "patrols.css").read_text(encoding="utf-8")):
        assert not re.search(r"""(?:src|href)=["'](?:https?:)?//|url\(\s*['"]?(?:https?:)?//""", text)
