"""The outbox sync: idempotent by UUID, 409 on changed content, in order, defects → one ticket each."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.devices.models import Device, MeterReading
from server.patrols.models import PatrolDevice, PatrolFlag, PatrolRun, PatrolScan
from server.tickets.models import Ticket, TicketAttachment
from tests.conftest import login
from tests.pwa.support import TINY_JPEG, batch, run_item, scan_item, vacant_answers

Client = AsyncTestClient[Litestar]
Sessions = async_sessionmaker[AsyncSession]


async def _checkpoints(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/api/patrols/checkpoints", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def _vacant(client: Client, headers: dict[str, str], index: int = 0) -> dict[str, Any]:
    return [c for c in await _checkpoints(client, headers) if c["kind"] == "vacant_unit"][index]


async def _photo(client: Client, headers: dict[str, str]) -> str:
    photo = str(uuid.uuid4())
    response = await client.put(
        f"/api/attachments/{photo}", content=TINY_JPEG, headers={**headers, "Content-Type": "image/jpeg"}
    )
    assert response.status_code == 201
    return photo


async def _count(db: Sessions, model: Any, *where: Any) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_a_defect_becomes_one_ticket_with_its_photo_however_often_synced(
    pclient: Client, pdb: Sessions
) -> None:
    headers = await login(pclient, "spec1")
    checkpoint = await _vacant(pclient, headers)
    photo = await _photo(pclient, headers)
    now = datetime.now(UTC)
    body = batch(
        [
            scan_item(checkpoint["tag"], now),
            run_item(checkpoint["tag"], now + timedelta(minutes=3), vacant_answers(defect_photo=photo)),
        ]
    )
    first = await pclient.post("/api/patrols/sync", json=body, headers=headers)
    assert first.status_code == 200, first.text
    accepted = first.json()["accepted"]
    assert [a["status"] for a in accepted] == ["created", "created"]
    tickets = accepted[1]["result"]["tickets"]
    assert len(tickets) == 1

    again = await pclient.post("/api/patrols/sync", json=body, headers=headers)
    assert again.status_code == 200
    assert [a["status"] for a in again.json()["accepted"]] == ["replayed", "replayed"]
    assert again.json()["accepted"][1]["result"]["tickets"] == tickets

    assert await _count(pdb, PatrolRun) == 1
    assert await _count(pdb, PatrolScan) == 1
    assert await _count(pdb, Ticket, Ticket.kind == "patrol_defect") == 1
    async with pdb() as session:
        ticket = await session.get(Ticket, tickets[0])
        assert ticket is not None
        assert (ticket.source, ticket.department) == ("patrol", "engineering")
        assert ticket.description == "天花板渗水"
        assert ticket.unit_id is not None
        links = list(
            await session.scalars(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id))
        )
        assert [link.attachment_id for link in links] == [photo]


async def test_same_uuid_with_different_content_is_a_409_naming_the_item(
    pclient: Client, pdb: Sessions
) -> None:
    headers = await login(pclient, "spec1")
    checkpoint = await _vacant(pclient, headers)
    now = datetime.now(UTC)
    run = run_item(checkpoint["tag"], now, vacant_answers())
    assert (await pclient.post("/api/patrols/sync", json=batch([run]), headers=headers)).status_code == 200

    changed = {**run, "payload": {**run["payload"], "answers": vacant_answers(water=13.0)}}
    fresh = scan_item(checkpoint["tag"], now)
    before = scan_item(checkpoint["tag"], now - timedelta(minutes=1))
    response = await pclient.post("/api/patrols/sync", json=batch([before, changed, fresh]), headers=headers)
    assert response.status_code == 409
    result = response.json()
    assert result["failed"]["id"] == run["id"]
    assert result["failed"]["status"] == 409
    # In order, stopping at the first failure: the item before it is kept, the one after is not.
    assert [a["id"] for a in result["accepted"]] == [before["id"]]
    assert await _count(pdb, PatrolScan) == 1
    async with pdb() as session:
        answers = await session.scalar(select(PatrolRun).where(PatrolRun.id == run["id"]))
        assert answers is not None  # the original run is untouched


async def test_invalid_items_are_refused_without_trace(pclient: Client, pdb: Sessions) -> None:
    headers = await login(pclient, "spec1")
    checkpoint = await _vacant(pclient, headers)
    now = datetime.now(UTC)
    no_photo = vacant_answers()
    no_photo[0] = {"item": "entry_door", "status": "defect", "note": "门面划伤"}
    cases = [
        (run_item(checkpoint["tag"], now, no_photo), 422, "needs a note and a photo"),
        (run_item(checkpoint["tag"], now, vacant_answers()[:-1]), 422, "water_meter"),
        (run_item(checkpoint["tag"][:-2] + "xx", now, vacant_answers()), 422, "Tag refused"),
        (
            run_item(checkpoint["tag"], now, vacant_answers(defect_photo=str(uuid.uuid4()))),
            422,
            "Upload the photos first",
        ),
    ]
    for item, status, words in cases:
        response = await pclient.post("/api/patrols/sync", json=batch([item]), headers=headers)
        assert response.status_code == status, response.text
        assert words in response.json()["failed"]["detail"]
    assert await _count(pdb, PatrolRun) == 0
    assert await _count(pdb, Ticket, Ticket.kind == "patrol_defect") == 0


async def test_another_buildings_checkpoint_is_forbidden(pclient: Client) -> None:
    spec1 = await login(pclient, "spec1")
    spec2 = await login(pclient, "spec2")
    checkpoint = await _vacant(pclient, spec1)
    assert all(c["building"] == "b2" for c in await _checkpoints(pclient, spec2))
    response = await pclient.post(
        "/api/patrols/sync", json=batch([scan_item(checkpoint["tag"], datetime.now(UTC))]), headers=spec2
    )
    assert response.status_code == 403


async def test_water_meter_read_by_hand_is_checked_against_the_smart_meter(
    pclient: Client, pdb: Sessions
) -> None:
    headers = await login(pclient, "spec1")
    near, far = await _vacant(pclient, headers, 0), await _vacant(pclient, headers, 1)
    now = datetime.now(UTC)
    async with pdb() as session, session.begin():
        for checkpoint in (near, far):
            meter = await session.scalar(select(Device).where(Device.slug == f"{checkpoint['unit']}-w"))
            assert meter is not None
            session.add(
                MeterReading(
                    device_id=meter.id,
                    reading_id=f"r-{checkpoint['unit']}",
                    unit_id=meter.unit_id,
                    quantity="water",
                    value=12.3,
                    uom="m3",
                    ts=now - timedelta(hours=2),
                    received_at=now,
                )
            )
            # An older, very different reading must not be the one compared.
            session.add(
                MeterReading(
                    device_id=meter.id,
                    reading_id=f"old-{checkpoint['unit']}",
                    unit_id=meter.unit_id,
                    quantity="water",
                    value=1.0,
                    uom="m3",
                    ts=now - timedelta(days=20),
                    received_at=now,
                )
            )
    detail = (await pclient.get(f"/api/patrols/checkpoints/{near['id']}", headers=headers)).json()
    assert detail["hints"]["meter:water"]["value"] == 12.3  # shown to the specialist as a hint
    runs = [
        run_item(near["tag"], now, vacant_answers(water=12.5)),
        run_item(far["tag"], now, vacant_answers(water=19.0)),
    ]
    response = await pclient.post("/api/patrols/sync", json=batch(runs), headers=headers)
    assert response.status_code == 200
    flags = [a["result"]["flags"] for a in response.json()["accepted"]]
    assert flags == [[], ["meter_mismatch"]]
    async with pdb() as session:
        flag = await session.scalar(select(PatrolFlag).where(PatrolFlag.kind == "meter_mismatch"))
        assert flag is not None
        assert flag.detail["read"] == 19.0
        assert flag.detail["smart"] == 12.3


async def test_plausibility_flags_and_device_last_sync(pclient: Client, pdb: Sessions) -> None:
    headers = await login(pclient, "spec1")
    points = await _checkpoints(pclient, headers)
    low = next(c for c in points if c["slug"] == "b1-f02-corridor")
    high = next(c for c in points if c["slug"] == "b1-f15-corridor")
    now = datetime.now(UTC)
    items = [scan_item(low["tag"], now), scan_item(high["tag"], now + timedelta(seconds=5))]
    items += [scan_item(low["tag"], now + timedelta(minutes=m)) for m in (1, 2)]  # 3rd scan of one tag
    skewed = batch(items, sent_at=now + timedelta(hours=2), device_id="phone-skewed-01")
    response = await pclient.post("/api/patrols/sync", json=skewed, headers=headers)
    assert response.status_code == 200, response.text
    kinds = [f for a in response.json()["accepted"] for f in a["result"]["flags"]]
    assert kinds == ["floor_jump", "repeat_scan"]
    assert await _count(pdb, PatrolFlag, PatrolFlag.kind == "clock_skew") == 1
    async with pdb() as session:
        device = await session.get(PatrolDevice, "phone-skewed-01")
        assert device is not None
        assert device.items_synced == 4
        assert device.clock_offset_s is not None
        assert device.clock_offset_s > 7000
    supervisor = await login(pclient, "supervisor")
    devices = (await pclient.get("/api/patrols/devices", headers=supervisor)).json()
    assert [d["device_id"] for d in devices] == ["phone-skewed-01"]
    assert devices[0]["stale"] is False
    assert (await pclient.get("/api/patrols/devices", headers=headers)).status_code == 403


async def test_token_refresh_and_tag_sheet(pclient: Client) -> None:
    headers = await login(pclient, "spec1")
    fresh = await pclient.post("/api/patrols/token", headers=headers)
    assert fresh.status_code == 200
    me = await pclient.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh.json()['token']}"})
    assert me.json()["username"] == "spec1"
    sheet = await pclient.get("/api/patrols/buildings/b1/tags.svg?page=1", headers=headers)
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("image/svg+xml")
    assert "1#楼" in sheet.text
    assert int(sheet.headers["x-total-pages"]) >= 3
    assert (await pclient.get("/api/patrols/buildings/b2/tags.svg", headers=headers)).status_code == 404
    html = await pclient.get("/api/patrols/buildings/b1/tags.html", headers=headers)
    assert html.text.count("<svg") == int(sheet.headers["x-total-pages"])


async def test_a_sync_waits_for_another_writer_instead_of_failing(
    papp: Litestar, pclient: Client, pdb: Sessions, patrol_db_url: str
) -> None:
    """SQLite: another connection commits between the sync's first read and its first
    write (the ingest consumer does this all day). A deferred transaction cannot upgrade
    its stale snapshot and fails at once ("database is locked", busy_timeout does not
    apply), which the phone saw as a 500. The sync must take the write lock up front."""
    if not patrol_db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's row locks have no such failure")
    path = patrol_db_url.split("///", 1)[1]
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE foreign_writes (n INTEGER)")
    attempts: list[str] = []

    def another_writer_commits(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if attempts or not statement.lstrip().upper().startswith("INSERT"):
            return
        foreign = sqlite3.connect(path, timeout=0.2)
        try:
            foreign.execute("INSERT INTO foreign_writes VALUES (1)")
            foreign.commit()
            attempts.append("committed")  # the sync's snapshot is now stale
        except sqlite3.OperationalError as exc:
            attempts.append(f"waited: {exc}")  # the sync already holds the write lock
        finally:
            foreign.close()

    headers = await login(pclient, "spec1")
    checkpoint = await _vacant(pclient, headers)
    now = datetime.now(UTC)
    engine = papp.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", another_writer_commits)
    try:
        response = await pclient.post(
            "/api/patrols/sync", json=batch([scan_item(checkpoint["tag"], now)]), headers=headers
        )
    finally:
        event.remove(engine, "before_cursor_execute", another_writer_commits)
    assert attempts, "the other writer never ran"
    assert response.status_code == 200, response.text
    assert [a["status"] for a in response.json()["accepted"]] == ["created"]
    assert await _count(pdb, PatrolScan) == 1
