"""The escalation ladder: push the next role up when a clock runs out, repeat until it is met.

Every push is an audit entry ("escalated") and raises Ticket.escalation_level. Several
server processes may run this at once: one row per (ticket, level) and a conditional
claim of each repeat keep a push from going out twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert_insert
from server.desk import events as desk_events
from server.estates.models import Site
from server.sla.ladder import EscalationStep, EscalationTable, Ladder, shipped_ladders
from server.sla.models import Escalation
from server.sla.policy import SlaClock, TicketFacts
from server.sla.staff import StaffDirectory
from server.sla.ticket_clocks import due_of, due_sql, met_of, met_sql
from server.tickets.device_tickets import audit
from server.tickets.models import ACTIVE_STATUSES, Ticket

log = logging.getLogger("fieldops.sla")

SLA_ACTOR = "sla"

# Who is told: staff ids, the ticket, the ladder level, and why (the lead wires it to web push).
Notify = Callable[[list[int], Ticket, int, str], Awaitable[None]]


# The clocks as the estate's staff name them (the desk's zh-CN words for them).
CLOCK_NAMES = {"ack": "接警", "on_site": "到场", "department": "转部门", "answer": "答复",
               "resolve": "办结", "follow_up": "回访"}


@dataclass(frozen=True)
class Push:
    """One escalation sent (or to send): for the notifier and the metric."""

    ticket: Ticket
    level: int
    clock: SlaClock
    staff_ids: list[int]
    reason: str
    repeat: int  # 1 the first time
    text: str = ""  # the push body: the clock, its missed time and the step's message, in Chinese


def _still_escalating(ticket: Ticket, step: EscalationStep, ladder: Ladder) -> str | None:
    """None while the step applies; else why it stopped."""
    if ticket.status not in ACTIVE_STATUSES:
        return ticket.status
    if met_of(ticket, step.clock) is not None:
        return f"{step.clock} met"
    if ladder.stop_when_cleared and ticket.cleared_at is not None:
        return "cleared"
    return None


async def escalate(session: AsyncSession, now: datetime, notify: Notify, *,
                   table: EscalationTable | None = None) -> list[Push]:
    """Push every overdue step of the ladder that is due (first time or repeat), then notify.

    ``notify`` is awaited after the database work, once per push; a failing notifier
    is logged and does not undo the escalation (the step's next repeat pushes again).
    """
    table = table or shipped_ladders()
    await _stop_finished(session, now, table)
    pushes: list[Push] = []
    staff = StaffDirectory(session)
    for ticket, site_slug, zone in await _overdue_tickets(session, now, table.clocks()):
        ladder = table.ladder_for(site_slug)
        facts = TicketFacts.of(ticket, opened_at=ticket.opened_at)
        for step in sorted(ladder.steps, key=lambda s: s.level):
            due = due_of(ticket, step.clock)
            if (due is None or now < due + timedelta(seconds=step.after_s) or not step.matches(facts)
                    or _still_escalating(ticket, step, ladder) is not None):
                continue
            push = await _push(session, now, ticket, step, due.astimezone(ZoneInfo(zone)), staff)
            if push is not None:
                pushes.append(push)
    for push in pushes:
        try:
            await notify(push.staff_ids, push.ticket, push.level, push.reason)
        except Exception:
            log.exception("escalation push for ticket %s level %s failed", push.ticket.id, push.level)
    return pushes


async def _overdue_tickets(session: AsyncSession, now: datetime, clocks: set[SlaClock]
                           ) -> Sequence[tuple[Ticket, str, str]]:
    if not clocks:
        return []
    overdue = or_(*[(due_sql(c) <= now) & met_sql(c).is_(None) for c in sorted(clocks)])
    rows = await session.execute(
        select(Ticket, Site.slug, Site.timezone).join(Site, Site.id == Ticket.site_id)
        .where(Ticket.status.in_(ACTIVE_STATUSES), overdue).order_by(Ticket.id))
    return [(row[0], row[1], row[2]) for row in rows]


async def _push(session: AsyncSession, now: datetime, ticket: Ticket, step: EscalationStep,
                due: datetime, staff: StaffDirectory) -> Push | None:
    """Claim this step's first push or its next repeat; None if not due or another process won."""
    row = await session.scalar(
        select(Escalation).where(Escalation.ticket_id == ticket.id, Escalation.level == step.level))
    if row is not None and (row.stopped_at is not None or row.next_repeat_at is None
                            or row.next_repeat_at > now):
        return None
    next_repeat = now + timedelta(seconds=step.repeat_s) if step.repeat_s else None
    staff_ids = await staff.ids_for(step.notify, ticket.site_id, ticket.building_id)
    # The estate's wall clock, as staff read it on a phone at 3 a.m. (not UTC ISO 8601).
    reason = f"{step.clock} overdue since {due:%m-%d %H:%M}"
    if step.why:
        reason += f": {step.why}"
    if row is None:
        inserted = (await session.execute(
            upsert_insert(session)(Escalation).values(
                ticket_id=ticket.id, level=step.level, clock=step.clock, roles=step.notify,
                notified=staff_ids, reason=reason[:300], escalated_at=now, last_notified_at=now,
                times=1, next_repeat_at=next_repeat)
            .on_conflict_do_nothing(index_elements=[Escalation.ticket_id, Escalation.level])
            .returning(Escalation.id))).first()
        if inserted is None:
            return None
        repeat = 1
    else:
        claimed = await session.execute(
            update(Escalation)
            .where(Escalation.id == row.id, Escalation.next_repeat_at == row.next_repeat_at)
            .values(times=Escalation.times + 1, last_notified_at=now, next_repeat_at=next_repeat,
                    notified=staff_ids)
            .returning(Escalation.times))
        times = claimed.scalar()
        if times is None:
            return None
        repeat = int(times)
    if not staff_ids:
        log.warning("ticket %s level %s: nobody holds %s at this site", ticket.id, step.level,
                    ", ".join(step.notify))
    await audit(session, ticket.id, now, "escalated",
                {"level": step.level, "clock": str(step.clock), "roles": step.notify,
                 "notified": staff_ids, "repeat": repeat, "due_at": due.isoformat(),
                 "reason": reason},
                actor=SLA_ACTOR, client=SLA_ACTOR)
    # The desk sees the escalation live, as any other change to the ticket.
    await desk_events.record(session, topic="ticket", entity_id=ticket.id, action="escalated",
                             building_id=ticket.building_id, at=now)
    ticket.escalation_level = max(ticket.escalation_level or 0, step.level)
    ticket.updated_at = now
    text = f"{CLOCK_NAMES.get(step.clock, step.clock)}超时（时限 {due:%m-%d %H:%M}）"
    if step.message:
        text += f"：{step.message}"
    return Push(ticket, step.level, step.clock, staff_ids, reason, repeat, text)


async def _stop_finished(session: AsyncSession, now: datetime, table: EscalationTable) -> None:
    """Close the ladder rungs whose clock was met or whose ticket no longer needs anyone."""
    rows = await session.execute(
        select(Escalation, Ticket, Site.slug)
        .join(Ticket, Ticket.id == Escalation.ticket_id).join(Site, Site.id == Ticket.site_id)
        .where(Escalation.stopped_at.is_(None)))
    for escalation, ticket, site_slug in rows:
        ladder = table.ladder_for(site_slug)
        step = next((s for s in ladder.steps if s.level == escalation.level), None)
        why = "step removed from the ladder" if step is None else _still_escalating(ticket, step, ladder)
        if why is not None:
            escalation.stopped_at = now
            escalation.stop_reason = why
            escalation.next_repeat_at = None
