"""The dispatch inbox's steps through the phone's outbox (`ticket_action` items), with a
controlled clock: the 15-minute on-site promise met, breached, and announced; the device time
kept beside the server's; replays answered once; refusals stop the batch at the right item.

The browser runs of the same (on the live server's own clock) are in test_inbox_browser.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.sla.breaches import evaluate
from server.sla.models import SlaBreach
from server.tickets.models import ClientAction, TicketAttachment, TicketAudit
from tests.conftest import login
from tests.pwa.conftest import Clock
from tests.pwa.support import TINY_JPEG, batch, iso

Client = AsyncTestClient[Litestar]
Sessions = async_sessionmaker[AsyncSession]
MINUTE = timedelta(minutes=1)


def step(
    ticket_id: int, action: str, at: datetime, *, item_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    """One outbox item as the phone's inbox queues it."""
    return {
        "id": item_id or str(uuid.uuid4()),
        "kind": "ticket_action",
        "device_time": iso(at),
        "payload": {"ticket_id": ticket_id, "action": {"action": action, **fields}},
    }


async def _request(client: Client, desk: dict[str, str], title: str) -> int:
    body = {
        "kind": "repair",
        "title": title,
        "source": "phone",
        "building": "b1",
        "unit": "b1-1203",
        "requester_name": "王伟",
        "requester_phone": "13800001203",
        "needs_on_site": True,
    }
    response = await client.post("/api/tickets", json=body, headers=desk)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _dispatched(client: Client, desk: dict[str, str], title: str, to: int) -> int:
    ticket_id = await _request(client, desk, title)
    response = await client.post(
        f"/api/tickets/{ticket_id}/actions", json={"action": "dispatch", "assignee_id": to}, headers=desk
    )
    assert response.status_code == 200, response.text
    return ticket_id


async def _staff_id(client: Client, desk: dict[str, str], username: str) -> int:
    people = (await client.get("/api/staff", params={"building": "b1"}, headers=desk)).json()
    return int(next(p["id"] for p in people if p["username"] == username))


async def _sync(
    client: Client, headers: dict[str, str], items: list[dict[str, Any]], sent_at: datetime
) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/patrols/sync", json=batch(items, sent_at=sent_at), headers=headers)
    return response.status_code, response.json()


