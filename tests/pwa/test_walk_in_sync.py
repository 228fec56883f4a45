"""Requests a specialist takes in person (a resident stops them on the stairs), through the phone's
outbox (`ticket_create` items): the specialist is the first receiver and the desk sees it at once;
a replay opens nothing new; a refused request changes nothing and stops the batch there.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.tickets.models import Ticket
from tests.conftest import login
from tests.pwa.conftest import Clock
from tests.pwa.support import batch, iso

Client = AsyncTestClient[Litestar]
Sessions = async_sessionmaker[AsyncSession]


def request_item(at: datetime, *, item_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """One outbox item as the phone's request form queues it."""
    body: dict[str, Any] = {
        "kind": "repair", "title": "厨房水管漏水", "source": "walk_in", "building": "b1",
        "unit": "b1-1203", "requester_name": "王伟", "requester_phone": "13800001203",
        "needs_on_site": True, **fields,
    }
    return {"id": item_id or str(uuid.uuid4()), "kind": "ticket_create", "device_time": iso(at),
            "payload": body}


async def _sync(client: Client, headers: dict[str, str], items: list[dict[str, Any]],
                sent_at: datetime) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/patrols/sync", json=batch(items, sent_at=sent_at), headers=headers)
    return response.status_code, response.json()


async def _tickets_titled(pdb: Sessions, title: str) -> int:
    async with pdb() as session:
        return int(await session.scalar(select(func.count()).select_from(Ticket).where(Ticket.title == title))
                   or 0)


async def test_a_request_taken_offline_opens_one_ticket_the_specialist_first_received(
    pclient: Client, pdb: Sessions, clock: Clock
) -> None:
    t0 = clock.now = datetime.now(UTC).replace(microsecond=0)
    spec, desk = await login(pclient, "spec1"), await login(pclient, "desk")
    taken_at = t0 - timedelta(minutes=20)  # written on the stairs, synced when signal came back
    item = request_item(taken_at, title="楼道水管滴水")
    status, body = await _sync(pclient, spec, [item], t0)
    assert status == 200, body
    assert [(a["id"], a["status"]) for a in body["accepted"]] == [(item["id"], "created")]
    ticket_id = body["accepted"][0]["result"]["ticket_id"]

    detail = (await pclient.get(f"/api/tickets/{ticket_id}", headers=desk)).json()
    assert (detail["source"], detail["kind"], detail["status"]) == ("walk_in", "repair", "new")
    assert detail["first_receiver_name"] == "1#楼专员 李明"
    assert (detail["unit"], detail["requester_phone"]) == ("b1-1203", "13800001203")
    # Someone must go: the 15-minute clock runs from when the server opened it.
    assert datetime.fromisoformat(detail["on_site_due_at"]) == t0 + timedelta(minutes=15)
    opened = detail["audit"][0]
    assert (opened["action"], opened["actor"]) == ("opened", "spec1")
    assert datetime.fromisoformat(opened["detail"]["device_time"]) == taken_at  # the phone's time, kept

    # The phone did not hear the answer and sends it again, alone and in a later batch.
    status, body = await _sync(pclient, spec, [item, request_item(t0, title="另一件事")], t0)
    assert status == 200, body
    assert body["accepted"][0] == {"id": item["id"], "status": "replayed", "result": {"ticket_id": ticket_id}}
    assert await _tickets_titled(pdb, "楼道水管滴水") == 1


async def test_a_refused_request_changes_nothing_and_stops_the_batch_there(
    pclient: Client, pdb: Sessions, clock: Clock
) -> None:
    t0 = clock.now = datetime.now(UTC).replace(microsecond=0)
    spec = await login(pclient, "spec1")
    # spec1 covers building 1 only: a unit of building 2 is refused, the request after it waits.
    items = [request_item(t0, title="一号楼的事"), request_item(t0, title="二号楼的事", building="b2",
                                                                unit="b2-0402"),
             request_item(t0, title="之后的事")]
    status, body = await _sync(pclient, spec, items, t0)
    assert status == 403, body
    assert [a["id"] for a in body["accepted"]] == [items[0]["id"]]
    assert (body["failed"]["id"], body["failed"]["code"]) == (items[1]["id"], "building.not_yours")
    assert [await _tickets_titled(pdb, t) for t in ("一号楼的事", "二号楼的事", "之后的事")] == [1, 0, 0]

    # A body the tickets API refuses is refused here too, naming the field.
    status, body = await _sync(pclient, spec, [request_item(t0, title="")], t0)
    assert status in (400, 422), body
    assert "title" in str(body["failed"])
    status, body = await _sync(pclient, spec, [request_item(t0, title="x", kind="alarm_storm")], t0)
    assert status in (400, 422), body
