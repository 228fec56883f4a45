"""Over real MQTT: after the handover, a swipe of a handed-over card is the unit's and the owner's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from server.app import create_app
from server.devices.models import DeviceEvent
from server.estates.models import Resident, Unit
from tests.conftest import login, make_settings
from tests.ingest.conftest import Harness, eventually
from tests.movein.support import Client, move_in_item, payload, photos, sync, vacant_units
from tests.support.publisher import event, topic

pytestmark = pytest.mark.broker


@pytest.fixture
async def web(tmp_path: Path, sqlite_demo_url: str) -> AsyncIterator[Client]:
    """The web app on the database the consumer writes to."""
    app = create_app(make_settings(tmp_path / "web", sqlite_demo_url))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def _swipe(h: Harness, card: str, event_id: str) -> tuple[int | None, int | None]:
    h.publisher.publish(topic("b1-door-main"), event("access.granted", id=event_id,
                                                     data={"card": card, "door": "main"}))

    async def stored() -> tuple[int | None, int | None] | None:
        async with h.db() as session:
            row = (await session.execute(select(DeviceEvent.unit_id, DeviceEvent.resident_id)
                                         .where(DeviceEvent.event_id == event_id))).first()
        return None if row is None else (row[0], row[1])

    found = await eventually(stored, lambda v: v is not None)
    assert found is not None
    return found


async def test_a_handed_over_card_is_attributed_to_the_unit_and_owner(h: Harness, web: Client) -> None:
    headers = await login(web, "spec1")
    unit = (await vacant_units(web, headers))[0]
    card = "0077000001"
    assert await _swipe(h, card, "before-handover") == (None, None)  # nobody's card yet

    shots = await photos(web, headers)
    item = move_in_item(payload(unit, shots, datetime.now(UTC), owner="周杰", cards=[card, "0077000002"]))
    response = await sync(web, headers, item)
    assert response.status_code == 200, response.text
    resident_id = response.json()["accepted"][0]["result"]["resident_id"]

    async with h.db() as session:
        unit_id = await session.scalar(select(Unit.id).where(Unit.slug == unit))
        owner = await session.get(Resident, resident_id)
    assert owner is not None
    assert (owner.unit_id, owner.name, owner.role) == (unit_id, "周杰", "owner")
    assert await _swipe(h, card, "after-handover") == (unit_id, resident_id)
    await h.settled()
    # The unit is occupied now: its owner's card at the door is no sign of a secret occupant.
    assert await h.tickets(type="unit.possible_occupation", unit_id=unit_id) == []
