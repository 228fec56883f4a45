"""A walk-in request (登记报事) in Chromium against a real `fieldops serve` and database.

A resident stops the specialist on the stairs; the specialist records it on the phone with no
signal. It is checked before anything is queued, queued once however often submit is tapped,
shown as pending, and once online reaches the desk as one ticket (source walk_in, the specialist
its first receiver, the 15-minute on-site clock running); a replayed outbox creates nothing new.
A request for a building that is no longer the specialist's is refused in the server's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pwa.inbox_support import (
    OUTBOX,
    PHONE,
    db_value,
    go_offline,
    go_online,
    log_in,
    parse,
    require_browser_and_broker,
    to_js,
    until,
    watch_errors,
)
from tests.support.browser import chromium
from tests.support.desk_requests import staff_id
from tests.support.live_server import LiveServer, live_server

pytestmark = [pytest.mark.browser, pytest.mark.broker]
PHOTO = Path(__file__).resolve().parents[2] / "pwa" / "app" / "icons" / "icon-512.png"
TITLE = "厨房水管漏水（现场登记）"
DB = "(async (fn) => { const db = await import('/app/js/db.js'); return fn(db); })"
CACHED_UNITS = DB + "(async db => ((await db.get('cache', 'movein_units'))?.value || []).length)"
COUNTS = (
    "select count(*) from tickets",
    "select count(*) from ticket_audit",
    "select count(*) from client_actions",
    "select count(*) from attachments",
    "select count(*) from ticket_attachments",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[LiveServer]:
    require_browser_and_broker()
    with live_server(tmp_path_factory.mktemp("walk-in-server"), sqlite_template) as running:
        yield running


def _outbox(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(OUTBOX + "(o => o.exportAll())")["items"])


def _tickets_titled(server: LiveServer, title: str) -> list[dict[str, Any]]:
    with server.api("desk") as api:
        response = api.get("/api/tickets", params={"limit": 500})
    assert response.status_code == 200, response.text
    return [t for t in response.json()["items"] if t["title"] == title]


def _logged_in_phone(browser: Any, server: LiveServer) -> tuple[Any, Any, list[str]]:
    """spec1 on a phone, logged in, the units of their buildings cached for offline use."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, server.base_url)
    until(lambda: page.evaluate(CACHED_UNITS) > 0, what="the units cached for offline use")
    return context, page, errors


def _open_form(page: Any) -> None:
    page.click("#walkin-button")
    page.wait_for_selector("[data-view=walk-in] #wi-form")


def _submit_expecting(page: Any, message: str) -> None:
    page.click("#wi-submit")
    until(lambda: page.inner_text("#wi-error") == message, what=lambda: page.inner_text("#wi-error"))
    assert _outbox(page) == []  # nothing queued


