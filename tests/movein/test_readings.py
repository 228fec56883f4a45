"""Meter base readings against the smart meter's reading nearest the handover time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.devices.readings import check_register
from server.movein import templates
from server.tickets.models import Ticket, TicketAttachment
from tests.conftest import login
from tests.movein.support import (
    Client,
    Sessions,
    count,
    move_in_item,
    payload,
    photos,
    smart_readings,
    sync,
    vacant_units,
)

HANDOVER = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)


def test_tolerances_are_data_and_the_boundary_is_within() -> None:
    policies = templates.meter_policies()
    assert {m.quantity: m.tolerance for m in policies.meters} == {"water": 0.5, "electricity": 2.0,
                                                                  "gas": 0.5}
    assert check_register(12.8, 12.3, 0.5).within  # 0.5000000000000018 in floating point
    assert not check_register(12.81, 12.3, 0.5).within
    assert check_register(12.81, 12.3, 0.5).difference == pytest.approx(0.51)


async def test_nearest_reading_in_time_decides_confirmed_or_flagged(mclient: Client, mdb: Sessions) -> None:
    headers = await login(mclient, "spec1")
    near, far = (await vacant_units(mclient, headers))[:2]
    for unit in (near, far):
        # Before, after (the nearest: 40 min), and a later one far off.
        await smart_readings(mdb, unit, "water", [(HANDOVER - timedelta(hours=3), 100.0),
                                                  (HANDOVER + timedelta(minutes=40), 110.0),
                                                  (HANDOVER + timedelta(hours=5), 200.0)])
        await smart_readings(mdb, unit, "electricity", [(HANDOVER - timedelta(minutes=10), 500.0)])
        # A gas reading ten days away is not compared: the meter went silent.
        await smart_readings(mdb, unit, "gas", [(HANDOVER - timedelta(days=10), 1.0)])
    shots = await photos(mclient, headers, defects=0)
    confirmed = move_in_item(payload(near, shots, HANDOVER, defects=False, cards=[],
                                     readings={"water": 109.8, "electricity": 501.5, "gas": 9.0}))
    flagged = move_in_item(payload(far, shots, HANDOVER, defects=False, cards=[],
                                   readings={"water": 100.1, "electricity": 498.1}))
    response = await sync(mclient, headers, confirmed, flagged)
    assert response.status_code == 200, response.text
    near_result, far_result = (a["result"] for a in response.json()["accepted"])
    assert {r["quantity"]: r["status"] for r in near_result["readings"]} == {
        "water": "confirmed", "electricity": "confirmed", "gas": "no_meter"}
    assert {r["quantity"]: r["status"] for r in far_result["readings"]} == {
        "water": "flagged", "electricity": "confirmed"}
    assert far_result["tickets"] == []  # no defect: the meter ticket is the reading's

    detail = (await mclient.get(f"/api/move-ins/{flagged['id']}", headers=headers)).json()
    water = next(r for r in detail["readings"] if r["quantity"] == "water")
    assert (water["typed"], water["smart"], water["status"]) == (100.1, 110.0, "flagged")
    assert water["difference"] == pytest.approx(-9.9)
    assert water["smart_at"].startswith("2026-11-20T03:10:00")
    assert water["smart_device"] == f"{far}-w"
    assert water["opening"] is None  # not the owner's opening reading until engineering checks it
    assert water["tolerance"] == 0.5
    ticket = (await mclient.get(f"/api/tickets/{water['ticket_id']}", headers=headers)).json()
    assert ticket["kind"] == "rectification"
    assert ticket["department"] == "engineering"
    assert "100.1" in ticket["title"]
    assert "110" in ticket["title"]
    assert detail["ticket_ids"] == [water["ticket_id"]]
    assert await count(mdb, TicketAttachment, TicketAttachment.ticket_id == water["ticket_id"],
                       TicketAttachment.attachment_id == shots.meters["water"]) == 1

    near_detail = (await mclient.get(f"/api/move-ins/{confirmed['id']}", headers=headers)).json()
    by_quantity = {r["quantity"]: r for r in near_detail["readings"]}
    assert (by_quantity["water"]["smart"], by_quantity["water"]["opening"]) == (110.0, 109.8)
    assert by_quantity["gas"]["smart"] is None
    assert by_quantity["gas"]["smart_device"] == f"{near}-g"  # a meter, but nothing near the handover
    assert by_quantity["gas"]["opening"] == 9.0
    assert await count(mdb, Ticket, Ticket.kind == "rectification") == 1