async def _on_site(client: Client, headers: dict[str, str], ticket_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/tickets/{ticket_id}/sla", headers=headers)
    assert response.status_code == 200, response.text
    return next(c for c in response.json()["clocks"] if c["clock"] == "on_site")


async def _ticket(client: Client, headers: dict[str, str], ticket_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/tickets/{ticket_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _count(db: Sessions, model: Any, *where: Any) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_on_site_in_time_meets_the_promise_late_is_a_breach_told_in_time_is_announced(
    pclient: Client, pdb: Sessions, clock: Clock
) -> None:
    # The clock starts at the real "now": the SLA view judges running clocks by the wall clock.
    t0 = clock.now = datetime.now(UTC).replace(microsecond=0)
    desk, spec = await login(pclient, "desk"), await login(pclient, "spec1")
    spec1 = await _staff_id(pclient, desk, "spec1")
    in_time = await _dispatched(pclient, desk, "电梯按钮失灵", spec1)
    late = await _dispatched(pclient, desk, "门禁无法开门", spec1)
    told = await _dispatched(pclient, desk, "水管爆裂", spec1)
    assert _at((await _ticket(pclient, spec, in_time))["on_site_due_at"]) == t0 + 15 * MINUTE

    clock.now = t0 + 10 * MINUTE  # on site after 10 minutes, synced at once
    status, body = await _sync(pclient, spec, [step(in_time, "arrive", clock.now)], clock.now)
    assert status == 200, body
    assert [a["status"] for a in body["accepted"]] == ["created"]
    assert body["accepted"][0]["result"] == {"ticket_id": in_time, "action": "arrive"}
    met = await _on_site(pclient, spec, in_time)
    assert (met["state"], met["breached"], _at(met["met_at"])) == ("met", False, t0 + 10 * MINUTE)

    clock.now = t0 + 12 * MINUTE  # the requester is phoned before the deadline: someone will be late
    status, body = await _sync(pclient, spec, [step(told, "announce_delay", clock.now)], clock.now)
    assert status == 200, body
    running = await _on_site(pclient, spec, told)
    assert (running["state"], running["announced"]) == ("running", True)

    clock.now = t0 + 16 * MINUTE  # after the 15 minutes
    status, body = await _sync(pclient, spec, [step(late, "arrive", clock.now)], clock.now)
    assert status == 200, body
    breach = await _on_site(pclient, spec, late)
    assert (breach["state"], breach["breached"], breach["announced"]) == ("met_late", True, False)

    clock.now = t0 + 20 * MINUTE
    status, body = await _sync(pclient, spec, [step(told, "arrive", clock.now)], clock.now)
    assert status == 200, body
    announced = await _on_site(pclient, spec, told)
    assert (announced["state"], announced["breached"], announced["announced"]) == ("met_late", True, True)

    # The breach sweep records the two late arrivals, one of them announced; nothing for in_time.
    async with pdb() as session, session.begin():
        await evaluate(session, t0 + 30 * MINUTE)
    async with pdb() as session:
        rows = {(b.ticket_id, b.clock): b for b in await session.scalars(select(SlaBreach))}
    assert (in_time, "on_site") not in rows
    assert rows[(late, "on_site")].announced is False
    assert rows[(told, "on_site")].announced is True
    assert rows[(told, "on_site")].met_at == t0 + 20 * MINUTE


async def test_an_arrival_synced_late_keeps_the_phone_time_beside_the_server_time_and_replays_once(
    pclient: Client, pdb: Sessions, clock: Clock
) -> None:
    t0 = clock.now = datetime.now(UTC).replace(microsecond=0)
    desk, spec = await login(pclient, "desk"), await login(pclient, "spec1")
    ticket_id = await _dispatched(pclient, desk, "地下室水管漏水", await _staff_id(pclient, desk, "spec1"))

    # Offline in the basement: on site at minute 9 on the phone, resolved at minute 14 with a photo.
    photo = str(uuid.uuid4())
    arrive = step(ticket_id, "arrive", t0 + 9 * MINUTE)
    resolve = step(
        ticket_id, "resolve", t0 + 14 * MINUTE, note="已关闭总阀并更换水管", attachment_ids=[photo]
    )
    clock.now = t0 + 18 * MINUTE  # signal again
    uploaded = await pclient.put(
        f"/api/attachments/{photo}", content=TINY_JPEG, headers={**spec, "Content-Type": "image/jpeg"}
    )
    assert uploaded.status_code == 201
    status, body = await _sync(pclient, spec, [arrive, resolve], clock.now)
    assert status == 200, body
    assert [a["status"] for a in body["accepted"]] == ["created", "created"]

    ticket = await _ticket(pclient, spec, ticket_id)
    assert ticket["status"] == "resolved"
    assert ticket["resolution_note"] == "已关闭总阀并更换水管"
    # The clock stops when the server receives the arrival (lifecycle.py); the phone's time is kept.
    assert _at(ticket["on_site_at"]) == t0 + 18 * MINUTE
    steps = {a["action"]: a for a in ticket["audit"]}
    assert _at(steps["arrive"]["at"]) == t0 + 18 * MINUTE
    assert _at(steps["arrive"]["detail"]["device_time"]) == t0 + 9 * MINUTE
    assert _at(steps["resolve"]["detail"]["device_time"]) == t0 + 14 * MINUTE
    assert steps["arrive"]["client"] == "pwa:phone-test-0001"
    async with pdb() as session:
        remembered = await session.get(ClientAction, arrive["id"])
        assert remembered is not None
        assert remembered.kind == "ticket.arrive"
        assert remembered.device_time == t0 + 9 * MINUTE
        links = list(
            await session.scalars(
                select(TicketAttachment.attachment_id).where(TicketAttachment.ticket_id == ticket_id)
            )
        )
    assert links == [photo]
    late = await _on_site(pclient, spec, ticket_id)
    assert (late["state"], late["breached"]) == ("met_late", True)

    # The same outbox again (a lost answer, an exported file re-imported): answered, nothing redone.
    audit_rows = await _count(pdb, TicketAudit, TicketAudit.ticket_id == ticket_id)
    clock.now = t0 + 25 * MINUTE
    status, body = await _sync(pclient, spec, [arrive, resolve], clock.now)
    assert status == 200, body
    assert [a["status"] for a in body["accepted"]] == ["replayed", "replayed"]
    assert await _count(pdb, TicketAudit, TicketAudit.ticket_id == ticket_id) == audit_rows
    assert await _count(pdb, TicketAttachment, TicketAttachment.ticket_id == ticket_id) == 1
    assert _at((await _ticket(pclient, spec, ticket_id))["on_site_at"]) == t0 + 18 * MINUTE

    # The same UUID with other content is a conflict naming the item; nothing changes.
    changed = {
        **resolve,
        "payload": {"ticket_id": ticket_id, "action": {"action": "resolve", "note": "改过的"}},
    }
    status, body = await _sync(pclient, spec, [changed], clock.now)
    assert status == 409
    assert body["failed"]["id"] == resolve["id"]
    assert body["failed"]["code"] == "client_action.reused"  # the phone shows it as a conflict
    assert body["accepted"] == []
    assert (await _ticket(pclient, spec, ticket_id))["resolution_note"] == "已关闭总阀并更换水管"


async def test_a_refused_step_stops_the_batch_there_and_keeps_the_steps_before_it(
    pclient: Client, clock: Clock
) -> None:
    t0 = clock.now = datetime.now(UTC).replace(microsecond=0)
    desk, spec = await login(pclient, "desk"), await login(pclient, "spec1")
    spec1 = await _staff_id(pclient, desk, "spec1")
    first = await _dispatched(pclient, desk, "楼道灯不亮", spec1)
    cancelled = await _dispatched(pclient, desk, "重复报修", spec1)
    response = await pclient.post(
        f"/api/tickets/{cancelled}/actions", json={"action": "cancel", "reason": "重复报单"}, headers=desk
    )
    assert response.status_code == 200, response.text

    # Offline the phone still showed `cancelled` as dispatched: its arrival is refused (409), the
    # step before it is kept, the one after it waits at the phone.
    items = [
        step(first, "on_my_way", t0),
        step(cancelled, "arrive", t0 + MINUTE),
        step(first, "arrive", t0 + MINUTE),
    ]
    status, body = await _sync(pclient, spec, items, t0 + 2 * MINUTE)
    assert status == 409
    assert [a["id"] for a in body["accepted"]] == [items[0]["id"]]
    assert body["failed"]["id"] == items[1]["id"]
    assert "cancelled" in body["failed"]["detail"]
    # Refused as it is now, not "already synced with other content": the phone says so.
    assert body["failed"]["code"] == "ticket.wrong_status"
    assert (await _ticket(pclient, spec, first))["status"] == "dispatched"  # the third did not run
    assert [a["action"] for a in (await _ticket(pclient, spec, first))["audit"]][-1] == "on_my_way"

    # A photo the phone has not uploaded yet: the step is refused naming the field.
    status, body = await _sync(
        pclient, spec, [step(first, "resolve", t0, note="好了", attachment_ids=[str(uuid.uuid4())])], t0
    )
    assert status == 422, body
    assert "Upload the attachments first" in body["failed"]["detail"]
    assert body["failed"]["extra"]["errors"][0]["field"] == "attachment_ids"

    # Another building's specialist does not see the ticket at all.
    other = await login(pclient, "spec2")
    status, body = await _sync(pclient, other, [step(first, "arrive", t0)], t0)
    assert status == 404, body


async def test_the_sla_view_runs_on_the_apps_clock(pclient: Client, clock: Clock) -> None:
    """The phone's and desk's "time left" read /sla: it must agree with the deadlines the
    lifecycle set on the same clock (a test clock here; NTP-stepped time in production)."""
    t0 = clock.now = datetime.now(UTC).replace(microsecond=0)
    desk = await login(pclient, "desk")
    spec1 = await _staff_id(pclient, desk, "spec1")
    ticket_id = await _dispatched(pclient, desk, "门禁无法开门", spec1)

    clock.now = t0 + 14 * MINUTE
    response = await pclient.get(f"/api/tickets/{ticket_id}/sla", headers=desk)
    assert response.status_code == 200, response.text
    assert {c["clock"]: c for c in response.json()["clocks"]}["on_site"]["state"] == "running"

    clock.now = t0 + 16 * MINUTE
    response = await pclient.get(f"/api/tickets/{ticket_id}/sla", headers=desk)
    on_site = {c["clock"]: c for c in response.json()["clocks"]}["on_site"]
    assert (on_site["state"], on_site["breached"]) == ("overdue", True)
