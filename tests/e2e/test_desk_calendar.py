"""The desk's working calendar (工作日历, /desk/calendar.html) in Chromium against `fieldops serve`.

2026 is in the chinesecalendar package; 2027 and 2028 are not, so an admin types them in from the
State Council's notice. Each test that writes clears its own year through the API first: the
server (and its database) is shared by the whole module.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import require_browser_and_broker, sign_in_as_desk
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.broker]

SITE = "xinwaitan"  # the demo estate's slug (GET /api/estate)
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS_PATH = re.compile(r"/api/calendar/[^/]+/days/\d{4}-\d\d-\d\d$")


@pytest.fixture(autouse=True, scope="module")
def _prerequisites() -> None:
    require_browser_and_broker()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.fixture
def calendar_page(report_page: Any) -> Callable[..., Any]:
    """calendar.html (at ``year`` if given) through the report pages' opener."""

    def open_(username: str | None = "admin", *, year: int | None = None, locale: str = "zh-CN") -> Any:
        return report_page("calendar.html", username, locale=locale, fragment=f"#year={year}" if year else "")

    return open_


def _year(server: LiveServer, year: int) -> dict[str, Any]:
    with server.api("desk") as api:
        response = api.get(f"/api/calendar/{SITE}/{year}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _overrides(server: LiveServer, year: int) -> dict[str, dict[str, Any]]:
    return {d["day"]: d for d in _year(server, year)["days"] if d["source"] == "override"}


def _clear_year(server: LiveServer, year: int) -> None:
    with server.api("admin") as api:
        for day in _overrides(server, year):
            assert api.delete(f"/api/calendar/{SITE}/days/{day}").status_code == 204


def _writes(page: Any) -> list[str]:
    """Every PUT or DELETE of a calendar day the page sends, as "METHOD day"."""
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url.rsplit('/', 1)[1]}")
            if DAYS_PATH.search(r.url) and r.method in ("PUT", "DELETE") else None)
    return sent


