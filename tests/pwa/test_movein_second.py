"""The second inspection in Chromium: once a handover's rectifications are resolved it is due on
the phone's home view; starting it pre-fills the unit and owner and records stage ``second``
(no keys, cards or readings again). The owner signs with a finger (touch events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.pwa.camera import camera_flags, write_y4m
from tests.pwa.movein_support import PHONE, checklist, login, next_step, sign, vacant_checkpoint
from tests.pwa.support import TINY_JPEG, iso, until
from tests.support.browser import chromium
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("chromium_required")]
PNG = (Path(__file__).resolve().parents[2] / "pwa" / "app" / "icons" / "icon-192.png").read_bytes()


@pytest.fixture
def server(live: LiveServer) -> LiveServer:
    return live


def _upload(api: Any, data: bytes, content_type: str) -> str:
    attachment_id = str(uuid.uuid4())
    response = api.put(
        f"/api/attachments/{attachment_id}", content=data, headers={"Content-Type": content_type}
    )
    assert response.status_code in (200, 201), response.text
    return attachment_id


def _handover_with_one_defect(server: LiveServer, unit: str) -> int:
    """A handover recorded through the sync API (as another phone would); returns its ticket id."""
    now = iso(datetime.now(UTC))
    with server.api("spec1") as api:
        template = api.get("/api/move-ins/templates").json()[0]
        answers = [{"item": i["key"], "status": "ok"} for i in template["items"]]
        answers[0] = {
            "item": answers[0]["item"],
            "status": "defect",
            "note": "门锁松动",
            "photo_id": _upload(api, TINY_JPEG, "image/jpeg"),
        }
        payload = {
            "unit": unit,
            "stage": "handover",
            "owner_name": "王芳",
            "owner_phone": "13700137000",
            "template": template["name"],
            "template_version": template["version"],
            "started_at": now,
            "handed_over_at": now,
            "answers": answers,
            "readings": [
                {"quantity": q, "value": 1.0, "photo_id": _upload(api, TINY_JPEG, "image/jpeg")}
                for q in ("water", "electricity")
            ],
            "keys": 2,
            "access_cards": ["MJ-70001"],
            "owner_signature_id": _upload(api, PNG, "image/png"),
            "staff_signature_id": _upload(api, PNG, "image/png"),
        }
        item = {"id": str(uuid.uuid4()), "kind": "move_in", "device_time": now, "payload": payload}
        response = api.post(
            "/api/patrols/sync",
            json={"device_id": "phone-movein-2", "sent_at": now, "app_version": "test", "items": [item]},
        )
        assert response.status_code == 200, response.text
        assert not response.json()["failed"], response.text
        tickets = response.json()["accepted"][0]["result"]["tickets"]
    assert len(tickets) == 1
    return int(tickets[0])


def _touch_sign(page: Any, cdp: Any, who: str) -> None:
    """A finger on the pad: CDP touch events, which Chromium turns into pointer events."""
    canvas = page.locator(f"canvas[data-signer={who}]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for i in range(1, 10):
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchMove", "touchPoints": [{"x": x + i * 25, "y": y + (i % 3) * 12}]},
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_selector(f"[data-signed={who}].done")


def test_second_inspection_is_due_after_rectification_and_prefilled(server: LiveServer) -> None:
    unit = vacant_checkpoint(server, 2)["unit"]
    ticket = _handover_with_one_defect(server, unit)
    with server.api("spec1") as api:
        due = api.get("/api/move-ins/due").json()["items"]
        assert [(d["unit"], d["due"]) for d in due] == [(unit, "rectification_open")]
    with server.api("desk") as api:
        response = api.post(
            f"/api/tickets/{ticket}/actions", json={"action": "resolve", "note": "已更换门锁"}
        )
        assert response.status_code == 200, response.text

    with chromium() as browser:
        context = browser.new_context(**PHONE, has_touch=True)
        page = context.new_page()
        login(page, server.base_url)
        button = page.wait_for_selector(f"li.mi-due-second[data-unit={unit}] button.mi-second")
        assert "王芳" in page.inner_text(f"li.mi-due-second[data-unit={unit}]")
        button.click()
        page.wait_for_selector("form.movein[data-step=unit]")
        assert unit in page.inner_text("#mi-unit")
        assert not page.is_visible("#mi-unit-search")
        assert "复验" in page.inner_text("form.movein h2")
        next_step(page, "people")
        assert page.input_value("input[name=owner-name]") == "王芳"
        next_step(page, "checklist")
        checklist(page, {})
        next_step(page, "signatures")  # no readings, keys or cards at a second inspection
        cdp = context.new_cdp_session(page)
        _touch_sign(page, cdp, "owner")
        assert page.get_attribute("canvas[data-signer=owner]", "data-strokes") == "1"
        page.click("button.mi-clear[data-clear=owner]")  # signed again after a clear
        assert page.get_attribute("canvas[data-signer=owner]", "data-strokes") == "0"
        _touch_sign(page, cdp, "owner")
        sign(page, "staff")
        next_step(page, "review")
        page.click("#mi-save")
        page.wait_for_selector("li.mi-entry[data-state=synced]", timeout=30000)
        until(lambda: "已全部同步" in page.inner_text("#pending"), timeout=30, what="synced")
        context.close()

    with server.api("spec1") as api:
        stages = sorted(i["stage"] for i in api.get("/api/move-ins", params={"unit": unit}).json()["items"])
        assert stages == ["handover", "second"]
        assert api.get("/api/move-ins/due").json()["items"] == []  # nothing left to do there


def test_scanning_the_unit_tag_with_the_camera_picks_the_unit(server: LiveServer, tmp_path: Path) -> None:
    checkpoint = vacant_checkpoint(server, 3)
    y4m = write_y4m(tmp_path / "unit.y4m", checkpoint["tag"])
    with chromium(extra_args=camera_flags(y4m)) as browser:
        context = browser.new_context(**PHONE)
        context.grant_permissions(["camera"], origin=server.base_url)
        page = context.new_page()
        login(page, server.base_url)
        page.click("#movein-button")
        page.click("#mi-scan")
        page.wait_for_selector("#mi-unit strong", timeout=20000)
        assert checkpoint["unit"] in page.inner_text("#mi-unit")
        assert "已扫码" in page.inner_text("#mi-unit")
        assert page.is_hidden("#camera")  # the camera is stopped once the unit is known
        context.close()
