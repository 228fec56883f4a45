"""The live control desk at /desk/ in Chromium (issue 4, item 6).

Acceptance: open /desk/ logged in as the desk; publish elevator.trapped on MQTT; the alarm
appears within 2 s and is marked critical; acknowledge it on the page; a second desk sees the
acknowledgement; cut one page's stream and restore it: the events it missed arrive.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import DURATION, require_browser_and_broker
from tests.support.desk_requests import new_request, staff_id
from tests.support.live_server import LiveServer
from tests.support.publisher import Publisher, event, topic

pytestmark = [pytest.mark.browser, pytest.mark.broker]


@pytest.fixture(autouse=True, scope="module")
def _prerequisites() -> None:
    require_browser_and_broker()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def alarm_card(page: Any, device: str) -> Any:
    return page.locator("#alarm-list li.alarm").filter(has_text=device)


def test_alarm_appears_is_acknowledged_seen_by_second_desk_and_missed_events_arrive(
    server: LiveServer, open_desk: Any, tmp_path: Path
) -> None:
    expect = _expect()
    desk1 = open_desk("desk")
    desk2 = open_desk("supervisor")
    page1, page2 = desk1.page, desk2.page

    publisher = Publisher(server.broker.url)
    try:
        publisher.publish(topic("b1-el1"), event("elevator.trapped", alarm="raise", data={"floor": 12}))
        publisher.flush()
        card1 = alarm_card(page1, "b1-el1")
        # Within 2 s of the broker taking the message, and marked critical (and ringing).
        expect(card1).to_be_visible(timeout=2000)
        expect(card1).to_have_attribute("data-severity", "critical")
        expect(card1).to_have_class(re.compile(r"\bringing\b"))
        expect(card1).to_have_attribute("data-status", "new")
        expect(card1).to_contain_text("困梯")
        expect(card1).to_contain_text("12层")
        # The login click armed the sound: an unacknowledged critical alarm rings.
        expect(page1.locator("body")).to_have_attribute("data-sound", "ringing")
        card2 = alarm_card(page2, "b1-el1")
        expect(card2).to_have_attribute("data-status", "new")
        page1.screenshot(path=str(tmp_path / "desk-alarm-1366.png"))

        # Acknowledge on desk 1; desk 2 sees it through the stream, without a reload.
        card1.get_by_role("button", name="确认接警").click()
        expect(card1).to_have_attribute("data-status", "acknowledged")
        expect(card1).not_to_have_class(re.compile(r"\bringing\b"))
        expect(page1.locator("body")).to_have_attribute("data-sound", "armed")
        expect(card2).to_have_attribute("data-status", "acknowledged", timeout=5000)
        expect(card2).not_to_have_class(re.compile(r"\bringing\b"))
        trapped_id = int(card1.get_attribute("data-ticket-id") or 0)

        # Cut desk 2 off the network: its stream drops and it says so.
        before_cut = len(desk2.stream_requests)
        desk2.context.set_offline(True)
        expect(page2.locator("#reconnect-banner")).to_be_visible(timeout=5000)
        expect(page2.locator("body")).not_to_have_attribute("data-connection", "live")

        # Meanwhile: a new alarm arrives and desk 1 dispatches the first one through the API.
        publisher.publish(topic("b2-el1"), event("elevator.trapped", alarm="raise", data={"floor": 3}))
        publisher.flush()
        expect(alarm_card(page1, "b2-el1")).to_be_visible(timeout=5000)  # it is in the database now
        spec1 = staff_id(server, "spec1")
        with server.api("desk") as api:
            response = api.post(
                f"/api/tickets/{trapped_id}/actions",
                json={"action": "dispatch", "assignee_id": spec1, "note": "断网期间派单"},
            )
            assert response.status_code == 200, response.text
        expect(alarm_card(page2, "b2-el1")).to_have_count(0)
        expect(card2).to_have_attribute("data-status", "acknowledged")

        # Back online: the missed events arrive, because the reconnect said where it had got to.
        desk2.context.set_offline(False)
        expect(alarm_card(page2, "b2-el1")).to_be_visible(timeout=12_000)
        expect(alarm_card(page2, "b2-el1")).to_have_attribute("data-severity", "critical")
        expect(card2).to_have_attribute("data-status", "dispatched")
        expect(page2.locator("#reconnect-banner")).to_be_hidden()
        expect(page2.locator("body")).to_have_attribute("data-connection", "live")
        resumed = [r.all_headers().get("last-event-id") for r in desk2.stream_requests[before_cut:]]
        assert any(value and value.isdigit() and int(value) > 0 for value in resumed), resumed
        assert desk2.stream_requests[0].all_headers().get("last-event-id") is None  # the first starts "now"
    finally:
        publisher.close()


def test_language_follows_the_browser_switches_and_is_remembered(server: LiveServer, open_desk: Any) -> None:
    expect = _expect()
    desk = open_desk("desk", locale="en-US")
    page = desk.page
    expect(page.locator("#alarms-title")).to_contain_text("Active alarms")
    expect(page.locator("#tab-tickets")).to_contain_text("Open tickets")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.locator("#lang-select").select_option("zh-CN")
    expect(page.locator("#alarms-title")).to_contain_text("实时报警")
    expect(page.locator("#tab-tickets")).to_contain_text("在办工单")
    expect(page.locator("#new-request")).to_contain_text("新建报单")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # Remembered for this browser, though the browser itself prefers English.
    page.reload()
    expect(page.locator("#alarms-title")).to_contain_text("实时报警")
    expect(page.locator("body")).to_have_attribute("data-connection", "live")


def test_a_chinese_browser_gets_chinese_and_a_bad_token_gets_the_login(open_desk: Any) -> None:
    expect = _expect()
    desk = open_desk("desk", locale="zh-CN", login=False)
    page = desk.page
    expect(page.locator("#login-submit")).to_have_text("登录")
    page.evaluate("localStorage.setItem('fieldops.desk.token', 'not-a-token')")
    page.reload()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-expired")).to_be_visible()


def test_dispatch_from_the_drawer_assigns_the_suggested_specialist(
    server: LiveServer, open_desk: Any
) -> None:
    expect = _expect()
    ticket = new_request(server, title="卫生间下水堵塞", unit="b1-0502")
    desk = open_desk("desk")
    page = desk.page
    page.locator(f"#ticket-rows tr[data-ticket-id='{ticket['id']}']").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(drawer).to_have_attribute("data-ticket-id", str(ticket["id"]))
    expect(drawer.locator("#drawer-facts")).to_contain_text("13800001203")
    drawer.locator("#drawer-actions button[data-action='dispatch']").click()

    # The building's own specialist comes first and is preselected, with each one's open load.
    suggested = drawer.locator(".staff-option.suggested")
    expect(suggested).to_have_count(1)
    expect(suggested).to_have_attribute("data-username", "spec1")
    expect(suggested.locator("input[type=radio]")).to_be_checked()
    expect(suggested).to_contain_text("本楼专员")
    expect(suggested.locator(".staff-load")).to_contain_text(re.compile(r"在办 \d+ 单"))
    drawer.locator("#drawer-panel textarea").fill("请带疏通工具")
    drawer.locator("#drawer-panel button[type=submit]").click()
    expect(drawer).to_have_attribute("data-status", "dispatched")
    expect(drawer.locator("#drawer-timeline li[data-action='dispatch']")).to_contain_text("请带疏通工具")

    with server.api("desk") as api:
        detail = api.get(f"/api/tickets/{ticket['id']}").json()
    assert detail["status"] == "dispatched"
    assert detail["assignee_id"] == staff_id(server, "spec1")
    step = next(a for a in detail["audit"] if a["action"] == "dispatch")
    assert (step["client"], step["actor"], step["detail"]["assignee"]) == ("desk", "desk", "spec1")

    # A second desk acting on stale state gets the server's word, inline.
    with server.api("supervisor") as api:
        api.post(f"/api/tickets/{ticket['id']}/actions", json={"action": "resolve", "note": "已疏通"})
    expect(drawer).to_have_attribute("data-status", "resolved", timeout=5000)
    expect(drawer.locator("#drawer-actions button[data-action='dispatch']")).to_have_count(0)


def test_sla_countdown_counts_down_and_turns_red_when_overdue(server: LiveServer, open_desk: Any) -> None:
    expect = _expect()
    desk = open_desk("desk", clock=True)
    page = desk.page
    ticket = new_request(server, title="楼道灯不亮", unit="b1-0803")
    countdown = page.locator(f"#ticket-rows tr[data-ticket-id='{ticket['id']}'] .sla")
    expect(countdown).to_have_attribute("data-sla-clock", re.compile(r"on_site|ack"))
    expect(countdown).to_have_text(re.compile(DURATION.pattern))
    state = countdown.get_attribute("data-sla-state")
    assert state in ("ok", "amber"), state
    remaining = int(countdown.get_attribute("data-remaining-s") or 0)
    assert 0 < remaining <= 15 * 60

    # The 15-minute on-site promise: a minute past it, the countdown is red and says overdue.
    page.clock.fast_forward("16:00")
    expect(countdown).to_have_attribute("data-sla-state", "red")
    expect(countdown).to_contain_text("超时")


def test_new_request_form_opens_a_ticket_that_the_desk_owns(server: LiveServer, open_desk: Any) -> None:
    expect = _expect()
    desk = open_desk("desk")
    page = desk.page
    page.locator("#new-request").click()
    dialog = page.locator("#request-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input[name=kind][value=help]").check()
    dialog.locator("#request-building").select_option("b2")
    dialog.locator("#request-unit").select_option("b2-1504")
    dialog.locator("#request-requester-name").fill("陈静")
    dialog.locator("#request-requester-phone").fill("13900001504")
    dialog.locator("#request-title").fill("老人摔倒需要帮助")
    dialog.locator("#request-needs-on-site").check()
    dialog.locator("#request-submit").click()
    expect(dialog).to_be_hidden()
    drawer = page.locator("#drawer")
    expect(drawer.locator("#drawer-title")).to_contain_text("求助")
    ticket_id = int(drawer.get_attribute("data-ticket-id") or 0)
    expect(page.locator(f"#ticket-rows tr[data-ticket-id='{ticket_id}']")).to_contain_text("老人摔倒需要帮助")

    with server.api("desk") as api:
        ticket = api.get(f"/api/tickets/{ticket_id}").json()
        me = api.get("/api/auth/me").json()
    assert (ticket["kind"], ticket["source"]) == ("help", "phone")
    assert (ticket["building"], ticket["unit"]) == ("b2", "b2-1504")
    assert (ticket["requester_name"], ticket["requester_phone"]) == ("陈静", "13900001504")
    assert ticket["needs_on_site"] is True
    assert ticket["on_site_due_at"] is not None
    assert ticket["first_receiver_id"] == me["id"]  # 首问责任制: whoever took the call owns it
    assert ticket["audit"][0]["client"] == "desk"


def test_device_board_shows_offline_devices_first(server: LiveServer, open_desk: Any) -> None:
    expect = _expect()
    desk = open_desk("desk")
    page = desk.page
    page.locator("#tab-devices").click()
    publisher = Publisher(server.broker.url)
    try:
        at = "2026-01-01T08:00:00+08:00"
        publisher.publish(topic("b1-el2", "status"), {"state": "offline", "ts": at})
        publisher.publish(topic("b1-ic-door", "status"), {"state": "online", "ts": at})
        publisher.flush()
    finally:
        publisher.close()
    first = page.locator("#device-rows tr").first
    expect(first).to_have_attribute("data-slug", "b1-el2", timeout=5000)
    expect(first).to_have_attribute("data-state", "offline")
    expect(page.locator("#device-count")).to_have_text(re.compile(r"[1-9]"))
    page.locator("#device-state").select_option("all")
    page.locator("#device-building").select_option("b1")
    page.locator("#device-kind").select_option("intercom")
    door = page.locator("#device-rows tr[data-slug='b1-ic-door']")
    expect(door).to_have_attribute("data-state", "online", timeout=5000)

    # "Last heard" moves while the device only talks (no state change, so no desk event): the
    # stream's `seen` events carry it.
    heard = door.locator(".age").get_attribute("data-since")
    publisher = Publisher(server.broker.url)
    try:
        publisher.publish(topic("b1-ic-door", "status"), {"state": "online", "ts": at})
        publisher.flush()
    finally:
        publisher.close()
    expect(door.locator(".age")).not_to_have_attribute("data-since", heard or "", timeout=12_000)
    expect(door).to_have_attribute("data-state", "online")


def test_a_slower_desk_is_told_inline_when_another_was_faster(server: LiveServer, open_desk: Any) -> None:
    expect = _expect()
    desk = open_desk("desk")
    page = desk.page
    publisher = Publisher(server.broker.url)
    try:
        publisher.publish(topic("b2-leak-pump"), event("sensor.water_leak", alarm="raise"))
        publisher.flush()
    finally:
        publisher.close()
    card = alarm_card(page, "b2-leak-pump")
    expect(card).to_have_attribute("data-status", "new", timeout=5000)
    ticket_id = int(card.get_attribute("data-ticket-id") or 0)

    # This desk stops hearing the stream (its reconnects fail) while the supervisor acknowledges.
    page.route("**/api/desk/stream", lambda route: route.abort())
    page.evaluate("window.fieldopsDesk.stream.drop()")
    expect(page.locator("#reconnect-banner")).to_be_visible()
    with server.api("supervisor") as api:
        response = api.post(f"/api/tickets/{ticket_id}/actions", json={"action": "acknowledge"})
        assert response.status_code == 200, response.text
    card.get_by_role("button", name="确认接警").click()
    # The refusal's code, in the desk's words: which step, the ticket's status now, what to do.
    expect(card.locator(".inline-error")).to_contain_text("其他席位")
    expect(card.locator(".inline-error")).to_contain_text("「确认接警」")
    expect(card.locator(".inline-error")).to_contain_text("「已接警」")
    expect(card.locator(".inline-error")).not_to_contain_text("Cannot acknowledge")

    page.unroute("**/api/desk/stream")
    page.locator("#reconnect-now").click()
    expect(card).to_have_attribute("data-status", "acknowledged", timeout=12_000)
    expect(card.locator(".inline-error")).to_have_count(0)


def test_an_expired_session_logs_in_again_over_the_half_written_request(
    server: LiveServer, open_desk: Any
) -> None:
    expect = _expect()
    desk = open_desk("desk")
    page = desk.page
    page.locator("#new-request").click()
    dialog = page.locator("#request-dialog")
    dialog.locator("#request-building").select_option("b1")
    dialog.locator("#request-unit").select_option("b1-0101")
    dialog.locator("#request-title").fill("门禁卡失效")

    refused: list[str] = []

    def expire_once(route: Any) -> None:
        if route.request.method == "POST" and not refused:
            refused.append(route.request.post_data_json["client_action_id"])
            route.fulfill(
                status=401,
                content_type="application/problem+json",
                body='{"status": 401, "title": "Unauthorized", "detail": "token expired"}',
            )
        else:
            route.continue_()

    page.route("**/api/tickets", expire_once)
    dialog.locator("#request-submit").click()
    login = page.locator("#login")
    expect(login).to_be_visible()
    expect(page.locator("#login-expired")).to_be_visible()
    expect(page.locator("#login-username")).to_have_value("desk")
    page.locator("#login-password").fill("demo-desk")
    page.locator("#login-submit").click()
    expect(login).to_be_hidden()
    # What the user was doing is still there; sending it again reuses the same client action id.
    expect(dialog.locator("#request-title")).to_have_value("门禁卡失效")
    with page.expect_request(lambda r: r.url.endswith("/api/tickets") and r.method == "POST") as sent:
        dialog.locator("#request-submit").click()
    assert sent.value.post_data_json["client_action_id"] == refused[0]
    expect(dialog).to_be_hidden()
    expect(page.locator("#drawer")).to_contain_text("门禁卡失效")
    expect(page.locator("body")).to_have_attribute("data-connection", "live")
