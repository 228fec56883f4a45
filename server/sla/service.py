"""SLA queries for the API, within the caller's building scope (as server/tickets/service.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.schemas import CurrentUser
from server.errors import NotFound
from server.estates.models import Building
from server.sla.breaches import clock_state, is_announced
from server.sla.models import Escalation, SlaBreach
from server.sla.policy import SlaClock
from server.sla.schemas import BreachPage, BreachRead, ClockRead, EscalationRead, TicketSla
from server.sla.ticket_clocks import due_of, met_of, stopped_of
from server.tickets import scope
from server.tickets.models import Ticket


async def ticket_sla(session: AsyncSession, user: CurrentUser, ticket_id: int, now: datetime
                     ) -> TicketSla:
    """The ticket's clocks as they stand at ``now``, and the ladder it has climbed."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or not scope.may_see(user, ticket):
        raise NotFound(f"No ticket {ticket_id} in your buildings.")
    recorded = {b.clock: b for b in await session.scalars(
        select(SlaBreach).where(SlaBreach.ticket_id == ticket_id))}
    clocks = []
    for clock in SlaClock:
        due = due_of(ticket, clock)
        if due is None:
            continue
        state = clock_state(due, met_of(ticket, clock), stopped_of(ticket, clock), now)
        breach = recorded.get(clock)
        clocks.append(ClockRead(
            clock=clock, due_at=due, met_at=met_of(ticket, clock), state=state,
            breached=breach is not None or state in ("overdue", "met_late"),
            announced=breach.announced if breach else is_announced(clock, due, ticket.delay_announced_at),
            breach_recorded_at=breach.breached_at if breach else None))
    escalations = [
        EscalationRead(level=e.level, clock=e.clock, roles=e.roles, notified=e.notified, reason=e.reason,
                       escalated_at=e.escalated_at, last_notified_at=e.last_notified_at, times=e.times,
                       next_repeat_at=e.next_repeat_at, stopped_at=e.stopped_at,
                       stop_reason=e.stop_reason)
        for e in await session.scalars(
            select(Escalation).where(Escalation.ticket_id == ticket_id).order_by(Escalation.level))]
    return TicketSla(ticket_id=ticket.id, escalation_level=ticket.escalation_level, clocks=clocks,
                     escalations=escalations)


async def list_breaches(session: AsyncSession, user: CurrentUser, *, since: datetime | None,
                        building: str | None, clock: str | None, limit: int, offset: int) -> BreachPage:
    """Breaches whose deadline fell at or after ``since``, newest first, with counts by clock."""
    query: Any = (select(SlaBreach, Ticket.title, Ticket.kind, Ticket.severity, Building.slug)
                  .join(Ticket, Ticket.id == SlaBreach.ticket_id)
                  .outerjoin(Building, Building.id == Ticket.building_id))
    query = scope.visible(query, user)  # other buildings' breaches do not exist for this user
    if since is not None:
        query = query.where(SlaBreach.due_at >= since)
    if building is not None:
        query = query.where(Building.slug == building)
    if clock is not None:
        query = query.where(SlaBreach.clock == clock)
    filtered = query.subquery()
    counts = await session.execute(
        select(filtered.c.clock, func.count(), func.sum(case((filtered.c.announced.is_(True), 1), else_=0)))
        .group_by(filtered.c.clock))
    by_clock: dict[str, int] = {}
    announced = 0
    for name, count, told in counts:
        by_clock[name] = int(count)
        announced += int(told or 0)
    rows = await session.execute(
        query.order_by(SlaBreach.due_at.desc(), SlaBreach.id.desc()).limit(limit).offset(offset))
    items = [BreachRead(ticket_id=b.ticket_id, title=title, kind=kind, severity=severity,
                        building=slug, clock=b.clock, due_at=b.due_at, breached_at=b.breached_at,
                        met_at=b.met_at, announced=b.announced)
             for b, title, kind, severity, slug in rows]
    return BreachPage(items=items, total=sum(by_clock.values()), by_clock=by_clock, announced=announced,
                      limit=limit, offset=offset)
