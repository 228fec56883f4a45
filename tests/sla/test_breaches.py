"""Breaches: computed once, met late, announced vs unannounced, stopped clocks owe nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.sla.breaches import Breach, evaluate
from server.sla.models import SlaBreach
from server.sla.policy import SlaClock
from tests.sla.conftest import Estate, change_ticket, local, open_ticket

T = local(2026, 11, 8, 3, 0)  # a Sunday, 3 a.m.: the 15-minute promise runs all the same


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


async def sweep(db: async_sessionmaker[AsyncSession], now: datetime) -> list[Breach]:
    async with db() as session, session.begin():
        return await evaluate(session, now)


async def stored(db: async_sessionmaker[AsyncSession], ticket_id: int) -> dict[str, SlaBreach]:
    async with db() as session:
        rows = await session.scalars(select(SlaBreach).where(SlaBreach.ticket_id == ticket_id))
        return {b.clock: b for b in rows}


async def test_unannounced_on_site_breach(db: async_sessionmaker[AsyncSession], estate: Estate) -> None:
    ticket = await open_ticket(db, estate, T)
    await change_ticket(db, ticket, acknowledged_at=at(1), status="acknowledged")
    assert await sweep(db, at(15)) == []  # due at 03:15 exactly: not past yet
    new = await sweep(db, at(15.1))
    assert [(b.ticket_id, b.clock, b.announced) for b in new] == [(ticket, SlaClock.ON_SITE, False)]
    breach = (await stored(db, ticket))["on_site"]
    assert breach.due_at == at(15)
    assert breach.breached_at == at(15.1)
    assert breach.met_at is None
    assert not breach.announced
    assert "ack" not in await stored(db, ticket)  # acknowledged within 2 minutes


async def test_announced_on_site_breach(db: async_sessionmaker[AsyncSession], estate: Estate) -> None:
    ticket = await open_ticket(db, estate, T)
    # The requester is told of the delay at 03:10, before the 15 minutes run out (domain.md).
    await change_ticket(db, ticket, acknowledged_at=at(1), delay_announced_at=at(10))
    late_news = await open_ticket(db, estate, T)
    await change_ticket(db, late_news, acknowledged_at=at(1), delay_announced_at=at(16))
    new = {b.ticket_id: b for b in await sweep(db, at(17))}
    assert new[ticket].announced is True
    assert new[late_news].announced is False  # told after the deadline: not announced
    assert (await stored(db, ticket))["on_site"].announced


async def test_a_breach_is_stored_once_however_often_the_sweep_runs(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    ticket = await open_ticket(db, estate, T)
    counted: list[Breach] = []
    first = await sweep(db, at(16))
    assert {b.clock for b in first} == {SlaClock.ACK, SlaClock.ON_SITE}
    for minute in (16, 17, 30, 600):
        async with db() as session, session.begin():
            assert await evaluate(session, at(minute), on_breach=counted.append) == []
    assert counted == []
    assert set(await stored(db, ticket)) == {"ack", "on_site"}


async def test_a_clock_met_late_is_a_breach_with_its_met_time(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    seen_while_late = await open_ticket(db, estate, T)
    await sweep(db, at(16))
    await change_ticket(db, seen_while_late, acknowledged_at=at(3), on_site_at=at(21), status="on_site")
    only_seen_after = await open_ticket(db, estate, T)
    await change_ticket(db, only_seen_after, acknowledged_at=at(1), on_site_at=at(18), status="on_site")
    new = await sweep(db, at(30))
    assert [(b.ticket_id, b.clock, b.met_at) for b in new] == [
        (only_seen_after, SlaClock.ON_SITE, at(18))]
    breaches = await stored(db, seen_while_late)
    assert breaches["on_site"].met_at == at(21)
    assert breaches["ack"].met_at == at(3)


async def test_clocks_met_in_time_or_no_longer_needed_owe_nothing(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    on_time = await open_ticket(db, estate, T)
    await change_ticket(db, on_time, acknowledged_at=at(1), on_site_at=at(12), status="on_site")
    dispatched = await open_ticket(db, estate, T)  # dispatching acknowledges it
    await change_ticket(db, dispatched, dispatched_at=at(1.5), on_site_at=at(14), status="on_site")
    cleared = await open_ticket(db, estate, T, severity="high")  # the device cleared it at 03:05
    await change_ticket(db, cleared, status="resolved", resolved_at=at(5), auto_resolved=True)
    cancelled = await open_ticket(db, estate, T)  # false alarm, cancelled at 03:01
    await change_ticket(db, cancelled, status="cancelled", updated_at=at(1))
    assert await sweep(db, at(60)) == []


async def test_an_announcement_synced_late_from_an_offline_phone_still_counts(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    ticket = await open_ticket(db, estate, T)
    await change_ticket(db, ticket, acknowledged_at=at(1))
    assert not (await sweep(db, at(16)))[0].announced
    await change_ticket(db, ticket, delay_announced_at=at(12))  # told at 03:12, synced at 03:20
    await sweep(db, at(20))
    assert (await stored(db, ticket))["on_site"].announced


async def test_complaint_clocks_breach_on_working_days(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    opened = local(2026, 9, 30, 16)  # the eve of National Day 2026
    ticket = await open_ticket(db, estate, opened, kind="complaint", type="noise", severity="normal",
                               classification="major", department="engineering")
    await change_ticket(db, ticket, handed_to_department_at=opened + timedelta(minutes=20))
    # During the holiday only nothing working-day based has run out.
    assert await sweep(db, local(2026, 10, 7, 23, 59)) == []
    assert await sweep(db, local(2026, 10, 10, 23, 59)) == []  # the 调休 Saturday still counts
    new = await sweep(db, local(2026, 10, 11, 0, 1))
    assert [(b.clock, b.due_at) for b in new] == [(SlaClock.ANSWER, local(2026, 10, 11))]
