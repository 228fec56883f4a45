"""Bad move-ins are refused with the field named, and leave nothing behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from server.estates.models import AccessCard, Resident, Unit
from server.movein.models import MoveInInspection
from server.tickets.models import Ticket
from tests.conftest import login
from tests.movein.support import Client, Sessions, count, move_in_item, payload, photos, sync, vacant_units

HANDOVER = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


async def _refused(client: Client, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await sync(client, headers, move_in_item(body))
    assert response.status_code != 200, response.text
    failed: dict[str, Any] = response.json()["failed"]
    assert failed["status"] == response.status_code
    return failed


async def test_bad_items_name_what_is_wrong(mclient: Client, mdb: Sessions) -> None:
    headers = await login(mclient, "spec1")
    unit = (await vacant_units(mclient, headers))[0]
    shots = await photos(mclient, headers)

    failed = await _refused(mclient, headers, payload("b9-9999", shots, HANDOVER))
    assert failed["status"] == 404
    assert "No unit b9-9999" in failed["detail"]
    assert failed["extra"]["errors"][0]["field"] == "payload.unit"

    missing = str(uuid.uuid4())
    body = payload(unit, shots, HANDOVER)
    body["readings"][0]["photo_id"] = missing
    failed = await _refused(mclient, headers, body)
    assert failed["status"] == 422
    assert missing in failed["detail"]
    assert [e["field"] for e in failed["extra"]["errors"]] == ["payload.readings.water.photo_id"]

    body = payload(unit, shots, HANDOVER, owner_signature_id=missing)
    failed = await _refused(mclient, headers, body)
    assert [e["field"] for e in failed["extra"]["errors"]] == ["payload.owner_signature_id"]

    body = payload(unit, shots, HANDOVER)
    body["answers"][0] = {"item": body["answers"][0]["item"], "status": "defect", "note": "划痕"}
    failed = await _refused(mclient, headers, body)
    assert (failed["status"], "needs a note and a photo" in failed["detail"]) == (422, True)

    failed = await _refused(mclient, headers, payload(unit, shots, HANDOVER, readings={"water": 1.0}))
    assert failed["extra"]["errors"][0]["field"] == "payload.readings.electricity"

    body = {**payload(unit, shots, HANDOVER), "handed_over_at": "2026-11-21T14:00:00"}  # no offset
    failed = await _refused(mclient, headers, body)
    assert failed["extra"]["errors"][0]["field"] == "payload.handed_over_at"

    failed = await _refused(mclient, headers, payload(unit, shots, HANDOVER, template_version=9))
    assert failed["extra"]["errors"][0]["field"] == "payload.template"

    failed = await _refused(mclient, headers, payload(unit, shots, HANDOVER, stage="second"))
    assert (failed["status"], failed["extra"]["errors"][0]["field"]) == (422, "payload.stage")

    failed = await _refused(mclient, headers, {**payload(unit, shots, HANDOVER), "colour": "red"})
    assert failed["status"] == 422
    assert "colour" in failed["detail"]

    assert await count(mdb, MoveInInspection) == 0
    assert await count(mdb, Ticket, Ticket.kind == "rectification") == 0
    async with mdb() as session:
        assert await session.scalar(select(Unit.state).where(Unit.slug == unit)) == "vacant"


async def test_a_card_registered_to_another_unit_is_a_409_that_changes_nothing(
        mclient: Client, mdb: Sessions) -> None:
    headers = await login(mclient, "spec1")
    first, second = (await vacant_units(mclient, headers))[:2]
    shots = await photos(mclient, headers)
    ok = await sync(mclient, headers, move_in_item(payload(first, shots, HANDOVER, cards=["0055000001"])))
    assert ok.status_code == 200, ok.text
    residents = await count(mdb, Resident)

    failed = await _refused(mclient, headers, payload(second, shots, HANDOVER, owner="王芳",
                                                      cards=["0055000002", "0055000001"]))
    assert failed["status"] == 409
    assert "0055000001" in failed["detail"]
    assert first in failed["detail"]
    assert failed["extra"]["card_number"] == "0055000001"
    async with mdb() as session:
        assert await session.scalar(select(Unit.state).where(Unit.slug == second)) == "vacant"
        cards = {c.card_number: c.unit_id for c in await session.scalars(select(AccessCard))}
        first_id = await session.scalar(select(Unit.id).where(Unit.slug == first))
    assert cards == {"0055000001": first_id}
    assert await count(mdb, Resident) == residents
    assert await count(mdb, MoveInInspection) == 1
    assert await count(mdb, Ticket, Ticket.kind == "rectification") == 2

    # Revoked at the first unit (lost card), the number may be handed over again.
    async with mdb() as session, session.begin():
        card = await session.scalar(select(AccessCard).where(AccessCard.card_number == "0055000001"))
        assert card is not None
        card.revoked_at = datetime.now(UTC)
    again = await sync(mclient, headers, move_in_item(payload(second, shots, HANDOVER, owner="王芳",
                                                              cards=["0055000001"])))
    assert again.status_code == 200, again.text
    async with mdb() as session:
        card = await session.scalar(select(AccessCard).where(AccessCard.card_number == "0055000001"))
        second_id = await session.scalar(select(Unit.id).where(Unit.slug == second))
        assert card is not None
        assert (card.unit_id, card.holder, card.revoked_at) == (second_id, "王芳", None)


async def test_roles_and_building_scope(mclient: Client, mdb: Sessions) -> None:
    spec1 = await login(mclient, "spec1")
    unit = (await vacant_units(mclient, spec1))[0]
    shots = await photos(mclient, spec1)
    failed = await _refused(mclient, await login(mclient, "desk"), payload(unit, shots, HANDOVER))
    assert failed["status"] == 403
    failed = await _refused(mclient, await login(mclient, "spec2"), payload(unit, shots, HANDOVER))
    assert failed["status"] == 404  # another building's unit answers like an unknown one
    assert await count(mdb, MoveInInspection) == 0
