"""Breaches: clocks past due and not met, stored once per ticket and clock.

A clock met late is a breach too (with its met_at). An on-site breach is *announced*
when the requester was told of the delay before the deadline ran out (domain.md:
15-minute promise — "the requester must be told before the 15 minutes run out").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert_insert
from server.sla.models import SlaBreach
from server.sla.policy import SlaClock
from server.sla.ticket_clocks import due_sql, met_sql, stopped_sql
from server.tickets.models import Ticket

ClockState = Literal["running", "overdue", "met", "met_late", "stopped"]


@dataclass(frozen=True)
class Breach:
    """A newly recorded breach, with what a metric wants as labels."""

    ticket_id: int
    clock: SlaClock
    due_at: datetime
    met_at: datetime | None
    announced: bool
    kind: str
    severity: str
    building_id: int | None


def clock_state(due: datetime, met: datetime | None, stopped: datetime | None,
                now: datetime) -> ClockState:
    """Where one clock stands: ``stopped`` is when it stopped (met or no longer needed)."""
    if met is not None and met <= due:
        return "met"
    if met is not None:
        return "met_late"
    if stopped is not None and stopped <= due:
        return "stopped"  # e.g. resolved before anyone had to arrive: nothing owed
    return "overdue" if now > due else "running"


def is_announced(clock: SlaClock, due: datetime, delay_announced_at: datetime | None) -> bool:
    """Only the on-site promise has an announcement (告知业主并征得同意, domain.md)."""
    return clock == SlaClock.ON_SITE and delay_announced_at is not None and delay_announced_at < due


async def evaluate(session: AsyncSession, now: datetime,
                   on_breach: Callable[[Breach], None] | None = None) -> list[Breach]:
    """Record every clock that is past due and was not met in time; return the new ones.

    Idempotent: a breach is stored once (unique ticket and clock), then only completed
    (met_at once met, announced if the announcement arrives late from an offline phone).
    """
    new: list[Breach] = []
    for clock in SlaClock:
        new += await _record_new(session, clock, now)
        await _complete_recorded(session, clock)
    if on_breach is not None:
        for breach in new:
            on_breach(breach)
    return new


async def _record_new(session: AsyncSession, clock: SlaClock, now: datetime) -> list[Breach]:
    due, met, stopped = due_sql(clock), met_sql(clock), stopped_sql(clock)
    already = exists().where(SlaBreach.ticket_id == Ticket.id, SlaBreach.clock == clock)
    rows = await session.execute(
        select(Ticket.id, due, met, Ticket.delay_announced_at, Ticket.kind, Ticket.severity,
               Ticket.building_id)
        .where(due.is_not(None), due < now, (stopped.is_(None)) | (stopped > due), ~already))
    recorded = []
    for ticket_id, due_at, met_at, announced_at, kind, severity, building_id in rows:
        announced = is_announced(clock, due_at, announced_at)
        statement = upsert_insert(session)(SlaBreach).values(
            ticket_id=ticket_id, clock=clock, due_at=due_at, breached_at=now, met_at=met_at,
            announced=announced,
        ).on_conflict_do_nothing(index_elements=[SlaBreach.ticket_id, SlaBreach.clock])
        # Another server may have recorded it a moment ago: then it is not ours to count.
        inserted = (await session.execute(statement.returning(SlaBreach.id))).first()
        if inserted is not None:
            recorded.append(Breach(ticket_id, clock, due_at, met_at, announced, kind, severity,
                                   building_id))
    return recorded


async def _complete_recorded(session: AsyncSession, clock: SlaClock) -> None:
    """Fill in met_at (and a late-synced announcement) on breaches already recorded.

    Reads first and writes only when something changed: an idle sweep then takes no
    write lock, which matters on SQLite where the MQTT consumer writes all the time.
    """
    met = met_sql(clock)
    rows = (await session.execute(
        select(SlaBreach.id, met).join(Ticket, Ticket.id == SlaBreach.ticket_id)
        .where(SlaBreach.clock == clock, SlaBreach.met_at.is_(None), met.is_not(None)))).all()
    for breach_id, met_at in rows:
        await session.execute(update(SlaBreach).where(SlaBreach.id == breach_id).values(met_at=met_at))
    if clock != SlaClock.ON_SITE:
        return
    told = (await session.scalars(
        select(SlaBreach.id).join(Ticket, Ticket.id == SlaBreach.ticket_id)
        .where(SlaBreach.clock == clock, SlaBreach.announced.is_(False),
               Ticket.delay_announced_at < SlaBreach.due_at))).all()
    if told:
        await session.execute(update(SlaBreach).where(SlaBreach.id.in_(told)).values(announced=True))
