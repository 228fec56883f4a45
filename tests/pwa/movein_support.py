"""Driving the phone's move-in wizard in Chromium, and seeding what the server compares it with."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.pool import NullPool

from server.db import create_engine, create_sessionmaker
from server.devices.models import Device, MeterReading
from tests.pwa.support import until
from tests.support.live_server import LiveServer

PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "device_scale_factor": 2}
PHOTO = Path(__file__).resolve().parents[2] / "pwa" / "app" / "icons" / "icon-512.png"
OUTBOX = "(async (fn) => { const o = await import('/app/js/outbox.js'); return fn(o); })"
CACHED = """async (key) => { const db = await import('/app/js/db.js');
    return ((await db.get('cache', key)) || {}).value ?? null; }"""


def db_rows(server: LiveServer, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    path = server.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql, params).fetchall())


def db_count(server: LiveServer, sql: str, *params: Any) -> int:
    return int(db_rows(server, sql, *params)[0][0])


def to_js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def login(page: Any, base: str) -> None:
    """Log in as spec1 and wait until the shell and the move-in data are cached for offline use."""
    page.goto(f"{base}/app/")
    page.fill("input[name=username]", "spec1")
    page.fill("input[name=password]", "demo-spec1")
    page.click("button[type=submit]")
    page.wait_for_selector("#movein-button")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
    # (wait_for_function does not await an async predicate: poll with evaluate, which does.)
    until(
        lambda: page.evaluate(f"""async () => {{ const c = {CACHED};
        return !!(await c('checkpoints')) && !!(await c('movein_templates'))?.length
            && !!(await c('movein_units'))?.length; }}"""),
        what="move-in data cached",
    )


def go_offline(context: Any) -> None:
    # As tests/pwa/test_browser.py: the page's network only, and no Background Sync behind it.
    context.add_init_script("delete window.SyncManager;")
    context.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    context.set_offline(True)


def go_online(context: Any, page: Any) -> None:
    context.unroute("**/api/**")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")  # as the OS would on reconnect


def vacant_checkpoint(server: LiveServer, index: int = 0) -> dict[str, Any]:
    """A vacant unit's checkpoint (its tag names the unit) that has no move-in yet."""
    with server.api("spec1") as api:
        points = [c for c in api.get("/api/patrols/checkpoints").json() if c["kind"] == "vacant_unit"]
    return points[index]


def seed_reading(server: LiveServer, unit: str, quantity: str, value: float, *, hours_ago: float = 1) -> None:
    """A smart meter's reading for the unit, as the MQTT consumer would have stored it."""

    async def run() -> None:
        engine = create_engine(server.database_url, poolclass=NullPool)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                meter = await session.scalar(select(Device).where(Device.slug == f"{unit}-{quantity[0]}"))
                assert meter is not None, f"no {quantity} meter in {unit}"
                now = datetime.now(UTC)
                session.add(
                    MeterReading(
                        device_id=meter.id,
                        reading_id=f"seed-{unit}-{quantity}",
                        unit_id=meter.unit_id,
                        quantity=quantity,
                        value=value,
                        uom="kWh" if quantity == "electricity" else "m3",
                        ts=now - timedelta(hours=hours_ago),
                        received_at=now,
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def next_step(page: Any, step: str) -> None:
    page.click("#mi-next")
    page.wait_for_selector(f"form.movein[data-step={step}]")


def photo(page: Any, name: str) -> None:
    page.set_input_files(f"input[name={name}]", str(PHOTO))
    page.wait_for_selector(f"label.button.photo.done:has(input[name={name}])")


def sign(page: Any, who: str) -> None:
    """Draw a signature with mouse moves (pointer events, as a finger would)."""
    canvas = page.locator(f"canvas[data-signer={who}]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 13):
        page.mouse.move(x + i * 24, y + (18 if i % 2 else -18), steps=3)
    page.mouse.up()
    page.wait_for_selector(f"[data-signed={who}].done")


def pick_unit(page: Any, *, tag: str | None = None, unit: str | None = None) -> None:
    page.wait_for_selector("form.movein[data-step=unit]")
    if tag:
        page.fill("#mi-unit-search", tag)  # the code printed under the QR, typed by hand
        page.click("#mi-code")
    else:
        assert unit
        page.fill("#mi-unit-search", unit)
        page.click(f"button.mi-unit[data-unit={unit}]")
    page.wait_for_selector("#mi-unit strong")


def people(page: Any, owner: str, phone: str, staff: Sequence[str] = ()) -> None:
    page.fill("input[name=owner-name]", owner)
    page.fill("input[name=owner-phone]", phone)
    for i, name in enumerate(staff):
        if i:
            page.click("[data-add=staff]")
        page.fill(f"input[name=staff-{i}]", name)


def checklist(page: Any, defects: dict[str, str]) -> None:
    for key, note in defects.items():
        page.click(f"label[for=mi-{key}-defect]")
        page.fill(f"textarea[name={key}-note]", note)
        photo(page, f"{key}-photo")
    page.click("#mi-rest-ok")


def readings(page: Any, values: dict[str, float | None]) -> None:
    for quantity, value in values.items():
        if value is None:
            page.check(f"input[name=reading-{quantity}-absent]")
            continue
        page.fill(f"input[name=reading-{quantity}]", str(value))
        photo(page, f"reading-{quantity}-photo")


def handover(page: Any, keys: int, cards: Sequence[str], utility: dict[str, str]) -> None:
    page.fill("input[name=keys]", str(keys))
    for i, card in enumerate(cards):
        if i:
            page.click("[data-add=card]")
        page.fill(f"input[name=card-{i}]", card)
    for quantity, number in utility.items():
        page.fill(f"input[name=utility-{quantity}]", number)


def signatures_and_save(page: Any, note: str = "") -> None:
    sign(page, "owner")
    sign(page, "staff")
    next_step(page, "review")
    if note:
        page.fill("textarea[name=note]", note)
    page.click("#mi-save")
    page.wait_for_selector("[data-view=movein-list] li.mi-entry")
