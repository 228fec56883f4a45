"""Move-in inspections in Chromium against a real server and database (issue 7, phone side):
done offline with readings, photos, cards and signatures, kept across a reload and a browser
restart, synced once; the readings' cross-check with the smart meters shown after sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.pwa.movein_support import (
    OUTBOX,
    PHONE,
    checklist,
    db_count,
    db_rows,
    go_offline,
    go_online,
    handover,
    login,
    next_step,
    people,
    pick_unit,
    readings,
    seed_reading,
    signatures_and_save,
    to_js,
    vacant_checkpoint,
)
from tests.pwa.support import until
from tests.support.browser import persistent_chromium
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_required")]
CARDS = ["MJ-80001", "MJ-80002"]
DRAFT = """async () => { const db = await import('/app/js/db.js');
    return (await db.get('kv', 'movein_draft'))?.value ?? null; }"""


def _server_counts(server: LiveServer, unit: str) -> list[int]:
    return [
        db_count(server, "select count(*) from move_in_inspections"),
        db_count(server, "select count(*) from move_in_readings"),
        db_count(server, "select count(*) from tickets where kind = 'rectification'"),
        db_count(
            server,
            "select count(*) from ticket_attachments a join tickets t on t.id = a.ticket_id "
            "where t.kind = 'rectification'",
        ),
        db_count(
            server,
            "select count(*) from access_cards c join units u on u.id = c.unit_id where u.slug = ?",
            unit,
        ),
        db_count(server, "select count(*) from attachments"),
        db_count(
            server,
            "select count(*) from residents r join units u on u.id = r.unit_id "
            "where u.slug = ? and r.name = '张伟'",
            unit,
        ),
    ]


def test_offline_move_in_survives_reload_and_restart_and_syncs_exactly_once(
    server: LiveServer, tmp_path: Path
) -> None:
    checkpoint = vacant_checkpoint(server)
    unit = checkpoint["unit"]
    profile = tmp_path / "profile"
    with persistent_chromium(profile, **PHONE) as context:
        page = context.pages[0] if context.pages else context.new_page()
        login(page, server.base_url)
        go_offline(context)
        response = page.reload()
        assert response is not None
        assert response.from_service_worker
        page.click("#movein-button")
        pick_unit(page, tag=checkpoint["tag"])  # the vacant unit's tag names the unit
        assert unit in page.inner_text("#mi-unit")
        next_step(page, "people")
        page.click("#mi-next")  # nothing filled in: refused with a message
        assert "业主姓名" in page.inner_text("#mi-error")
        people(page, "张伟", "13800138000", ["工程部 赵强"])
        next_step(page, "checklist")
        checklist(page, {"entry_door": "入户门漆面划伤", "walls": "客厅墙面裂缝"})
        # The draft is written a moment after the last tap (debounced): wait for it, then reload.
        until(
            lambda: page.evaluate(f"""async () => {{ const d = await ({DRAFT})();
            const a = Object.values(d?.answers || {{}});
            return a.length > 20 && a.every(x => x.status); }}"""),
            what="draft saved",
        )
        page.reload()
        page.wait_for_selector("form.movein[data-step=checklist]")
        assert page.is_checked("#mi-entry_door-defect")
        assert page.is_checked("#mi-windows-ok")
        assert page.input_value("textarea[name=walls-note]") == "客厅墙面裂缝"
        assert page.locator("label.button.photo.done").count() == 2
        next_step(page, "readings")
        page.fill("input[name=reading-water]", "12.5")
        page.click("#mi-next")  # a reading needs the meter's photo
        assert "水表" in page.inner_text("#mi-error")
        readings(page, {"water": 12.5, "electricity": 2048.3, "gas": 3.1})
        next_step(page, "handover")
        handover(page, 3, ["MJ 1"], {})
        page.click("#mi-next")  # a card number is letters, digits and dashes
        assert "MJ 1" in page.inner_text("#mi-error")
        page.fill("input[name=card-0]", CARDS[0])
        page.click("[data-add=card]")
        page.fill("input[name=card-1]", CARDS[1])
        handover(page, 3, [], {"electricity": "DK-1", "water": "SK-1", "gas": "RQ-1"})
        next_step(page, "signatures")
        page.click("#mi-next")  # unsigned: refused
        assert "业主签字" in page.inner_text("#mi-error")
        signatures_and_save(page, "业主要求一周内整改")
        entry = page.wait_for_selector("li.mi-entry[data-state=pending]")
        assert unit in entry.inner_text()
        assert "待同步" in entry.inner_text()
        # 2 defect photos, 3 meter photos, 2 signatures, the inspection.
        until(lambda: "待同步 8 条" in page.inner_text("#pending"), what="8 pending")
        assert page.evaluate(DRAFT) is None  # the draft is gone once queued

    assert db_count(server, "select count(*) from move_in_inspections") == 0
    with persistent_chromium(profile, **PHONE) as context:
        go_offline(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{server.base_url}/app/")
        until(lambda: "待同步 8 条" in page.inner_text("#pending"), what="pending kept across restart")
        snapshot = page.evaluate(OUTBOX + "(o => o.exportAll())")
        assert [i["kind"] for i in snapshot["items"]] == ["photo"] * 7 + ["move_in"]
        payload = snapshot["items"][-1]["payload"]
        assert {k: payload[k] for k in ("unit", "tag", "stage", "keys", "access_cards")} == {
            "unit": unit,
            "tag": checkpoint["tag"],
            "stage": "handover",
            "keys": 3,
            "access_cards": CARDS,
        }
        types = {p["type"] for p in snapshot["photos"].values()}
        assert types == {"image/jpeg", "image/png"}  # photos resized to JPEG, signatures PNG

        go_online(context, page)
        until(lambda: "已全部同步" in page.inner_text("#pending"), timeout=30, what="synced")
        _assert_on_server(server, unit)
        counts = _server_counts(server, unit)
        assert counts == [1, 3, 2, 2, 2, 7, 1]

        # The app shows the result: synced, two rectification tickets.
        page.click("#movein-mine")
        entry = page.wait_for_selector("li.mi-entry[data-state=synced]")
        assert entry.query_selector(".mi-tickets[data-count='2']") is not None
        assert len(entry.query_selector_all(".mi-reading")) == 3

        # Replaying the very same outbox creates nothing new.
        page.evaluate(OUTBOX + "(o => o.importItems(" + to_js(snapshot) + "))")
        until(lambda: "待同步 8 条" in page.inner_text("#pending"), what="re-queued")
        page.evaluate(OUTBOX + "(o => o.sync({force: true}))")
        until(lambda: "已全部同步" in page.inner_text("#pending"), timeout=30, what="replay acknowledged")
        assert not page.is_visible("#conflict")
        assert _server_counts(server, unit) == counts


def _assert_on_server(server: LiveServer, unit: str) -> None:
    with server.api("spec1") as api:
        listed = api.get("/api/move-ins").json()
        assert listed["total"] == 1
        detail = api.get(f"/api/move-ins/{listed['items'][0]['id']}").json()
    assert (detail["unit"], detail["stage"], detail["owner_name"], detail["owner_phone"]) == (
        unit,
        "handover",
        "张伟",
        "13800138000",
    )
    assert detail["staff"] == ["工程部 赵强"]
    assert detail["keys"] == 3
    assert detail["note"] == "业主要求一周内整改"
    assert {r["quantity"]: r["typed"] for r in detail["readings"]} == {
        "water": 12.5,
        "electricity": 2048.3,
        "gas": 3.1,
    }
    assert all(r["photo_id"] for r in detail["readings"])
    assert detail["access_cards"] == [{"card_number": c, "registered": True} for c in CARDS]
    assert detail["utility_cards"] == {"electricity": "DK-1", "water": "SK-1", "gas": "RQ-1"}
    assert len(detail["ticket_ids"]) == 2
    defects = {a["item"]: a for a in detail["answers"] if a["status"] == "defect"}
    assert set(defects) == {"entry_door", "walls"}
    assert all(a["photo_id"] and a["ticket_id"] for a in defects.values())
    assert detail["owner_signature_id"]
    assert detail["staff_signature_id"]
    assert db_rows(server, "select state from units where slug = ?", unit) == [("occupied",)]
    owners = db_rows(
        server,
        "select distinct r.name from access_cards c join residents r on r.id = c.resident_id "
        "join units u on u.id = c.unit_id where u.slug = ?",
        unit,
    )
    assert owners == [("张伟",)]  # the cards are the owner's: later swipes are attributed to them


def test_readings_confirmed_or_flagged_are_shown_after_sync_with_the_pdf(
    server: LiveServer, tmp_path: Path
) -> None:
    unit = vacant_checkpoint(server, 1)["unit"]
    seed_reading(server, unit, "water", 100.0)
    seed_reading(server, unit, "electricity", 500.0)
    with persistent_chromium(tmp_path / "profile", **PHONE, accept_downloads=True) as context:
        page = context.pages[0] if context.pages else context.new_page()
        login(page, server.base_url)
        page.click("#movein-button")
        pick_unit(page, unit=unit)  # searched in the cached list
        next_step(page, "people")
        people(page, "李娜", "13900139000")
        next_step(page, "checklist")
        checklist(page, {})
        next_step(page, "readings")
        readings(page, {"water": 100.2, "electricity": 520, "gas": None})  # 0.2 m³ within, 20 kWh not
        next_step(page, "handover")
        handover(page, 2, ["MJ-90001"], {})
        next_step(page, "signatures")
        signatures_and_save(page)
        # Online: it syncs at once and the list shows what the server found.
        entry = page.wait_for_selector(
            "li.mi-entry[data-state=synced] .mi-reading[data-quantity=water]", timeout=30000
        )
        assert entry.get_attribute("data-status") == "confirmed"
        water = page.inner_text(".mi-reading[data-quantity=water]")
        assert "已确认" in water
        assert "100.2" in water
        assert "100" in water
        electricity = page.locator(".mi-reading[data-quantity=electricity]")
        assert electricity.get_attribute("data-status") == "flagged"
        assert "520" in electricity.inner_text()
        assert "500" in electricity.inner_text()
        assert page.locator(".mi-reading").count() == 2  # no gas meter in this unit's answer
        assert page.locator(".mi-tickets").count() == 0  # no defects (the flagged reading's ticket
        # is engineering's, shown on the reading)

        with page.expect_download() as download:
            page.click("button.mi-pdf[data-lang=zh-CN]")
        path = download.value.path()
        assert path is not None
        assert Path(path).read_bytes().startswith(b"%PDF")
    with server.api("spec1") as api:
        detail = api.get(f"/api/move-ins/{_only_id(api)}").json()
    assert {r["quantity"]: r["status"] for r in detail["readings"]} == {
        "water": "confirmed",
        "electricity": "flagged",
    }


def _only_id(api: Any) -> str:
    items = api.get("/api/move-ins").json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])


@pytest.fixture
def server(live: LiveServer) -> LiveServer:
    return live