def test_walk_in_request_recorded_offline_reaches_the_desk_once(server: LiveServer) -> None:
    with chromium() as browser:
        context, page, errors = _logged_in_phone(browser, server)

        go_offline(context)
        response = page.reload()
        assert response is not None
        assert response.from_service_worker
        _open_form(page)
        assert page.url.endswith("#/requests/new")
        # Only spec1's building, chosen already; its units come from the phone's cache.
        assert page.eval_on_selector_all("input[name=building]", "els => els.map(e => e.value)") == ["b1"]
        assert page.is_checked("#wi-building-b1")
        units = page.eval_on_selector_all("#wi-unit option", "els => els.map(e => e.value)")
        assert "b1-1203" in units
        assert not [u for u in units if u and not u.startswith("b1-")]
        assert [page.inner_text(f"label[for=wi-kind-{k}]") for k in ("repair", "complaint", "help")] == [
            "报修",
            "投诉",
            "求助",
        ]

        # Checked before anything is queued, in the specialist's words.
        _submit_expecting(page, "请选择报修、投诉或求助")
        page.click("label[for=wi-kind-repair]")
        page.fill("#wi-requester-name", "王伟")
        page.fill("#wi-requester-phone", "138-abc")
        _submit_expecting(page, "请填写事项（简述）")
        page.fill("#wi-title", "   ")
        _submit_expecting(page, "请填写事项（简述）")
        page.fill("#wi-title", TITLE)
        _submit_expecting(page, "联系电话格式不对（数字、+、空格、-，3–32 位）")
        page.fill("#wi-requester-phone", "138 0000 1203")
        page.fill("#wi-unit-search", "1203")
        assert page.input_value("#wi-unit") == "b1-1203"  # the one match is chosen
        page.fill("#wi-description", "水槽下方水管接口滴水，已关总阀")
        page.check("#wi-on-site")
        page.set_input_files("input[name=wi-photo]", str(PHOTO))
        until(lambda: "1" in page.inner_text("#wi-photo-count"), what="the photo resized")

        page.dblclick("#wi-submit")  # a double tap queues it once
        until(lambda: page.input_value("#wi-title") == "", what="the form cleared")
        until(lambda: "有信号时自动送达客服中心" in page.inner_text("#toast"), what="the offline toast")
        until(lambda: "待同步 2 条" in page.inner_text("#pending"), what="2 pending")
        page.wait_for_timeout(300)  # a second submit, were there one, would be queued by now
        snapshot = page.evaluate(OUTBOX + "(o => o.exportAll())")
        assert [i["kind"] for i in snapshot["items"]] == ["photo", "ticket_create"]
        photo_id = snapshot["items"][0]["payload"]["photo_id"]
        item = snapshot["items"][1]
        assert item["payload"] == {
            "kind": "repair",
            "title": TITLE,
            "source": "walk_in",
            "building": "b1",
            "unit": "b1-1203",
            "requester_name": "王伟",
            "requester_phone": "138 0000 1203",
            "description": "水槽下方水管接口滴水，已关总阀",
            "needs_on_site": True,
            "attachment_ids": [photo_id],
        }
        assert not page.is_checked("#wi-kind-repair")  # ready for the next resident
        mine = page.locator(f"#wi-mine li[data-id='{item['id']}']")
        assert mine.get_attribute("data-state") == "pending"
        assert TITLE in mine.inner_text()
        assert "待同步" in mine.inner_text()

        # The pending list names it: kind and title.
        page.click("[data-view=walk-in] button:has-text('返回')")
        page.click("button:has-text('待同步')")
        row = page.locator(f"ul.pending li[data-id='{item['id']}']")
        row.wait_for()
        assert "登记报事" in row.inner_text()
        assert f"报修 · {TITLE} · b1-1203" in row.inner_text()
        assert _tickets_titled(server, TITLE) == []  # nothing reached the server

        go_online(context, page)
        until(lambda: "已全部同步" in page.inner_text("#pending"), timeout=20, what="synced")
        toast = until(
            lambda: re.search(r"已送达客服中心：工单 #(\d+)", page.inner_text("#toast")),
            what=lambda: f"the ticket number toast, not {page.inner_text('#toast')!r}",
        )

        found = _tickets_titled(server, TITLE)
        assert len(found) == 1
        ticket_id = found[0]["id"]
        assert int(toast.group(1)) == ticket_id
        with server.api("desk") as api:
            detail = api.get(f"/api/tickets/{ticket_id}").json()
            spec1 = next(p for p in api.get("/api/staff").json() if p["username"] == "spec1")
        assert detail["source"] == "walk_in"
        assert detail["kind"] == "repair"
        assert (detail["building"], detail["unit"]) == ("b1", "b1-1203")
        assert (detail["requester_name"], detail["requester_phone"]) == ("王伟", "138 0000 1203")
        assert detail["first_receiver_id"] == staff_id(server, "spec1")
        assert detail["first_receiver_name"] == spec1["display_name"]
        assert detail["first_receiver_name"]
        assert detail["needs_on_site"] is True
        assert detail["on_site_due_at"] is not None
        assert parse(detail["on_site_due_at"]) > parse(detail["opened_at"])
        assert db_value(server, "select count(*) from ticket_attachments where ticket_id = ?", ticket_id) == 1

        # Replaying the very same outbox (photo and request, same UUIDs) creates nothing new.
        before = [db_value(server, q) for q in COUNTS]
        page.evaluate(OUTBOX + "(o => o.importItems(" + to_js(snapshot) + "))")
        page.evaluate(OUTBOX + "(o => o.sync({force: true}))")
        until(lambda: "已全部同步" in page.inner_text("#pending"), what="replay acknowledged")
        assert [db_value(server, q) for q in COUNTS] == before
        assert len(_tickets_titled(server, TITLE)) == 1

        # The phone keeps the ticket number beside the request.
        page.goto(f"{server.base_url}/app/#/requests/new")
        sent = page.locator(f"#wi-mine li[data-id='{item['id']}']")
        until(lambda: sent.get_attribute("data-state") == "sent", what="the request marked sent")
        assert sent.get_attribute("data-ticket-id") == str(ticket_id)
        assert f"工单 #{ticket_id}" in sent.inner_text()

        # In English: English labels and messages.
        page.evaluate(DB + "(db => db.kvSet('lang', 'en'))")
        page.goto(f"{server.base_url}/app/")
        page.wait_for_selector("#walkin-button")
        assert page.inner_text("#walkin-button") == "New request"
        _open_form(page)
        assert page.inner_text("[data-view=walk-in] h2") == "New request (in person)"
        assert [page.inner_text(f"label[for=wi-kind-{k}]") for k in ("repair", "complaint", "help")] == [
            "Repair",
            "Complaint",
            "Help",
        ]
        # The form's own words (not the data: unit owners' names, the estate's building names).
        text = page.eval_on_selector_all(
            "#wi-form legend, #wi-form label, #wi-form button, #wi-unit option[value='']",
            "els => els.map(e => e.textContent).join('\\n')",
        )
        for label in (
            "Type",
            "Building",
            "Unit (optional)",
            "Resident's name",
            "Resident's phone",
            "Title (short, required)",
            "Someone must go on site",
            "Record request",
        ):
            assert label in text, label
        assert "No unit (public area)" in text
        assert not re.search(r"[\u4e00-\u9fff]", text.replace("1#楼", "")), text  # no Chinese left
        assert f"At the service desk · ticket #{ticket_id}" in page.inner_text("#wi-mine")
        _submit_expecting(page, "Choose repair, complaint or help")
        page.click("label[for=wi-kind-help]")
        _submit_expecting(page, "Enter a short title")
        assert not errors, errors
        context.close()


