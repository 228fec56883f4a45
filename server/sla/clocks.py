"""Due times from the policy: pure arithmetic, then ``apply_due_times`` to set them on a ticket.

Minutes are wall-clock (the 15-minute on-site promise runs at 3 a.m. and on holidays,
domain.md); working days come from the site's calendar and land at 24:00 local time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.calendar.service import CalendarNotCovered, WorkingCalendar, load_calendar
from server.sla.policy import ClockRule, SlaClock, SlaPolicy, TicketFacts, shipped_policy
from server.sla.ticket_clocks import DUE_COLUMN
from server.tickets.models import Ticket

log = logging.getLogger("fieldops.sla")


@dataclass
class DueTimes:
    """The deadlines the policy decides for one ticket (clocks it does not decide are absent)."""

    due: dict[SlaClock, datetime | None] = field(default_factory=dict)
    rules: dict[SlaClock, ClockRule] = field(default_factory=dict)
    # Working-day deadlines computed in a year without holiday data (Mon–Fri assumed).
    warnings: list[str] = field(default_factory=list)


def due_times(facts: TicketFacts, calendar: WorkingCalendar, policy: SlaPolicy) -> DueTimes:
    """Every clock's deadline for a ticket with ``facts``; None for a clock that does not run."""
    result = DueTimes()
    for clock in SlaClock:
        rule = policy.rule_for(clock, facts)
        if rule is None:
            continue
        result.rules[clock] = rule
        start = facts.opened_at if rule.starts == "opened" else facts.resolved_at
        if start is None or not rule.runs:
            result.due[clock] = None
        elif rule.within_s is not None:
            result.due[clock] = start + timedelta(seconds=rule.within_s)
        else:
            assert rule.within_working_days is not None
            result.due[clock] = _working_days(calendar, start, rule.within_working_days, result)
    return result


def _working_days(calendar: WorkingCalendar, start: datetime, days: int, result: DueTimes) -> datetime:
    try:
        return calendar.add_working_days(start, days)
    except CalendarNotCovered as exc:
        # A deadline is still owed to the owner: count Mon–Fri, and say so loudly.
        result.warnings.append(f"{exc}; Mon–Fri assumed for this deadline")
        return calendar.assuming_weekdays().add_working_days(start, days)


async def apply_due_times(session: AsyncSession, ticket: Ticket, now: datetime, *,
                          policy: SlaPolicy | None = None) -> DueTimes:
    """Set the ticket's due columns from the policy and its site's calendar.

    Call when a ticket opens, when its classification, department or on-site need
    changes, and when it is resolved (the follow-up visit is counted from then).
    ``now`` stands in for the opening time of a ticket not flushed yet.
    """
    calendar = await load_calendar(session, ticket.site_id)
    result = due_times(TicketFacts.of(ticket, opened_at=now), calendar, policy or shipped_policy())
    for clock, due in result.due.items():
        setattr(ticket, DUE_COLUMN[clock], due)
    for warning in result.warnings:
        log.warning("ticket %s: %s", ticket.id, warning)
    return result
