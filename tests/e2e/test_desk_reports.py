"""The desk's report pages in Chromium against `fieldops serve` (issue 4): 日清日审 at
/desk/clearing.html and 投诉记录汇总表 at /desk/complaints.html.

Every request these tests open is in 1# (b1); 2# (b2) stays without open requests for the empty
state. An overdue request is made by moving its on-site deadline into the past in the database
(the live server runs on the real clock); the page's own timers run on Playwright's clock.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from tests.e2e.conftest import require_browser_and_broker, sign_in_as_desk
from tests.support.desk_requests import new_request, staff_id
from tests.support.live_server import LiveServer
from tests.support.publisher import Publisher, event, topic

pytestmark = [pytest.mark.browser, pytest.mark.broker]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DESK_NAME = "客服中心 王芳"  # the demo desk user: first receiver of every request opened here
SPEC1_NAME = "1#楼专员 李明"


@pytest.fixture(autouse=True, scope="module")
def _prerequisites() -> None:
    require_browser_and_broker()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _make_overdue(server: LiveServer, ticket_id: int, minutes: int) -> None:
    """Move the request's 15-minute on-site deadline `minutes` into the past."""
    due = (datetime.now(UTC) - timedelta(minutes=minutes)).replace(tzinfo=None)
    path = server.database_url.split("///", 1)[1]
    with sqlite3.connect(path, timeout=10) as db:
        db.execute(
            "UPDATE tickets SET on_site_due_at = ? WHERE id = ?",
            (due.isoformat(sep=" ", timespec="microseconds"), ticket_id),
        )


def _act(server: LiveServer, ticket_id: int, action: str, **fields: Any) -> None:
    with server.api("desk") as api:
        response = api.post(f"/api/tickets/{ticket_id}/actions", json={"action": action, **fields})
    assert response.status_code == 200, response.text


