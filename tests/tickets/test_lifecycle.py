"""The ticket lifecycle through the API: requests, steps, roles, retries, the handbook's rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.tickets.models import DeskEvent, TicketAudit
from tests.conftest import login

Client = AsyncTestClient[Litestar]


async def _new_request(client: Client, headers: dict[str, str], **changes: object) -> dict:
    body: dict[str, object] = {
        "kind": "repair",
        "title": "厨房水管漏水",
        "building": "b1",
        "unit": "b1-1203",
        "source": "phone",
        "requester_name": "王先生",
        "requester_phone": "13900001111",
        "needs_on_site": True,
    }
    body.update(changes)
    response = await client.post("/api/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _act(client: Client, headers: dict[str, str], ticket_id: int, action: str, **fields: object):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/tickets/{ticket_id}/actions", json={"action": action, **fields}, headers=headers
    )


async def test_a_phone_request_walks_the_whole_lifecycle(client: Client) -> None:
    desk = {**await login(client, "desk"), "X-Fieldops-Client": "desk"}
    ticket = await _new_request(client, desk)
    me = (await client.get("/api/auth/me", headers=desk)).json()
    assert ticket["status"] == "new"
    assert ticket["first_receiver_id"] == me["id"]  # 首问责任制: the receiver owns it
    assert ticket["unit"] == "b1-1203"
    assert ticket["requester_phone"] == "13900001111"
    opened = datetime.fromisoformat(ticket["opened_at"])
    assert datetime.fromisoformat(ticket["on_site_due_at"]) - opened == timedelta(minutes=15)

    staff = (await client.get("/api/staff?building=b1", headers=desk)).json()
    assert staff[0]["username"] == "spec1"
    assert staff[0]["suggested"] is True
    dispatched = (await _act(client, desk, ticket["id"], "dispatch", assignee_id=staff[0]["id"])).json()
    assert dispatched["status"] == "dispatched"
    assert dispatched["assignee_id"] == staff[0]["id"]
    loads = {s["username"]: s["open_tickets"] for s in (await client.get("/api/staff", headers=desk)).json()}
    assert loads["spec1"] == 1

    spec = {**await login(client, "spec1"), "X-Fieldops-Client": "pwa:phone-1"}
    phone_time = datetime.now(UTC) - timedelta(seconds=30)
    arrived = (await _act(client, spec, ticket["id"], "arrive", device_time=phone_time.isoformat())).json()
    assert arrived["status"] == "on_site"
    assert arrived["on_site_at"] is not None
    resolved = (await _act(client, spec, ticket["id"], "resolve", note="换了阀门")).json()
    assert resolved["status"] == "resolved"
    assert resolved["resolution_note"] == "换了阀门"
    followed = (
        await _act(client, desk, ticket["id"], "follow_up", satisfaction=5, by_phone=True, signed_by="王先生")
    ).json()
    assert followed["status"] == "followed_up"
    closed = (await _act(client, desk, ticket["id"], "close")).json()
    assert closed["status"] == "closed"

    steps = [(a["action"], a["actor"], a["client"]) for a in closed["audit"]]
    assert steps == [
        ("opened", "desk", "desk"),
        ("dispatch", "desk", "desk"),
        ("arrive", "spec1", "pwa:phone-1"),
        ("resolve", "spec1", "pwa:phone-1"),
        ("follow_up", "desk", "desk"),
        ("close", "desk", "desk"),
    ]
    arrive_detail = closed["audit"][2]["detail"]
    assert datetime.fromisoformat(arrive_detail["device_time"]) == phone_time  # both times kept


async def test_not_satisfied_at_follow_up_sends_it_back(client: Client) -> None:
    desk = await login(client, "desk")
    ticket = await _new_request(client, desk)
    spec1 = next(s for s in (await client.get("/api/staff", headers=desk)).json() if s["username"] == "spec1")
    await _act(client, desk, ticket["id"], "dispatch", assignee_id=spec1["id"])
    await _act(client, desk, ticket["id"], "resolve")
    back = (await _act(client, desk, ticket["id"], "follow_up", satisfaction=1)).json()
    assert back["status"] == "dispatched"
    assert back["satisfaction"] == 1
    assert back["resolved_at"] is None


async def test_a_retried_action_changes_nothing_and_a_reused_id_is_a_conflict(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    desk = await login(client, "desk")
    action_id = str(uuid.uuid4())
    body = {"kind": "help", "title": "老人需要帮助", "building": "b2", "client_action_id": action_id}
    first = await client.post("/api/tickets", json=body, headers=desk)
    again = await client.post("/api/tickets", json=body, headers=desk)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    changed = await client.post("/api/tickets", json={**body, "title": "别的事"}, headers=desk)
    assert changed.status_code == 409
    listed = (await client.get("/api/tickets?kind=help", headers=desk)).json()
    assert listed["total"] == 1

    ack_id = str(uuid.uuid4())
    ticket_id = first.json()["id"]
    assert (await _act(client, desk, ticket_id, "acknowledge", client_action_id=ack_id)).status_code == 200
    assert (await _act(client, desk, ticket_id, "acknowledge", client_action_id=ack_id)).status_code == 200
    async with db() as session:
        acks = (
            await session.scalars(
                select(TicketAudit.action).where(
                    TicketAudit.ticket_id == ticket_id, TicketAudit.action == "acknowledge"
                )
            )
        ).all()
    assert len(acks) == 1
    # A second desk acknowledging without a retry id is told it is already done.
    late = await _act(client, desk, ticket_id, "acknowledge")
    assert late.status_code == 409
    assert "acknowledged" in late.json()["detail"]


async def test_second_postponement_needs_a_supervisor(client: Client) -> None:
    desk = await login(client, "desk")
    ticket = await _new_request(client, desk, kind="repair", needs_on_site=False)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    first = await _act(client, desk, ticket["id"], "postpone", reason="等配件", promised_at=later)
    assert first.status_code == 200
    assert first.json()["postponements"] == 1
    refused = await _act(client, desk, ticket["id"], "postpone", reason="配件还没到", promised_at=later)
    assert refused.status_code == 409
    assert "supervisor" in refused.json()["detail"]
    no_reason = await _act(client, desk, ticket["id"], "postpone", promised_at=later)
    assert no_reason.status_code == 400
    past = await _act(
        client,
        desk,
        ticket["id"],
        "postpone",
        reason="x",
        promised_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
    )
    assert past.status_code == 422

    supervisor = await login(client, "supervisor")
    approved = await _act(
        client, supervisor, ticket["id"], "postpone", reason="配件还没到，主管批准", promised_at=later
    )
    assert approved.status_code == 200
    assert approved.json()["postponements"] == 2


async def test_only_a_supervisor_classifies_a_complaint_as_invalid(client: Client) -> None:
    desk = await login(client, "desk")
    complaint = await _new_request(client, desk, kind="complaint", title="楼道噪音", needs_on_site=False)
    refused = await _act(client, desk, complaint["id"], "classify", classification="invalid")
    assert refused.status_code == 403
    assert "supervisor" in refused.json()["detail"]
    minor = await _act(client, desk, complaint["id"], "classify", classification="minor")
    assert minor.json()["classification"] == "minor"
    supervisor = await login(client, "supervisor")
    invalid = await _act(client, supervisor, complaint["id"], "classify", classification="invalid")
    assert invalid.json()["classification"] == "invalid"
    repair = await _new_request(client, desk)
    assert (await _act(client, desk, repair["id"], "classify", classification="minor")).status_code == 422


async def test_roles_and_scope(client: Client) -> None:
    desk = await login(client, "desk")
    b2 = await _new_request(client, desk, building="b2", unit="b2-0301")
    spec1 = await login(client, "spec1")
    assert (await _act(client, spec1, b2["id"], "acknowledge")).status_code == 404  # not their building
    mine = await _new_request(client, spec1)
    assert (await _act(client, spec1, mine["id"], "dispatch", assignee_id=1)).status_code == 403
    outside = await client.post(
        "/api/tickets", json={"kind": "repair", "title": "x", "building": "b2"}, headers=spec1
    )
    assert outside.status_code == 403
    spec2_id = next(
        s["id"] for s in (await client.get("/api/staff", headers=desk)).json() if s["username"] == "spec2"
    )
    wrong = await _act(client, desk, mine["id"], "dispatch", assignee_id=spec2_id)
    assert wrong.status_code == 422
    assert "does not cover" in wrong.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "repair", "title": "x", "unit": "b9-9999"}, "unit"),
        ({"kind": "repair", "title": "x", "building": "b1", "unit": "b2-0101"}, "unit"),
        ({"kind": "teleport", "title": "x"}, "kind"),
        ({"kind": "repair", "title": "", "building": "b1"}, "title"),
        ({"kind": "repair", "title": "x", "building": "b1", "requester_phone": "call me"}, "requester_phone"),
        (
            {"kind": "repair", "title": "x", "building": "b1", "attachment_ids": [str(uuid.uuid4())]},
            "attachment_ids",
        ),
    ],
)
async def test_bad_requests_name_the_field_and_change_nothing(client: Client, body: dict, field: str) -> None:
    desk = await login(client, "desk")
    response = await client.post("/api/tickets", json=body, headers=desk)
    assert response.status_code in (400, 422), response.text
    assert field in response.text
    assert (await client.get("/api/tickets", headers=desk)).json()["total"] == 0


async def test_announce_delay_is_recorded_before_the_deadline(client: Client) -> None:
    desk = await login(client, "desk")
    ticket = await _new_request(client, desk)
    announced = (
        await _act(client, desk, ticket["id"], "announce_delay", note="电话告知业主晚到10分钟")
    ).json()
    assert announced["delay_announced_at"] is not None
    assert announced["audit"][-1]["detail"]["before_deadline"] is True


async def test_every_step_is_logged_for_the_desk_stream(
    client: Client, db: async_sessionmaker[AsyncSession]
) -> None:
    desk = await login(client, "desk")
    ticket = await _new_request(client, desk)
    await _act(client, desk, ticket["id"], "acknowledge")
    await _act(client, desk, ticket["id"], "note", note="已联系业主")
    async with db() as session:
        rows = (
            await session.execute(
                select(DeskEvent.topic, DeskEvent.entity_id, DeskEvent.action).order_by(DeskEvent.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("ticket", ticket["id"], "opened"),
        ("ticket", ticket["id"], "acknowledge"),
        ("ticket", ticket["id"], "note"),
    ]
