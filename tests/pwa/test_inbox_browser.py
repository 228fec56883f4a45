"""The dispatch inbox in Chromium against a real `fieldops serve` and database (issue 7, point 5).

Tickets dispatched to the specialist appear critical first; offline, "on site" and "resolved"
queue outbox items shown as pending; back online they sync once (the device time kept beside
the server's receive time) and a replayed outbox creates nothing new. The 15-minute promise is
checked through the inbox on the live server's own clock: a deadline already past is made by
moving the ticket's times back in the database (the API-level test with a controlled clock is
test_inbox_sync.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.pwa.inbox_support import (
    OUTBOX,
    PHONE,
    db_execute,
    db_value,
    dispatch,
    go_offline,
    go_online,
    log_in,
    parse,
    require_browser_and_broker,
    sla,
    sqlite_time,
    ticket,
    to_js,
    until,
    watch_errors,
)
from tests.support.browser import chromium, persistent_chromium
from tests.support.desk_requests import new_request as new_ticket
from tests.support.live_server import LiveServer, live_server

pytestmark = [pytest.mark.browser, pytest.mark.broker]
PHOTO = Path(__file__).resolve().parents[2] / "pwa" / "app" / "icons" / "icon-512.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    require_browser_and_broker()
    with live_server(tmp_path_factory.mktemp("inbox-server"), sqlite_template) as running:
        yield running


def _row(page: Any, ticket_id: int) -> Any:
    return page.locator(f"li.ticket[data-ticket-id='{ticket_id}']")


def _inbox_ids(page: Any) -> list[int]:
    return [int(i) for i in page.eval_on_selector_all("li.ticket", "els => els.map(e => e.dataset.ticketId)")]


def _open_inbox(page: Any) -> None:
    page.click("#inbox-button")
    page.wait_for_selector("[data-view=inbox]")


def _resolve(page: Any, ticket_id: int, note: str, photo: Path | None = None) -> None:
    _row(page, ticket_id).locator("button[data-action=resolve]").click()
    page.wait_for_selector("#resolve-form")
    page.click("#resolve-submit")  # without a note: refused with a message
    assert page.inner_text("#resolve-error") == "请填写处理结果"
    page.fill("#resolve-note", note)
    if photo is not None:
        page.set_input_files("input[name=resolve-photo]", str(photo))
        page.wait_for_selector("#resolve-form .button.photo.done")
    page.click("#resolve-submit")
    page.wait_for_selector("[data-view=inbox]")


def _audit(detail: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [a for a in detail["audit"] if a["action"] == action]


def test_inbox_shows_critical_first_and_offline_steps_sync_exactly_once(
    server: LiveServer, tmp_path: Path
) -> None:
    older = new_ticket(server, title="卫生间下水堵塞", unit="b1-0502")
    alarm = new_ticket(
        server,
        kind="alarm",
        severity="critical",
        title="1号梯困人",
        unit=None,
        needs_on_site=False,
        requester_name=None,
        requester_phone=None,
    )
    newer = new_ticket(server, kind="help", title="老人摔倒求助", unit="b1-0801")
    not_mine = new_ticket(server, title="楼道灯不亮", unit="b1-0302")  # open, but not dispatched to me
    for t in (older, alarm, newer):
        dispatch(server, t["id"])

    with persistent_chromium(tmp_path / "profile", **PHONE) as context:
        page = context.pages[0] if context.pages else context.new_page()
        errors = watch_errors(page)
        log_in(page, server.base_url)
        until(lambda: "3" in page.inner_text("#inbox-button"), what="3 tickets on the home entry")
        assert "紧急 1" in page.inner_text("#inbox-button")
        _open_inbox(page)
        until(lambda: len(_inbox_ids(page)) == 3, what="three tickets")
        # Critical alarms on top, then by opened time, newest first; not_mine is not there.
        assert _inbox_ids(page) == [alarm["id"], newer["id"], older["id"]]
        assert not_mine["id"] not in _inbox_ids(page)
        top = _row(page, alarm["id"])
        assert top.get_attribute("data-severity") == "critical"
        assert "紧急" in top.inner_text()
        assert "设备报警" in top.inner_text()
        assert "1号梯困人" in top.inner_text()
        row = _row(page, older["id"])
        assert "b1-0502" in row.inner_text()
        assert "报修" in row.inner_text()
        assert "已派单" in row.inner_text()
        countdown = row.locator(".sla")
        assert countdown.get_attribute("data-clock") == "on_site"
        assert countdown.get_attribute("data-sla-state") in ("ok", "amber")
        assert "到场剩 1" in countdown.inner_text()  # 14:xx or 15:00 left of the 15-minute promise
        actions = row.locator("button[data-action]").evaluate_all("bs => bs.map(b => b.dataset.action)")
        assert actions == ["on_my_way", "arrive", "announce_delay", "resolve"]

        # Offline: the inbox comes from the cache; "on site" and "resolved" queue two items.
        go_offline(context)
        response = page.reload()
        assert response is not None
        assert response.from_service_worker
        until(lambda: len(_inbox_ids(page)) == 3, what="the cached inbox offline")
        assert "离线" in page.inner_text("#inbox-updated")
        _row(page, older["id"]).locator("button[data-action=arrive]").click()
        until(lambda: "（待同步）" in _row(page, older["id"]).inner_text(), what="on site pending")
        state = _row(page, older["id"]).locator(".state")
        assert state.get_attribute("data-status") == "on_site"
        assert state.get_attribute("data-pending") == "arrive"
        assert "已到场" in state.inner_text()
        _resolve(page, older["id"], "已疏通下水管")
        until(
            lambda: _row(page, older["id"]).get_attribute("data-status") == "resolved",
            what="resolved pending",
        )
        exported = page.evaluate(OUTBOX + "(o => o.exportAll())")
        assert [
            (i["kind"], i["payload"]["ticket_id"], i["payload"]["action"]["action"])
            for i in exported["items"]
        ] == [("ticket_action", older["id"], "arrive"), ("ticket_action", older["id"], "resolve")]
        # A resolution with a photo: the photo is queued before the step that names it.
        _resolve(page, newer["id"], "已送医，家属陪同", photo=PHOTO)
        snapshot = page.evaluate(OUTBOX + "(o => o.exportAll())")
        kinds = [i["kind"] for i in snapshot["items"]]
        assert kinds == ["ticket_action", "ticket_action", "photo", "ticket_action"]
        photo_id = snapshot["items"][2]["payload"]["photo_id"]
        assert snapshot["items"][3]["payload"]["action"] == {
            "action": "resolve",
            "note": "已送医，家属陪同",
            "attachment_ids": [photo_id],
        }
        until(lambda: "待同步 4 条" in page.inner_text("#pending"), what="4 pending")
        assert ticket(server, older["id"])["status"] == "dispatched"  # nothing reached the server

        go_online(context, page)
        until(lambda: "已全部同步" in page.inner_text("#pending"), timeout=20, what="synced")
        # The server's state replaces the optimistic one: the two resolved tickets leave the inbox.
        until(lambda: _inbox_ids(page) == [alarm["id"]], timeout=20, what=lambda: f"inbox {_inbox_ids(page)}")

        served = ticket(server, older["id"])
        assert served["status"] == "resolved"
        assert served["resolution_note"] == "已疏通下水管"
        arrive = _audit(served, "arrive")
        assert len(arrive) == 1
        device_time = parse(snapshot["items"][0]["device_time"])
        # The on-site clock stopped at the server's receive time; the phone's time is kept beside it.
        assert parse(arrive[0]["detail"]["device_time"]) == device_time
        assert parse(served["on_site_at"]) == parse(arrive[0]["at"])
        assert parse(served["on_site_at"]) > device_time
        assert arrive[0]["client"].startswith("pwa:")
        assert (
            db_value(
                server, "select device_time from client_actions where id = ?", snapshot["items"][0]["id"]
            )
            is not None
        )
        helped = ticket(server, newer["id"])
        assert helped["status"] == "resolved"
        assert (
            db_value(server, "select count(*) from ticket_attachments where ticket_id = ?", newer["id"]) == 1
        )

        counts = (
            "select count(*) from ticket_audit",
            "select count(*) from client_actions",
            "select count(*) from attachments",
            "select count(*) from ticket_attachments",
        )
        before = [db_value(server, q) for q in counts]
        # Replaying the very same outbox creates nothing new.
        page.evaluate(OUTBOX + "(o => o.importItems(" + to_js(snapshot) + "))")
        page.evaluate(OUTBOX + "(o => o.sync({force: true}))")
        until(lambda: "已全部同步" in page.inner_text("#pending"), what="replay acknowledged")
        assert [db_value(server, q) for q in counts] == before
        assert len(_audit(ticket(server, older["id"]), "arrive")) == 1

        # The ticket page shows the timeline with the phone's time beside the server's.
        page.goto(f"{server.base_url}/app/#/tickets/{older['id']}")
        page.wait_for_selector("#ticket-timeline li[data-action=arrive]")
        assert "手机时间" in page.inner_text("#ticket-timeline li[data-action=arrive]")
        assert "已办结" in page.inner_text("[data-view=ticket] .state")
        assert not errors, errors


def test_on_site_before_the_deadline_meets_it_after_is_a_breach_and_announced_is_kept(
    server: LiveServer, tmp_path: Path
) -> None:
    in_time = new_ticket(server, title="电梯按钮失灵", unit="b1-0601")
    late = new_ticket(server, title="门禁无法开门", unit="b1-0602")
    told = new_ticket(server, title="水管爆裂", unit="b1-0603")
    for t in (in_time, late, told):
        dispatch(server, t["id"])
    # `late` was opened 20 minutes ago: its 15-minute on-site deadline passed 5 minutes ago.
    now = datetime.now(UTC)
    db_execute(
        server,
        "update tickets set opened_at = ?, on_site_due_at = ? where id = ?",
        sqlite_time(now - timedelta(minutes=20)),
        sqlite_time(now - timedelta(minutes=5)),
        late["id"],
    )

    with chromium() as browser:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, server.base_url)
        _open_inbox(page)
        until(
            lambda: {in_time["id"], late["id"], told["id"]} <= set(_inbox_ids(page)), what="the three tickets"
        )
        assert _row(page, late["id"]).locator(".sla").get_attribute("data-sla-state") == "red"
        assert "到场已超时 5:" in _row(page, late["id"]).locator(".sla").inner_text()

        _row(page, in_time["id"]).locator("button[data-action=arrive]").click()
        _row(page, late["id"]).locator("button[data-action=arrive]").click()
        _row(page, told["id"]).locator("button[data-action=announce_delay]").click()
        until(
            lambda: (
                "已全部同步" in page.inner_text("#pending")
                and sla(server, told["id"])["on_site"]["announced"]
            ),
            what="synced",
        )

        met = sla(server, in_time["id"])["on_site"]
        assert (met["state"], met["breached"]) == ("met", False)
        breach = sla(server, late["id"])["on_site"]
        assert (breach["state"], breach["breached"], breach["announced"]) == ("met_late", True, False)
        announced = sla(server, told["id"])["on_site"]
        assert (announced["state"], announced["announced"]) == ("running", True)
        told_audit = _audit(ticket(server, told["id"]), "announce_delay")
        assert told_audit[0]["detail"]["before_deadline"] is True
        # Once told, the button is gone and the ticket says so.
        until(
            lambda: _row(page, told["id"]).locator("button[data-action=announce_delay]").count() == 0,
            what="announce button gone",
        )
        assert "已告知报单人延迟" in _row(page, told["id"]).inner_text()

        # Told in time, on site after the deadline: a breach, but an announced one.
        announced_at = parse(ticket(server, told["id"])["delay_announced_at"])
        db_execute(
            server,
            "update tickets set on_site_due_at = ? where id = ?",
            sqlite_time(announced_at + timedelta(milliseconds=500)),
            told["id"],
        )
        until(lambda: datetime.now(UTC) > announced_at + timedelta(seconds=1), what="the deadline to pass")
        page.click("#inbox-refresh")
        until(
            lambda: _row(page, told["id"]).locator(".sla").get_attribute("data-sla-state") == "red",
            what="told ticket overdue",
        )
        _row(page, told["id"]).locator("button[data-action=arrive]").click()
        until(lambda: sla(server, told["id"])["on_site"]["state"] == "met_late", what="late arrival synced")
        late_but_told = sla(server, told["id"])["on_site"]
        assert (late_but_told["breached"], late_but_told["announced"]) == (True, True)
        assert not errors, errors
        context.close()


def test_without_push_the_open_inbox_polls_for_new_dispatches(server: LiveServer) -> None:
    with chromium() as browser:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.clock.install()
        errors = watch_errors(page)
        log_in(page, server.base_url, "spec1")
        _open_inbox(page)
        control = page.locator("#push-control")
        until(lambda: control.get_attribute("data-state") == "off", what="push off")
        assert "每 30 秒" in control.inner_text()
        assert page.is_visible("#push-enable")
        before = set(_inbox_ids(page))

        fresh = new_ticket(server, title="地下车库积水", unit=None, needs_on_site=True)
        dispatch(server, fresh["id"])
        page.clock.run_for(10_000)
        assert fresh["id"] not in _inbox_ids(page)  # not yet: the next poll is due at 30 s
        page.clock.run_for(21_000)
        until(lambda: fresh["id"] in _inbox_ids(page), what="the polled ticket")
        assert set(_inbox_ids(page)) >= before
        assert not errors, errors
        context.close()


def test_a_step_on_a_ticket_cancelled_meanwhile_is_refused_then_removed_and_the_rest_syncs(
    server: LiveServer, tmp_path: Path
) -> None:
    cancelled = new_ticket(server, title="重复报修：楼道灯", unit="b1-0701")
    kept = new_ticket(server, title="楼道灯不亮", unit="b1-0702")
    for t in (cancelled, kept):
        dispatch(server, t["id"])

    with persistent_chromium(tmp_path / "profile", **PHONE) as context:
        page = context.pages[0] if context.pages else context.new_page()
        errors = watch_errors(page)
        log_in(page, server.base_url)
        _open_inbox(page)
        until(lambda: {cancelled["id"], kept["id"]} <= set(_inbox_ids(page)), what="both tickets")
        go_offline(context)
        _row(page, cancelled["id"]).locator("button[data-action=arrive]").click()
        _row(page, kept["id"]).locator("button[data-action=arrive]").click()
        until(lambda: "待同步 2 条" in page.inner_text("#pending"), what="2 pending")
        # Meanwhile the desk cancels the first ticket (a duplicate report).
        with server.api("desk") as api:
            response = api.post(
                f"/api/tickets/{cancelled['id']}/actions", json={"action": "cancel", "reason": "重复报单"}
            )
        assert response.status_code == 200, response.text

        go_online(context, page)
        banner = page.wait_for_selector("#conflict:not([hidden])")
        # Refused as the ticket is now, in the server's words; not "synced with other content".
        assert "服务器拒绝（409）" in banner.inner_text()
        assert "cancelled" in banner.inner_text()
        assert "冲突" not in banner.inner_text()
        assert ticket(server, kept["id"])["status"] == "dispatched"  # waits behind it, in order

        # Open Pending while the app's start-up refresh is still out: when it comes back it
        # must not take the specialist back to the home view.
        held: list[Any] = []
        context.route("**/api/patrols/checkpoints", lambda route: held.append(route))
        page.goto(f"{server.base_url}/app/")
        # (Playwright's sync API runs route handlers only inside its own calls: pump them.)
        until(lambda: page.wait_for_timeout(20) or held, what="the start-up refresh")
        page.click("button:has-text('待同步')")
        page.wait_for_selector("ul.pending li.rejected")
        released = page.evaluate("Date.now()")
        for route in held:
            route.continue_()
        context.unroute("**/api/patrols/checkpoints")
        cached_at = (
            "(async () => { const db = await import('/app/js/db.js');"
            " const today = await db.get('cache', 'today'); return today ? Date.parse(today.at) : 0; })()"
        )
        until(lambda: page.evaluate(cached_at) >= released, what="the refresh stored")
        page.wait_for_timeout(300)  # the last step after it is synchronous; the view must stay
        assert page.is_visible("ul.pending li.rejected")
        with page.expect_download() as download:
            page.click("ul.pending li.rejected button")
        assert download.value.suggested_filename.endswith(".json")  # kept for the supervisor
        page.evaluate(OUTBOX + "(o => o.sync({force: true}))")
        until(lambda: "已全部同步" in page.inner_text("#pending"), what="the rest synced")
        assert ticket(server, kept["id"])["status"] == "on_site"
        assert ticket(server, cancelled["id"])["status"] == "cancelled"
        assert not errors, errors


def test_a_phone_in_another_time_zone_shows_the_estates_wall_clock(server: LiveServer) -> None:
    """The desk shows times in the estate's zone; so does the phone, whatever its own setting."""
    opened = new_ticket(server, title="楼道灯不亮", unit="b1-0703")
    dispatch(server, opened["id"])
    with chromium() as browser:
        context = browser.new_context(**{**PHONE, "timezone_id": "UTC"})
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, server.base_url)
        _open_inbox(page)
        until(lambda: opened["id"] in _inbox_ids(page), what="the ticket")
        shanghai = parse(opened["opened_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
        utc = parse(opened["opened_at"]).astimezone(UTC)
        place = _row(page, opened["id"]).locator(".place").inner_text()  # "… · 报单 11/27 13:24"
        assert place.endswith(f"{shanghai:%H:%M}"), place
        assert not place.endswith(f"{utc:%H:%M}"), place  # the browser's own zone
        assert not errors, errors


def test_a_working_day_limit_reads_as_the_end_of_its_last_day(server: LiveServer) -> None:
    """A major complaint is resolved within 7 working days: due at midnight after the last one,
    which the phone shows as "12/8 24:00", not "12/9 00:00" (a day more to the reader)."""
    opened = new_ticket(server, kind="complaint", title="楼上周末早上七点电钻", unit="b1-0903",
                        needs_on_site=False, classification="major")
    dispatch(server, opened["id"])
    due = parse(opened["resolve_due_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (due.hour, due.minute, due.second) == (0, 0, 0)
    last_day = due - timedelta(seconds=1)
    with chromium() as browser:
        page = browser.new_context(**PHONE).new_page()
        errors = watch_errors(page)
        log_in(page, server.base_url)
        page.goto(f"{server.base_url}/app/#/tickets/{opened['id']}")
        facts = page.locator("dl.facts")
        facts.wait_for()
        until(lambda: "24:00" in facts.inner_text(), what="the resolve-by time")
        text = facts.inner_text()
        assert f"{last_day.month}/{last_day.day} 24:00" in text, text
        assert f"{due.month}/{due.day} 00:00" not in text, text
        assert not errors, errors
