"""enqueue: one pending delivery per (ticket, step, subscription), in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.push import service
from server.push.models import PushDelivery
from tests.push.conftest import current_user, enqueue, make_ticket, subscribe
from tests.push.receiver import PushReceiver


async def _deliveries(sessions: async_sessionmaker[AsyncSession]) -> list[PushDelivery]:
    async with sessions() as session:
        return list(await session.scalars(select(PushDelivery).order_by(PushDelivery.id)))


async def test_same_step_twice_is_one_delivery_per_subscription(
        sessions: async_sessionmaker[AsyncSession], receiver: PushReceiver, now: datetime) -> None:
    ticket = await make_ticket(sessions)
    spec1, desk = await current_user(sessions, "spec1"), await current_user(sessions, "desk")
    for _ in range(2):  # two devices of spec1
        await subscribe(sessions, spec1, receiver.subscription())
    await subscribe(sessions, desk, receiver.subscription())

    assert (await enqueue(sessions, ticket, spec1, now=now))[0] == 2
    assert (await enqueue(sessions, ticket, spec1, now=now))[0] == 0  # a retried dispatch
    assert (await enqueue(sessions, ticket, spec1, step="escalated:1", now=now))[0] == 2
    rows = await _deliveries(sessions)
    assert [(d.step, d.status, d.user_id) for d in rows] == [
        ("dispatched", "pending", spec1.id), ("dispatched", "pending", spec1.id),
        ("escalated:1", "pending", spec1.id), ("escalated:1", "pending", spec1.id)]
    assert rows[0].urgency == "high"
    assert rows[0].ttl == 3600
    assert rows[0].payload["require_interaction"] is True
    assert rows[0].payload["tag"] == f"ticket-{ticket.id}"


async def test_enqueue_commits_or_rolls_back_with_the_caller(
        sessions: async_sessionmaker[AsyncSession], receiver: PushReceiver) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    payload = service.build_payload(ticket, step="dispatched")

    class DispatchFailed(Exception):
        pass

    async def dispatch_that_fails() -> None:
        async with sessions() as session, session.begin():
            await service.enqueue(session, user_ids=[spec1.id], ticket_id=ticket.id, step="dispatched",
                                  payload=payload)
            raise DispatchFailed

    with pytest.raises(DispatchFailed):
        await dispatch_that_fails()
    assert await _deliveries(sessions) == []


async def test_users_without_subscriptions_get_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    ticket = await make_ticket(sessions)
    spec2 = await current_user(sessions, "spec2")
    assert (await enqueue(sessions, ticket, spec2))[0] == 0
    async with sessions() as session:
        assert await service.enqueue(session, user_ids=[], ticket_id=ticket.id, step="x",
                                     payload=service.build_payload(ticket, step="x")) == 0


async def test_enqueue_refuses_what_cannot_be_sent(sessions: async_sessionmaker[AsyncSession]) -> None:
    ticket = await make_ticket(sessions)
    payload = service.build_payload(ticket, step="dispatched")
    async with sessions() as session:
        with pytest.raises(ValueError, match="urgency"):
            await service.enqueue(session, user_ids=[1], ticket_id=ticket.id, step="s", payload=payload,
                                  urgency="urgent")
        with pytest.raises(ValueError, match="ttl"):
            await service.enqueue(session, user_ids=[1], ticket_id=ticket.id, step="s", payload=payload,
                                  ttl=-1)
        huge = service.build_payload(ticket, step="dispatched")
        huge.body = "很" * 2000
        with pytest.raises(ValueError, match="bytes"):
            await service.enqueue(session, user_ids=[1], ticket_id=ticket.id, step="s", payload=huge)


async def test_payload_carries_what_the_service_worker_needs(sessions: async_sessionmaker[AsyncSession],
                                                             now: datetime) -> None:
    ticket = await make_ticket(sessions, severity="normal", title="报修 " + "长" * 150)
    payload = service.build_payload(ticket, step="dispatched", at=now)
    assert payload.ticket_id == ticket.id
    assert payload.url == f"/app/#/tickets/{ticket.id}"
    assert payload.tag == f"ticket-{ticket.id}"
    assert payload.require_interaction is False
    assert payload.severity == "normal"
    assert payload.step == "dispatched"
    assert payload.sent_at == now
    assert len(payload.title) <= 100
    assert service.urgency_for("normal") == "normal"
    assert service.urgency_for("critical") == "high"


async def test_enqueue_ticket_step_derives_payload_and_urgency(
        sessions: async_sessionmaker[AsyncSession], receiver: PushReceiver, now: datetime) -> None:
    ticket = await make_ticket(sessions, severity="critical")
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    async with sessions() as session, session.begin():
        assert await service.enqueue_ticket_step(session, ticket, user_ids=[spec1.id], step="escalated:1",
                                                 body="超时未到场，已升级主管", now=now) == 1
    [row] = await _deliveries(sessions)
    assert row.urgency == "high"
    assert row.payload["body"] == "超时未到场，已升级主管"
    assert row.payload["step"] == "escalated:1"
