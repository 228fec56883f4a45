"""A move-in synced through the phone's outbox: one inspection, readings, cards, tickets — once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from server.estates.models import AccessCard, Resident, Unit
from server.movein import templates
from server.movein.models import MoveInAnswer, MoveInInspection, MoveInReading
from server.tickets.models import ClientAction, Ticket, TicketAttachment
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

SHANGHAI_NOON = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


async def test_a_move_in_is_stored_once_with_cards_owner_and_rectification_tickets(
        mclient: Client, mdb: Sessions) -> None:
    headers = await login(mclient, "spec1")
    unit = (await vacant_units(mclient, headers))[0]
    shots = await photos(mclient, headers)
    await smart_readings(mdb, unit, "water", [(SHANGHAI_NOON - timedelta(minutes=30), 12.4)])
    item = move_in_item(payload(unit, shots, SHANGHAI_NOON))

    first = await sync(mclient, headers, item)
    assert first.status_code == 200, first.text
    [accepted] = first.json()["accepted"]
    assert accepted["status"] == "created"
    result = accepted["result"]
    assert result["inspection_id"] == item["id"]
    assert (result["unit"], result["stage"], result["first_inspection_id"]) == (unit, "handover", None)
    assert len(result["tickets"]) == 2
    assert result["cards"] == ["0012340001", "0012340002"]
    assert {r["quantity"]: r["status"] for r in result["readings"]} == {
        "water": "confirmed", "electricity": "no_meter", "gas": "no_meter"}

    again = await sync(mclient, headers, item)
    assert again.status_code == 200
    assert again.json()["accepted"][0]["status"] == "replayed"
    assert again.json()["accepted"][0]["result"] == result

    assert await count(mdb, MoveInInspection) == 1
    template = templates.get("move_in", 1)
    assert template is not None
    assert await count(mdb, MoveInAnswer) == len(template.checklist.items)
    assert await count(mdb, MoveInReading) == 3
    assert await count(mdb, Ticket, Ticket.kind == "rectification") == 2
    async with mdb() as session:
        unit_row = await session.scalar(select(Unit).where(Unit.slug == unit))
        assert unit_row is not None
        assert unit_row.state == "occupied"
        assert unit_row.handed_over_on == date(2026, 11, 20)
        owners = list(await session.scalars(select(Resident).where(Resident.unit_id == unit_row.id)))
        assert [(o.name, o.role, o.moved_in_on) for o in owners] == [("张伟", "owner", date(2026, 11, 20))]
        cards = list(await session.scalars(select(AccessCard).where(AccessCard.unit_id == unit_row.id)
                                           .order_by(AccessCard.card_number)))
        assert [(c.card_number, c.resident_id, c.holder) for c in cards] == [
            ("0012340001", owners[0].id, "张伟"), ("0012340002", owners[0].id, "张伟")]
        inspection = await session.get(MoveInInspection, item["id"])
        assert inspection is not None
        assert (inspection.keys, inspection.water_card, inspection.defects) == (4, "W-556201", 2)
        assert inspection.device_id == "phone-test-0001"
        assert inspection.received_at is not None
        for ticket_id, photo in zip(result["tickets"], shots.defects, strict=True):
            ticket = await session.get(Ticket, ticket_id)
            assert ticket is not None
            assert (ticket.kind, ticket.source) == ("rectification", "move_in")
            assert ticket.department == "engineering"
            assert (ticket.unit_id, ticket.resident_id) == (unit_row.id, owners[0].id)
            assert ticket.context["move_in"] == item["id"]
            links = list(await session.scalars(select(TicketAttachment.attachment_id).where(
                TicketAttachment.ticket_id == ticket_id)))
            assert links == [photo]
        water = await session.scalar(select(MoveInReading).where(MoveInReading.quantity == "water"))
        assert water is not None
        assert (water.typed_value, water.smart_value, water.opening_value) == (12.5, 12.4, 12.5)


async def test_the_same_uuid_with_changed_content_is_a_409_and_changes_nothing(
        mclient: Client, mdb: Sessions) -> None:
    headers = await login(mclient, "spec1")
    unit = (await vacant_units(mclient, headers))[1]
    shots = await photos(mclient, headers)
    item = move_in_item(payload(unit, shots, SHANGHAI_NOON))
    assert (await sync(mclient, headers, item)).status_code == 200

    changed = {**item, "payload": {**item["payload"], "owner_name": "李娜", "keys": 2}}
    response = await sync(mclient, headers, changed)
    assert response.status_code == 409
    assert response.json()["failed"]["id"] == item["id"]
    async with mdb() as session:
        inspection = await session.get(MoveInInspection, item["id"])
        assert inspection is not None
        assert (inspection.owner_name, inspection.keys) == ("张伟", 4)
        names = set(await session.scalars(select(Resident.name).join(Unit, Unit.id == Resident.unit_id)
                                          .where(Unit.slug == unit)))
        assert names == {"张伟"}
    assert await count(mdb, Ticket, Ticket.kind == "rectification") == 2
    assert await count(mdb, ClientAction, ClientAction.kind == "move_in.inspection") == 1


async def test_a_second_handover_of_the_same_unit_is_refused(mclient: Client, mdb: Sessions) -> None:
    headers = await login(mclient, "spec1")
    unit = (await vacant_units(mclient, headers))[2]
    shots = await photos(mclient, headers, defects=0)
    first = move_in_item(payload(unit, shots, SHANGHAI_NOON, defects=False, cards=[]))
    assert (await sync(mclient, headers, first)).status_code == 200
    again = move_in_item(payload(unit, shots, SHANGHAI_NOON + timedelta(hours=1), defects=False, cards=[]),
                         item_id=str(uuid.uuid4()))
    response = await sync(mclient, headers, again)
    assert response.status_code == 409
    assert "already handed over" in response.json()["failed"]["detail"]
    assert response.json()["failed"]["extra"]["inspection_id"] == first["id"]
    assert await count(mdb, MoveInInspection) == 1


async def test_a_card_held_by_another_unit_refuses_that_move_in_whole_and_keeps_the_item_before(
    mclient: Client, mdb: Sessions
) -> None:
    """The refused move-in had already recorded its owner when the card check refused it: the
    batch is rolled back and the items before it applied again, so nothing of it remains."""
    headers = await login(mclient, "spec1")
    units = await vacant_units(mclient, headers)
    shots = await photos(mclient, headers, defects=0)
    first = move_in_item(payload(units[3], shots, SHANGHAI_NOON, defects=False, cards=["A-0001"]))
    assert (await sync(mclient, headers, first)).status_code == 200

    kept = move_in_item(payload(units[4], shots, SHANGHAI_NOON, owner="李娜", defects=False, cards=[]))
    refused = move_in_item(payload(units[5], shots, SHANGHAI_NOON, owner="王磊", defects=False,
                                   cards=["A-0001"]))
    after = move_in_item(payload(units[6], shots, SHANGHAI_NOON, owner="陈静", defects=False, cards=[]))
    response = await sync(mclient, headers, kept, refused, after)
    assert response.status_code == 409, response.text
    body = response.json()
    assert [a["id"] for a in body["accepted"]] == [kept["id"]]
    assert body["failed"]["id"] == refused["id"]
    assert "A-0001" in body["failed"]["detail"]

    async with mdb() as session:
        owners = set(await session.scalars(select(Resident.name)))
        inspections = set(await session.scalars(select(MoveInInspection.id)))
        card = await session.scalar(select(AccessCard).where(AccessCard.card_number == "A-0001"))
    assert {"张伟", "李娜"} <= owners
    assert "王磊" not in owners
    assert "陈静" not in owners
    assert inspections == {first["id"], kept["id"]}
    assert card is not None
    assert card.unit_id == (await _unit_id(mdb, units[3]))
    assert await count(mdb, ClientAction, ClientAction.id == refused["id"]) == 0


async def _unit_id(db: Sessions, slug: str) -> int:
    async with db() as session:
        unit_id = await session.scalar(select(Unit.id).where(Unit.slug == slug))
    assert unit_id is not None
    return unit_id
