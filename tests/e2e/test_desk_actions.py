"""The drawer's steps in Chromium: postpone (and the refused second one), classify, follow-up, close,
names instead of ids, the estate's building names, and rule-made titles in the desk's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import require_browser_and_broker
from tests.support.desk_requests import new_request, staff_id
from tests.support.live_server import LiveServer
from tests.support.publisher import Publisher, event, topic

pytestmark = [pytest.mark.browser, pytest.mark.broker]
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo estate's zone: the desk shows its times


@pytest.fixture(autouse=True, scope="module")
def _prerequisites() -> None:
    require_browser_and_broker()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _open_ticket(page: Any, ticket_id: int) -> Any:
    page.locator(f"#ticket-rows tr[data-ticket-id='{ticket_id}']").click()
    drawer = page.locator("#drawer")
    _expect()(drawer).to_have_attribute("data-ticket-id", str(ticket_id))
    return drawer


def _buttons(drawer: Any) -> list[str]:
    return [str(b.get_attribute("data-action")) for b in drawer.locator("#drawer-actions button").all()]


def _detail(server: LiveServer, ticket_id: int) -> dict[str, Any]:
    with server.api("desk") as api:
        return dict(api.get(f"/api/tickets/{ticket_id}").json())


def test_postpone_from_the_drawer_and_a_second_postponement_is_refused_in_the_desks_words(
    server: LiveServer, open_desk: Any
) -> None:
    expect = _expect()
    ticket = new_request(server, title="阳台顶棚渗水", unit="b1-0704", needs_on_site=False)
    page = open_desk("desk").page
    drawer = _open_ticket(page, ticket["id"])
    drawer.locator("#drawer-actions button[data-action='postpone']").click()
    panel = drawer.locator("#drawer-panel form[data-action='postpone']")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", panel.locator("input[name=promised_at]").input_value())
    panel.locator("textarea[name=reason]").fill("等防水材料，已告知业主")
    # The estate's wall clock: 10:00 in Shanghai, whatever this PC's zone is.
    panel.locator("input[name=promised_at]").fill("2030-01-02T10:00")
    panel.locator("button[type=submit]").click()
    expect(drawer.locator("#drawer-panel")).to_be_hidden()
    expect(drawer.locator("#drawer-facts")).to_contain_text("已延期 1 次")
    postponed = drawer.locator("#drawer-timeline li[data-action='postpone']")
    expect(postponed).to_contain_text("等防水材料，已告知业主")
    expect(postponed.locator(".who")).to_contain_text("客服中心 王芳")  # a name, not a username
    detail = _detail(server, ticket["id"])
    assert datetime.fromisoformat(detail["promised_at"]) == datetime(2030, 1, 2, 2, 0, tzinfo=UTC)
    assert detail["postponements"] == 1

    # Again as the desk: the drawer warns first, and the server's refusal reads as what to do.
    drawer.locator("#drawer-actions button[data-action='postpone']").click()
    expect(panel.locator(".hint").last).to_contain_text("二次延期")
    panel.locator("textarea[name=reason]").fill("材料还没到")
    panel.locator("button[type=submit]").click()
    error = drawer.locator("#drawer-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("未延期")
    expect(error).to_contain_text("客服主管")
    expect(error).not_to_contain_text("supervisor")  # the server's English detail is not the message
    expect(panel.locator("textarea[name=reason]")).to_have_value("材料还没到")  # nothing typed is lost
    assert _detail(server, ticket["id"])["postponements"] == 1


def test_english_desk_refusal_and_rule_made_titles_are_english(server: LiveServer, open_desk: Any) -> None:
    expect = _expect()
    page = open_desk("desk", locale="en-US").page
    publisher = Publisher(server.broker.url)
    try:
        publisher.publish(topic("b2-el1"), event("elevator.trapped", alarm="raise", data={"floor": 7}))
        publisher.flush()
    finally:
        publisher.close()
    card = page.locator("#alarm-list li.alarm").filter(has_text="b2-el1")
    expect(card.locator(".alarm-title")).to_have_text("Trapped in lift b2-el1 floor 7", timeout=5000)
    expect(card).not_to_contain_text("困梯")
    ticket_id = int(card.get_attribute("data-ticket-id") or 0)
    assert _detail(server, ticket_id)["title"] == "困梯 b2-el1 7层"  # stored as the rule file says
    row = page.locator(f"#ticket-rows tr[data-ticket-id='{ticket_id}']")
    expect(row).to_contain_text("Trapped in lift b2-el1 floor 7")
    # Buildings by the estate's own names (GET /api/estate), not guessed from slugs.
    expect(page.locator("#filter-building option[value='b2']")).to_have_text("2#楼")
    expect(page.locator("#estate-name")).to_have_text("新外滩")

    ticket = new_request(server, title="Lobby light out", unit="b1-0104", needs_on_site=False)
    drawer = _open_ticket(page, ticket["id"])
    drawer.locator("#drawer-actions button[data-action='postpone']").click()
    panel = drawer.locator("#drawer-panel form")
    panel.locator("textarea[name=reason]").fill("waiting for the electrician")
    panel.locator("button[type=submit]").click()
    expect(drawer.locator("#drawer-facts")).to_contain_text("postponed 1×")
    drawer.locator("#drawer-actions button[data-action='postpone']").click()
    panel.locator("textarea[name=reason]").fill("still waiting")
    panel.locator("button[type=submit]").click()
    expect(drawer.locator("#drawer-error")).to_contain_text("must not be postponed twice")
    expect(drawer.locator("#drawer-error")).to_contain_text("Ask a supervisor")


def test_classify_a_complaint_and_only_a_supervisor_is_offered_invalid(
    server: LiveServer, open_desk: Any
) -> None:
    expect = _expect()
    complaint = new_request(
        server, kind="complaint", title="楼上装修噪音", unit="b1-0903", needs_on_site=False
    )
    page = open_desk("desk").page
    drawer = _open_ticket(page, complaint["id"])
    assert "classify" in _buttons(drawer)
    drawer.locator("#drawer-actions button[data-action='classify']").click()
    select = drawer.locator("#drawer-panel select[name=classification]")
    assert select.locator("option[value='invalid']").count() == 0
    expect(drawer.locator("#drawer-panel .hint").last).to_contain_text("客服主管")
    select.select_option("major")
    drawer.locator("#drawer-panel button[type=submit]").click()
    expect(drawer.locator("#drawer-facts .classification")).to_have_text("重大")
    expect(drawer.locator("#drawer-timeline li[data-action='classify']")).to_contain_text("重大")
    assert _detail(server, complaint["id"])["classification"] == "major"
    # Hand it to engineering with the department picker.
    drawer.locator("#drawer-actions button[data-action='hand_to_department']").click()
    drawer.locator("#drawer-panel select[name=department]").select_option("engineering")
    drawer.locator("#drawer-panel button[type=submit]").click()
    expect(drawer.locator("#drawer-timeline li[data-action='hand_to_department']")).to_contain_text("工程部")

    supervisor = open_desk("supervisor").page
    drawer = _open_ticket(supervisor, complaint["id"])
    drawer.locator("#drawer-actions button[data-action='classify']").click()
    expect(drawer.locator("#drawer-panel select[name=classification] option[value='invalid']")).to_have_count(
        1
    )


def test_a_working_day_limit_reads_as_the_end_of_its_last_day(server: LiveServer, open_desk: Any) -> None:
    """A major complaint's answer is due at midnight after the third working day: the drawer says
    "12/02 24:00", not "12/03 00:00", which a desk reads as a day more."""
    expect = _expect()
    complaint = new_request(server, kind="complaint", title="楼上周末早上七点电钻", unit="b1-0903",
                            needs_on_site=False, classification="major")
    due = {name: datetime.fromisoformat(complaint[f"{name}_due_at"]).astimezone(SHANGHAI)
           for name in ("answer", "resolve")}
    assert all((d.hour, d.minute, d.second) == (0, 0, 0) for d in due.values())  # end of a working day
    page = open_desk("desk").page
    drawer = _open_ticket(page, complaint["id"])
    dues = drawer.locator("#drawer-facts ul.dues")
    for d in due.values():
        last_day = d - timedelta(seconds=1)
        expect(dues).to_contain_text(f"{last_day:%m/%d} 24:00")
        expect(dues).not_to_contain_text(f"{d:%m/%d} 00:00")


def test_follow_up_not_satisfied_sends_it_back_then_close_and_reopen(
    server: LiveServer, open_desk: Any
) -> None:
    expect = _expect()
    ticket = new_request(server, title="门铃不响", unit="b1-1102")
    with server.api("desk") as api:
        api.post(
            f"/api/tickets/{ticket['id']}/actions",
            json={"action": "dispatch", "assignee_id": staff_id(server, "spec1")},
        ).raise_for_status()
    with server.api("spec1") as api:
        api.post(
            f"/api/tickets/{ticket['id']}/actions", json={"action": "resolve", "note": "换了电池"}
        ).raise_for_status()
    page = open_desk("desk").page
    with server.api("desk") as api:  # a resolved ticket is not in the open list: open it by its id
        api.post(
            f"/api/tickets/{ticket['id']}/actions", json={"action": "note", "note": "待回访"}
        ).raise_for_status()
    page.evaluate(f"window.fieldopsDesk.open({ticket['id']})")
    drawer = page.locator("#drawer")
    expect(drawer).to_have_attribute("data-status", "resolved")
    expect(drawer.locator("#drawer-facts .assignee-name")).to_have_text("1#楼专员 李明")
    assert _buttons(drawer) == ["note", "follow_up", "close", "reopen"]

    drawer.locator("#drawer-actions button[data-action='follow_up']").click()
    panel = drawer.locator("#drawer-panel form[data-action='follow_up']")
    panel.locator("input[name=by_phone][value=visit]").check()
    expect(panel.locator("[data-caption=signed_by]")).to_contain_text("业主")
    panel.locator("input[name=satisfaction][value='2']").check()
    panel.locator("input[name=signed_by]").fill("王伟")
    panel.locator("button[type=submit]").click()
    # Not satisfied: back to the specialist "until the owner is satisfied".
    expect(drawer).to_have_attribute("data-status", "dispatched")
    step = drawer.locator("#drawer-timeline li[data-action='follow_up']")
    expect(step).to_contain_text("不满意")
    expect(step).to_contain_text("上门")
    expect(step).to_contain_text("王伟")
    row = page.locator(f"#ticket-rows tr[data-ticket-id='{ticket['id']}']")
    expect(row).to_contain_text("1#楼专员 李明")

    with server.api("spec1") as api:
        api.post(f"/api/tickets/{ticket['id']}/actions", json={"action": "resolve"}).raise_for_status()
    expect(drawer).to_have_attribute("data-status", "resolved", timeout=5000)
    drawer.locator("#drawer-actions button[data-action='close']").click()
    expect(drawer).to_have_attribute("data-status", "closed")
    assert _buttons(drawer) == ["note", "reopen"]
    drawer.locator("#drawer-actions button[data-action='reopen']").click()
    drawer.locator("#drawer-panel textarea[name=reason]").fill("业主反映又不响了")
    drawer.locator("#drawer-panel button[type=submit]").click()
    expect(drawer).to_have_attribute("data-status", "new")
    assert "cancel" in _buttons(drawer)