def _wait_until(page: Any, done: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Poll with a deadline; the Playwright call lets route handlers and events run meanwhile."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(20)


def _enter(page: Any, start: str, end: str | None, kind: str, name: str) -> None:
    page.fill("#from", start)
    page.dispatch_event("#from", "change")
    if end is not None:
        page.fill("#to", end)
    page.check(f"#entry input[name='kind'][value='{kind}']")
    page.fill("#name", name)
    page.click("#save")


def _row(page: Any, day: str) -> Any:
    return page.locator(f"#days tbody tr[data-day='{day}']")


def test_an_admin_enters_a_year_the_official_data_lacks_and_removes_a_day(
    server: LiveServer, calendar_page: Any
) -> None:
    expect = _expect()
    _clear_year(server, 2027)
    page = calendar_page("admin", year=2027)
    sent = _writes(page)

    banner = page.locator("#uncovered")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-state", "empty")
    expect(banner).to_contain_text("系统中还没有 2027 年的国家法定节假日安排")
    expect(banner).to_contain_text("只有周六、周日算休息日")
    expect(banner).to_contain_text("国务院办公厅关于2027年部分节假日安排的通知")
    expect(page.locator("#empty")).to_contain_text("2027 年没有任何放假或调休日期")
    expect(page.locator("#readonly")).to_be_hidden()

    # Spring Festival, seven days off; the PUTs are held so the progress can be read between them.
    held: list[Any] = []
    release = {"all": False}

    def hold(route: Any) -> None:
        if release["all"] or route.request.method != "PUT":
            route.continue_()
        else:
            held.append(route)

    page.route(DAYS_PATH, hold)
    _enter(page, "2027-02-05", "2027-02-11", "off", "春节")
    status = page.locator("#entry-status")
    for done in range(3):
        _wait_until(page, lambda: len(held) == 1, f"PUT number {done + 1} was not sent")
        expect(status).to_have_text(f"正在保存：已保存 {done} / 7 天…")
        expect(page.locator("#entry-progress")).to_be_visible()
        held.pop().continue_()
    expect(status).to_have_text("正在保存：已保存 3 / 7 天…")
    assert page.eval_on_selector("#entry-progress", "p => [p.value, p.max]") == [3, 7]
    release["all"] = True
    _wait_until(page, lambda: len(held) == 1, "the fourth PUT was not sent")
    held.pop().continue_()
    expect(status).to_have_text("已保存 7 天：2027-02-05 至 2027-02-11 设为「休息」（春节）。")
    expect(page.locator("#entry-progress")).to_be_hidden()
    assert sent == [f"PUT 2027-02-{d:02d}" for d in range(5, 12)]  # in turn, once each

    for d in range(5, 12):
        row = _row(page, f"2027-02-{d:02d}")
        expect(row).to_have_attribute("data-working", "false")
        expect(row).to_have_attribute("data-source", "override")
    saturday = _row(page, "2027-02-06")
    expect(saturday.locator("th")).to_contain_text("周六")
    expect(saturday.locator("td.working")).to_have_text("休息")
    expect(saturday.locator("td.source")).to_contain_text("本小区录入")
    expect(saturday.locator("td.source")).to_contain_text("该年无国家安排数据")
    expect(saturday.locator("td.edited")).to_contain_text("系统管理员")  # the editor's name, not the login
    expect(saturday.locator("td.edited")).to_contain_text(re.compile(r"\d\d:\d\d"))
    saved = _overrides(server, 2027)
    assert {day: (d["is_working"], d["note"], d["edited_by"]) for day, d in saved.items()} == {
        f"2027-02-{d:02d}": (False, "春节", "admin") for d in range(5, 12)
    }

    # One Saturday made a working day (调休上班): one date, the end follows the start.
    _enter(page, "2027-02-20", None, "work", "春节调休上班")
    expect(status).to_have_text("已保存：2027-02-20 设为「上班」（春节调休上班）。")
    makeup = _row(page, "2027-02-20")
    expect(makeup).to_have_attribute("data-working", "true")
    expect(makeup.locator("td.working")).to_have_text("上班")
    expect(makeup.locator("th")).to_contain_text("周六")
    assert _overrides(server, 2027)["2027-02-20"]["is_working"] is True
    expect(page.locator("#off-count")).to_have_text("放假 7 天")
    expect(page.locator("#work-count")).to_have_text("调休上班 1 天")
    # Still no official data: the banner stays, now asking to check what was entered.
    expect(banner).to_have_attribute("data-state", "partial")
    expect(banner).to_contain_text("本小区已录入放假 7 天、调休上班 1 天")

    # Remove asks first; cancelled, nothing is sent.
    dialogs: list[str] = []

    def answer(accept: bool) -> Callable[[Any], None]:
        def handle(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    thursday = _row(page, "2027-02-11")
    page.once("dialog", answer(False))
    thursday.locator("button.remove").click()
    _wait_until(page, lambda: len(dialogs) == 1, "no confirmation was asked")
    assert "2027-02-11" in dialogs[0]
    assert "删除后该日按周一至周五上班、周末休息计为「上班」" in dialogs[0]  # a Thursday, no official data
    expect(thursday).to_be_visible()
    assert "DELETE 2027-02-11" not in sent

    page.once("dialog", answer(True))
    thursday.locator("button.remove").click()
    expect(thursday).to_have_count(0)
    expect(status).to_have_text("已删除 2027-02-11 的本小区设置，该日现为「上班」。")
    assert sent[-1] == "DELETE 2027-02-11"
    left = _overrides(server, 2027)
    assert "2027-02-11" not in left
    assert len(left) == 7
    expect(_row(page, "2027-02-10")).to_be_visible()
    expect(page.locator("#off-count")).to_have_text("放假 6 天")


def test_a_bad_range_is_refused_before_sending_and_a_refusal_stops_the_run(
    server: LiveServer, calendar_page: Any
) -> None:
    expect = _expect()
    _clear_year(server, 2028)
    page = calendar_page("supervisor", year=2028)  # a supervisor may edit too
    sent = _writes(page)
    status = page.locator("#entry-status")
    expect(page.locator("#entry-card")).to_be_visible()

    page.click("#save")
    expect(status).to_have_text("请填写开始日期和结束日期。")
    _enter(page, "2028-10-07", "2028-10-01", "off", "国庆节")
    expect(status).to_have_text("开始日期晚于结束日期，请检查。未保存任何日期。")
    expect(status).to_have_class(re.compile(r"\berror\b"))
    _enter(page, "2028-01-01", "2028-02-01", "off", "寒假")
    expect(status).to_have_text("一次最多录入 31 天，所选为 32 天。请分段录入。未保存任何日期。")
    _enter(page, "2028-10-01", "2028-10-03", "off", "  ")
    expect(status).to_have_text("请填写名称（如：春节、春节调休上班）。")
    page.wait_for_timeout(200)  # time for a wrongly sent request to show up
    assert sent == []
    assert _overrides(server, 2028) == {}

    # Exactly 31 days is allowed; here the server refuses the third day: the run stops there,
    # says why in the desk's words, and keeps the two days saved before it.
    problem = '{"status": 403, "title": "Forbidden", "detail": "role", "code": "forbidden"}'
    page.route(
        re.compile(r"/days/2028-05-03$"),
        lambda route: route.fulfill(status=403, content_type="application/problem+json", body=problem),
    )
    _enter(page, "2028-05-01", "2028-05-31", "off", "劳动节")
    expect(status).to_contain_text("2028-05-03 未保存，已停止：已保存 2 / 31 天，已保存的不受影响。")
    expect(status).to_contain_text("原因：您的角色无权执行此操作")
    assert sent == ["PUT 2028-05-01", "PUT 2028-05-02", "PUT 2028-05-03"]
    assert set(_overrides(server, 2028)) == {"2028-05-01", "2028-05-02"}
    expect(_row(page, "2028-05-02")).to_be_visible()
    expect(_row(page, "2028-05-03")).to_have_count(0)
    expect(page.locator("#save")).to_be_enabled()
    _clear_year(server, 2028)


@pytest.mark.parametrize("username", ["desk", "manager"])
def test_roles_that_may_not_edit_see_the_calendar_read_only(
    server: LiveServer, calendar_page: Any, username: str
) -> None:
    expect = _expect()
    page = calendar_page(None, year=2027)
    expect(page.locator("#signin")).to_contain_text("请先在客服中心监控台登录")
    expect(page.locator("#main")).to_be_hidden()

    sign_in_as_desk(page, server, username)
    page.reload()
    expect(page.locator("#uncovered")).to_be_visible()
    expect(page.locator("#uncovered-who")).to_have_text("请系统管理员或客服主管录入。")
    expect(page.locator("#readonly")).to_have_text("只有系统管理员和客服主管可以修改工作日历；发现错漏请告知他们。")
    expect(page.locator("#entry-card")).to_be_hidden()
    expect(page.locator("#entry")).to_be_hidden()
    expect(page.locator("#days-title")).to_have_text("2027 年特殊日期")
    expect(page.locator("button.remove")).to_have_count(0)
    expect(page.locator("#days thead th", has_text="操作")).to_be_hidden()

    # A login that ran out while the page was open: sent back to the desk.
    page.route(re.compile(r"/api/calendar/"), lambda route: route.fulfill(
        status=401, content_type="application/problem+json", body='{"status": 401, "code": "auth.required"}'))
    page.click("#next-year")
    expect(page.locator("#signin")).to_contain_text("登录已过期")


def test_a_covered_year_lists_the_official_days_in_both_languages(
    server: LiveServer, calendar_page: Any
) -> None:
    expect = _expect()
    page = calendar_page("admin", year=2026, locale="en-US")
    expect(page.locator("h1")).to_have_text("Working calendar")
    expect(page.locator("#days-title")).to_have_text("Special days of 2026")
    national = _row(page, "2026-10-01")
    expect(national.locator("th")).to_have_text("2026-10-01 Thu")
    expect(national.locator("td.name")).to_contain_text("National Day")
    expect(national.locator("td.name")).to_contain_text("国庆节")
    expect(national.locator("td.working")).to_have_text("Day off")
    expect(national.locator("td.source")).to_have_text("Official schedule")
    expect(national.locator("button.remove")).to_have_count(0)  # an official day is not the site's to drop
    makeup = _row(page, "2026-10-10")
    expect(makeup.locator("td.working")).to_have_text("Working day")
    expect(makeup.locator("td.name")).to_contain_text("Make-up working day (National Day)")
    expect(page.locator("#uncovered")).to_be_hidden()
    expect(page.locator("#entry-title")).to_have_text("Enter holidays or make-up days")
    expect(page.locator(".report-nav a[aria-current='page']")).to_have_text("Working calendar")

    official = _year(server, 2026)
    assert official["officially_covered"] is True
    expect(page.locator("#days tbody tr")).to_have_count(len(official["days"]))
    days = page.locator("#days tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.day)")
    assert days == sorted(days) == [d["day"] for d in official["days"]]

    page.select_option("#lang-select", "zh-CN")
    expect(page.locator("h1")).to_have_text("工作日历")
    expect(national.locator("th")).to_have_text("2026-10-01 周四")
    expect(national.locator("td.name")).to_have_text("国庆节")
    expect(national.locator("td.working")).to_have_text("休息")
    expect(national.locator("td.source")).to_have_text("国家安排")
    expect(page.locator("#days thead")).to_contain_text("上班 / 休息")
    expect(page.locator("#entry-title")).to_have_text("录入放假或调休")

    # The year picker: the next year has no official data.
    page.click("#next-year")
    expect(page.locator("#year")).to_have_text("2027 年")
    expect(page.locator("#uncovered")).to_be_visible()
    assert page.evaluate("location.hash") == "#year=2027"
    page.click("#prev-year")
    expect(page.locator("#year")).to_have_text("2026 年")
    expect(page.locator("#uncovered")).to_be_hidden()


def test_a_site_entry_over_an_official_holiday_keeps_the_official_name_beside_it(
    server: LiveServer, calendar_page: Any
) -> None:
    expect = _expect()
    _clear_year(server, 2026)
    page = calendar_page("supervisor", year=2026, locale="en-US")
    try:
        _enter(page, "2026-10-07", None, "work", "物业值班")
        duty = _row(page, "2026-10-07")
        expect(duty).to_have_attribute("data-source", "override")
        expect(duty.locator("td.name")).to_contain_text("物业值班")
        expect(duty.locator("td.source")).to_contain_text("Official: National Day, Day off")
        expect(duty.locator("td.edited")).to_contain_text("客服主管 刘洋")
        page.select_option("#lang-select", "zh-CN")
        expect(duty.locator("td.source")).to_contain_text("国家安排：国庆节，休息")
        day = _overrides(server, 2026)["2026-10-07"]
        assert (day["is_working"], day["official_name"], day["edited_by"]) == (True, "国庆节", "supervisor")
    finally:
        _clear_year(server, 2026)


def test_the_desk_and_the_reports_link_to_this_years_calendar_with_a_hint_for_next_year(
    server: LiveServer, calendar_page: Any, open_desk: Any
) -> None:
    expect = _expect()
    this_year = datetime.now(UTC).astimezone(SHANGHAI).year
    desk = open_desk("admin").page
    desk.locator("#nav-calendar").click()
    expect(desk.locator("h1")).to_have_text("工作日历")
    expect(desk.locator("#year")).to_have_text(f"{this_year} 年")  # the estate's year by default
    expect(desk.locator("#this-year")).to_be_hidden()

    hint = desk.locator("#next-hint")
    if _year(server, this_year + 1)["officially_covered"]:
        expect(hint).to_be_hidden()
    else:  # late in the year the next notice is due and not in the package yet
        expect(hint).to_contain_text(f"{this_year + 1} 年")
        desk.locator("#next-hint-link").click()
        expect(desk.locator("#year")).to_have_text(f"{this_year + 1} 年")
        expect(desk.locator("#uncovered")).to_be_visible()
        expect(hint).to_be_hidden()
        expect(desk.locator("#this-year")).to_be_visible()

    for report in ("clearing.html", "complaints.html", "patrols.html"):
        page = calendar_page("admin")
        page.goto(f"{server.base_url}/desk/{report}")
        link = page.locator(".report-nav a[href='calendar.html']")
        expect(link).to_have_text("工作日历")
        link.click()
        expect(page.locator("h1")).to_have_text("工作日历")


def test_the_desk_reminds_the_calendar_keepers_of_a_year_nobody_has_entered(
    server: LiveServer, open_desk: Any
) -> None:
    """From November the admin and supervisor see on the desk itself that next year's holidays are
    missing; a year already entered by hand, or another role, sees nothing."""
    expect = _expect()
    late_november = datetime(2030, 11, 27, 10, 0, tzinfo=SHANGHAI)
    june = datetime(2030, 6, 10, 10, 0, tzinfo=SHANGHAI)
    for year in (2030, 2031):
        _clear_year(server, year)
    with server.api("admin") as api:
        assert api.put(f"/api/calendar/{SITE}/days/2030-10-01", json={"is_working": False, "note": "国庆节"}
                       ).status_code == 200
    try:
        admin = open_desk("admin", clock=late_november).page
        notice = admin.locator("#calendar-notice")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("2031 年的法定节假日和调休安排还没有录入")
        expect(admin.locator("#calendar-notice-link")).to_have_attribute("href", "calendar.html#year=2031")
        admin.select_option("#lang-select", "en")
        expect(notice).to_contain_text("2031's public holidays")
        admin.locator("#calendar-notice-dismiss").click()
        expect(notice).to_be_hidden()

        desk_notice = open_desk("desk", clock=late_november).page.locator("#calendar-notice")
        expect(desk_notice).to_have_attribute("data-checked", "not-an-editor")
        expect(desk_notice).to_be_hidden()
        # 2030 is kept by hand and next year's notice is not out before November.
        supervisor = open_desk("supervisor", clock=june).page
        expect(supervisor.locator("#calendar-notice")).to_have_attribute("data-checked", "2030-06-10")
        expect(supervisor.locator("#calendar-notice")).to_be_hidden()

        _clear_year(server, 2030)  # now the current year itself is missing
        supervisor = open_desk("supervisor", clock=june).page
        expect(supervisor.locator("#calendar-notice")).to_contain_text("2030 年")

        with server.api("admin") as api:
            for day in ("2030-10-01", "2031-01-01"):
                assert api.put(f"/api/calendar/{SITE}/days/{day}", json={"is_working": False, "note": "假日"}
                               ).status_code == 200
        admin = open_desk("admin", clock=late_november).page
        expect(admin.locator("#calendar-notice")).to_have_attribute("data-checked", "2030-11-27")
        expect(admin.locator("#calendar-notice")).to_be_hidden()
    finally:
        for year in (2030, 2031):
            _clear_year(server, year)