def _wait_for_row(server: LiveServer, match: Any, within: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        with server.api("desk") as api:
            rows = api.get("/api/reports/daily-clearing").json()["rows"]
        found = [r for r in rows if match(r)]
        if found:
            return dict(found[0])
        assert time.monotonic() < deadline, "the alarm's ticket did not open"
        time.sleep(0.1)


def _row_ids(page: Any) -> list[int]:
    values = page.locator("#clearing tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.ticketId)")
    return [int(v) for v in values]


def _clearing_rows(page: Any) -> Any:
    return page.locator("#clearing tbody tr")


def _download(page: Any, button: str) -> tuple[str, Path]:
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    return download.suggested_filename, Path(download.path())


def _csv_rows(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")  # so Excel reads the Chinese as UTF-8
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _xlsx_rows(path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active  # no .xlsx suffix on the saved file
    assert sheet is not None
    header = [str(c.value) for c in sheet[3]]
    return header, list(sheet.iter_rows(min_row=4, values_only=True))


def _site_month(at: datetime | None = None) -> str:
    return f"{(at or datetime.now(UTC)).astimezone(SHANGHAI):%Y-%m}"


# ---- 日清日审 -----------------------------------------------------------------------------------


def test_daily_clearing_lists_overdue_first_with_owners_and_downloads_what_it_shows(
    server: LiveServer, open_desk: Any
) -> None:
    expect = _expect()
    # Opened first, dispatched and postponed with the requester's agreement: on time.
    on_time = new_request(server, title="阳台顶棚渗水", unit="b1-0704", needs_on_site=False)["id"]
    _act(server, on_time, "dispatch", assignee_id=staff_id(server, "spec1"))
    _act(server, on_time, "postpone", reason="等材料，已告知业主", promised_at="2030-01-02T10:00:00+08:00")
    # Opened later, nobody went: its 15-minute on-site promise ran out 10 minutes ago.
    late = new_request(server, title="电梯按钮坏了", unit="b1-1502")["id"]
    _make_overdue(server, late, 10)

    # From the desk's header to the page, logged in once.
    page = open_desk("desk").page
    expect(page.locator("#nav-complaints")).to_have_attribute("href", "complaints.html")
    page.locator("#nav-clearing").click()
    expect(page.locator("h1")).to_have_text("日清日审")
    expect(page.locator(f"#clearing tr[data-ticket-id='{late}']")).to_be_visible()
    expect(page.locator(f"#clearing tr[data-ticket-id='{on_time}']")).to_be_visible()

    # Overdue first, though it is the newer request; the same order as the server's.
    ids = _row_ids(page)
    assert ids.index(late) < ids.index(on_time)
    with server.api("desk") as api:
        report = api.get("/api/reports/daily-clearing").json()
    assert [r["ticket_id"] for r in report["rows"]] == ids
    expect(page.locator("#overdue-count")).to_have_text(f"超时 {report['overdue_count']} 件")
    expect(page.locator("#open-count")).to_have_text(f"未结 {report['open_count']} 件")

    late_row = page.locator(f"#clearing tr[data-ticket-id='{late}']")
    expect(late_row).to_have_attribute("data-overdue", "true")
    expect(late_row.locator(".sla")).to_have_attribute("data-sla-state", "red")
    expect(late_row.locator(".sla")).to_contain_text("到场超时")
    expect(late_row.locator("td.owner")).to_contain_text(DESK_NAME)  # 首问责任制: the receiver owns it
    expect(late_row.locator("td.owner")).to_contain_text("首问人负责，未派单")

    on_time_row = page.locator(f"#clearing tr[data-ticket-id='{on_time}']")
    expect(on_time_row).to_have_attribute("data-overdue", "false")
    assert on_time_row.locator(".sla").get_attribute("data-sla-state") in ("ok", "amber")
    expect(on_time_row.locator(".sla")).to_contain_text("承诺")
    expect(on_time_row.locator("td.owner")).to_contain_text(SPEC1_NAME)
    expect(on_time_row.locator("td.owner")).to_contain_text(f"首问：{DESK_NAME}")
    expect(on_time_row.locator("td.promised")).to_contain_text("10:00")  # the estate's wall clock
    expect(on_time_row.locator("td.promised")).to_contain_text("2030")  # another year: shown
    expect(on_time_row.locator("td.promised")).to_contain_text("已延期 1 次")

    # The downloads are the list on screen, with the desk's token.
    name, path = _download(page, "#xlsx")
    assert name == f"daily-clearing-{report['day']}.xlsx"
    header, rows = _xlsx_rows(path)
    assert header[0].startswith("工单号")
    assert [r[0] for r in rows] == ids
    owner = header.index("负责人 Owner")
    by_id = {r[0]: r for r in rows}
    assert (by_id[late][owner], by_id[on_time][owner]) == (DESK_NAME, SPEC1_NAME)
    assert by_id[late][header.index("超时(分钟) Overdue min")] >= 10
    name, path = _download(page, "#csv")
    assert name == f"daily-clearing-{report['day']}.csv"
    lines = _csv_rows(path)
    assert lines[0][0].startswith("工单号")
    assert [int(line[0]) for line in lines[1:]] == ids

    # A building with nothing open: the empty state, and the files carry the same filter.
    page.select_option("#building", "b2")
    expect(page.locator("#empty")).to_have_text("2#楼没有未结事项——已全部清结。")
    expect(page.locator("#clearing")).to_be_hidden()
    _, path = _download(page, "#csv")
    assert len(_csv_rows(path)) == 1  # the header only
    page.select_option("#building", "b1")
    expect(late_row).to_be_visible()

    # The ticket number opens that ticket in the desk's drawer.
    late_row.locator("a.ticket-link").click()
    expect(page.locator("#drawer")).to_be_visible()
    expect(page.locator("#drawer")).to_contain_text("电梯按钮坏了")
    page.go_back()
    expect(page.locator("h1")).to_have_text("日清日审")

    # The other report pages are one click away.
    page.locator(".report-nav a[href='complaints.html']").click()
    expect(page.locator("h1")).to_have_text("投诉记录汇总表")


def test_daily_clearing_refreshes_by_button_and_every_minute(
    server: LiveServer, report_page: Any
) -> None:
    expect = _expect()
    page = report_page("clearing.html", clock=True)
    expect(page.locator("#open-count")).to_be_visible()

    by_button = new_request(server, title="楼道灯不亮", unit="b1-0803")["id"]
    expect(page.locator(f"#clearing tr[data-ticket-id='{by_button}']")).to_have_count(0)
    page.click("#refresh")
    expect(page.locator(f"#clearing tr[data-ticket-id='{by_button}']")).to_be_visible()

    by_timer = new_request(server, title="门禁卡失灵", unit="b1-0902")["id"]
    page.clock.fast_forward("01:01")  # the page reloads the list once a minute
    expect(page.locator(f"#clearing tr[data-ticket-id='{by_timer}']")).to_be_visible()


def test_report_pages_speak_english_and_chinese(server: LiveServer, report_page: Any) -> None:
    expect = _expect()
    late = new_request(server, title="Lift button broken", unit="b1-1203")["id"]
    _make_overdue(server, late, 5)
    # A ticket the rules opened carries the rule file's Chinese title: the page words it.
    publisher = Publisher(server.broker.url)
    try:
        publisher.publish(topic("b1-el2"), event("elevator.trapped", alarm="raise", data={"floor": 7}))
        publisher.flush()
    finally:
        publisher.close()
    alarm = _wait_for_row(server, lambda r: r["type"] == "elevator.trapped" and r["device"] == "b1-el2")
    assert alarm["source"] == "device"
    page = report_page("clearing.html", locale="en-US")
    alarm_row = page.locator(f"#clearing tr[data-ticket-id='{alarm['ticket_id']}']")
    expect(alarm_row.locator("td.title")).to_have_text("Trapped in lift b1-el2 floor 7")
    expect(page.locator("h1")).to_have_text("Daily clearing")
    row = page.locator(f"#clearing tr[data-ticket-id='{late}']")
    expect(row.locator(".sla")).to_contain_text("On site overdue by")
    expect(row.locator("td.owner")).to_contain_text("first receiver, not dispatched")
    expect(page.locator("#clearing thead")).to_contain_text("Owner")
    expect(page.locator("#xlsx")).to_have_text("Download XLSX")
    expect(page.locator(".report-nav a[aria-current='page']")).to_have_text("Daily clearing")

    page.select_option("#lang-select", "zh-CN")
    expect(page.locator("h1")).to_have_text("日清日审")
    expect(alarm_row.locator("td.title")).to_contain_text("困梯")
    expect(row.locator(".sla")).to_contain_text("到场超时")
    expect(page.locator("#clearing thead")).to_contain_text("负责人")
    expect(page.locator("#xlsx")).to_have_text("下载 XLSX")

    complaints = report_page("complaints.html", locale="en-US")
    expect(complaints.locator("h1")).to_have_text("Monthly complaint summary")
    expect(complaints.locator("#due")).to_contain_text("the supervisor hands it in on the 28th")
    complaints.select_option("#lang-select", "zh-CN")
    expect(complaints.locator("h1")).to_have_text("投诉记录汇总表")
    expect(complaints.locator("#due")).to_contain_text("每月 28 日由客服主管上交")


def test_load_and_download_failures_say_what_to_do(server: LiveServer, report_page: Any) -> None:
    expect = _expect()
    page = report_page("clearing.html")
    expect(page.locator("#open-count")).to_be_visible()
    problem = {"status": 500, "title": "Internal Server Error", "detail": "database is locked"}
    body = json.dumps(problem)
    page.route(
        re.compile(r"/api/reports/daily-clearing$"),
        lambda route: route.fulfill(status=500, content_type="application/problem+json", body=body),
    )
    page.click("#refresh")
    status = page.locator("#status")
    expect(status).to_contain_text("报表未能加载")
    expect(status).to_contain_text("请稍后重试")
    expect(page.locator("#clearing tbody tr").first).to_be_visible()  # what was shown stays

    page.route(re.compile(r"format=xlsx"), lambda route: route.abort())
    page.click("#xlsx")
    expect(status).to_contain_text("文件未能下载（无法连接服务器，请检查网络）")
    expect(page.locator("#xlsx")).to_be_enabled()


@pytest.mark.parametrize("name", ["clearing.html", "complaints.html"])
def test_without_a_login_the_page_sends_you_to_the_desk_and_an_engineer_is_refused(
    server: LiveServer, report_page: Any, name: str
) -> None:
    expect = _expect()
    page = report_page(name, username=None)
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin")).to_contain_text("请先在客服中心监控台登录")
    assert page.eval_on_selector("#signin a", "a => a.href") == f"{server.base_url}/desk/"
    expect(page.locator("#main")).to_be_hidden()

    sign_in_as_desk(page, server, "engineer")  # 工程部: not one of the roles the reports are for
    page.reload()
    expect(page.locator("#denied")).to_be_visible()
    expect(page.locator("#denied")).to_contain_text("客服主管")
    expect(page.locator("#main")).to_be_hidden()


# ---- 投诉记录汇总表 -------------------------------------------------------------------------------


def test_complaint_summary_counts_this_months_complaints_and_downloads_them(
    server: LiveServer, report_page: Any
) -> None:
    expect = _expect()
    before = _site_month()
    # Three complaints for 绿化 (no other test uses that department): one resolved and followed up.
    complaints = (("草坪很久没修剪", "minor"), ("树枝挡住窗户", "minor"), ("绿化带积水", "important"))
    made = [
        new_request(
            server, kind="complaint", title=title, classification=cls, department="greening",
            needs_on_site=False,
        )
        for title, cls in complaints
    ]
    _act(server, made[0]["id"], "resolve", note="已修剪")
    _act(server, made[0]["id"], "follow_up", satisfaction=4)
    month = _site_month(datetime.fromisoformat(made[0]["opened_at"].replace("Z", "+00:00")))

    page = report_page("complaints.html")
    expect(page.locator("#total")).to_be_visible()
    assert page.input_value("#month") in {before, _site_month()}  # this month in the estate's zone
    if page.input_value("#month") != month:  # only when the month turned while the test ran
        page.fill("#month", month)
        page.click("#show")
    expect(page.locator("#summary-title")).to_have_text(f"{month} 投诉汇总")
    expect(page.locator("#due")).to_contain_text(f"上交日期：{month}-28")

    # Per department: 受理数, 已处理, 按时处理, 及时率, 未结, 已回访, 平均满意度.
    greening = page.locator("#by-department tbody tr[data-key='greening']")
    expect(greening.locator("th")).to_have_text("绿化")
    assert [c.strip() for c in greening.locator("td").all_inner_texts()] == [
        "3", "1", "1", "100.0%", "2", "1", "4.00",
    ]
    with server.api("desk") as api:
        report = api.get("/api/reports/complaints", params={"month": month}).json()
    expect(page.locator("#total")).to_have_text(f"共 {report['total']} 件投诉")
    minor = [r for r in report["rows"] if r["classification"] == "minor"]
    minor_row = page.locator("#by-class tbody tr[data-key='minor']")
    expect(minor_row.locator("th")).to_have_text("轻微")
    expect(minor_row.locator("td").first).to_have_text(str(sum(r["received"] for r in minor)))
    b1 = [r for r in report["rows"] if r["building"] == "b1"]
    b1_row = page.locator("#by-building tbody tr[data-key='b1']")
    expect(b1_row.locator("th")).to_have_text("1#楼")
    expect(b1_row.locator("td").first).to_have_text(str(sum(r["received"] for r in b1)))
    expect(page.locator("#detail tbody tr")).to_have_count(len(report["rows"]))

    # The files are the chosen month's, the same rows as the page's detail table.
    name, path = _download(page, "#xlsx")
    assert name == f"complaints-{month}.xlsx"
    header, rows = _xlsx_rows(path)
    assert header[:3] == ["投诉类别 Class", "责任部门 Department", "楼栋 Building"]
    assert len(rows) == len(report["rows"])
    ours = [r for r in rows if r[1] == "greening"]
    assert sum(r[header.index("受理数 Received")] for r in ours) == 3
    assert sum(r[header.index("已回访 Followed up")] for r in ours) == 1
    name, path = _download(page, "#csv")
    assert name == f"complaints-{month}.csv"
    lines = _csv_rows(path)
    assert sum(int(line[3]) for line in lines[1:] if line[1] == "greening") == 3

    # A month without complaints: said so, and its file is empty too.
    page.fill("#month", "2020-01")
    page.click("#show")
    expect(page.locator("#empty")).to_have_text("2020-01 没有投诉记录。")
    expect(page.locator("#tables")).to_be_hidden()
    expect(page.locator("#due")).to_have_text("上交日期：2020-01-28（每月 28 日由客服主管上交）")
    name, path = _download(page, "#xlsx")
    assert name == "complaints-2020-01.xlsx"
    assert _xlsx_rows(path)[1] == []


def test_the_patrol_page_links_to_the_other_reports(server: LiveServer, report_page: Any) -> None:
    expect = _expect()
    page = report_page("patrols.html")
    expect(page.locator("h1")).to_have_text("巡查合规报表")
    nav = page.locator(".report-nav")
    expect(nav.locator("a[href='clearing.html']")).to_have_text("日清日审")
    expect(nav.locator("a[href='complaints.html']")).to_have_text("投诉汇总")
    expect(nav.locator("a[aria-current='page']")).to_have_text("巡查合规")
    expect(page.locator("#compliance thead")).to_contain_text("漏巡次数")