def test_a_request_for_a_building_no_longer_mine_is_refused_in_the_servers_words(server: LiveServer) -> None:
    """spec1's cache still lists 2# (moved off it, the phone not refreshed): the server refuses."""
    title = "邻居装修噪音太大"
    with chromium() as browser:
        context, page, errors = _logged_in_phone(browser, server)
        stale = """(async db => {
            const estate = await db.get('cache', 'estate');
            estate.value.buildings.push({slug: 'b2', name: '2#楼', floors: 18});
            await db.put('cache', estate);
            const units = await db.get('cache', 'movein_units');
            units.value.push({slug: 'b2-0301', building: 'b2', floor: 3, number: '0301', state: 'occupied'});
            await db.put('cache', units);
        })"""
        page.evaluate(DB + stale)
        _open_form(page)
        page.click("label[for=wi-kind-complaint]")
        page.click("label[for=wi-building-b2]")
        assert page.eval_on_selector_all("#wi-unit option", "els => els.map(e => e.value)") == ["", "b2-0301"]
        page.select_option("#wi-unit", "b2-0301")
        page.fill("#wi-title", title)
        page.click("#wi-submit")

        banner = page.wait_for_selector("#conflict:not([hidden])")
        assert "服务器拒绝（403）" in banner.inner_text()
        until(lambda: "被服务器拒绝（403）" in page.inner_text("#toast"), what="the refusal toast")
        assert title in page.inner_text("#toast")
        assert "b2" in page.inner_text("#toast")
        refused = page.locator("#wi-mine li[data-state=rejected]")
        refused.wait_for()
        assert "服务器拒绝（403）" in refused.inner_text()
        assert "b2" in refused.inner_text()
        assert _tickets_titled(server, title) == []

        page.click("[data-view=walk-in] button:has-text('返回')")
        page.click("button:has-text('待同步')")
        row = page.locator("ul.pending li.rejected")
        row.wait_for()
        assert f"投诉 · {title} · b2-0301" in row.inner_text()
        assert "服务器拒绝（403）" in row.inner_text()
        assert not errors, errors
        context.close()


def test_a_half_written_request_survives_the_app_being_closed(server: LiveServer) -> None:
    """The phone locks mid-sentence and the OS closes the app: the form comes back as it was,
    photo included, and is empty again once the request is queued."""
    title = "地下车库B2入口积水"
    with chromium() as browser:
        context, page, errors = _logged_in_phone(browser, server)
        go_offline(context)
        _open_form(page)
        page.click("label[for=wi-kind-help]")
        page.fill("#wi-requester-name", "周先生")
        page.fill("#wi-title", title)
        page.check("#wi-on-site")
        page.set_input_files("input[name=wi-photo]", str(PHOTO))
        until(lambda: "1" in page.inner_text("#wi-photo-count"), what="the photo resized")
        kept = DB + ("(async db => { const d = await db.kvGet('walkin_draft');"
                     " return d && [d.title, d.photos.length]; })")
        until(lambda: page.evaluate(kept) == [title, 1], what="the draft kept in IndexedDB")

        page.close()  # what the OS does to a backgrounded PWA
        page = context.new_page()
        errors += watch_errors(page)
        page.goto(f"{server.base_url}/app/#/requests/new")
        page.wait_for_selector("[data-view=walk-in] #wi-form")
        assert page.input_value("#wi-title") == title
        assert page.input_value("#wi-requester-name") == "周先生"
        assert page.is_checked("#wi-kind-help")
        assert page.is_checked("#wi-on-site")
        assert "1" in page.inner_text("#wi-photo-count")

        page.click("#wi-submit")
        until(lambda: page.input_value("#wi-title") == "", what="the form cleared")
        [queued] = [i for i in _outbox(page) if i["kind"] == "ticket_create"]
        assert (queued["payload"]["title"], queued["payload"]["kind"]) == (title, "help")
        page.reload()
        page.wait_for_selector("[data-view=walk-in] #wi-form")
        assert page.input_value("#wi-title") == ""  # the kept draft went with the submit
        assert not errors, errors
