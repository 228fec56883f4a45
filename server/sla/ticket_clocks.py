"""Where each clock lives on a ticket: its deadline, what meets it, and what stops it unmet.

One place answers these for Python (the ticket's SLA view) and for SQL (the breach sweep),
so the two cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func

from server.sla.policy import SlaClock
from server.tickets.models import Ticket, TicketStatus

DUE_COLUMN: dict[SlaClock, str] = {
    SlaClock.ACK: "ack_due_at",
    SlaClock.ON_SITE: "on_site_due_at",
    SlaClock.DEPARTMENT: "department_due_at",
    SlaClock.ANSWER: "answer_due_at",
    SlaClock.RESOLVE: "resolve_due_at",
    SlaClock.FOLLOW_UP: "follow_up_due_at",
}

# The first of these that is set meets the clock: a ticket dispatched or reached without
# an explicit acknowledgement has been acknowledged all the same.
MET_COLUMNS: dict[SlaClock, tuple[str, ...]] = {
    SlaClock.ACK: ("acknowledged_at", "dispatched_at", "on_site_at"),
    SlaClock.ON_SITE: ("on_site_at",),
    SlaClock.DEPARTMENT: ("handed_to_department_at",),
    SlaClock.ANSWER: ("answered_at",),
    SlaClock.RESOLVE: ("resolved_at",),
    SlaClock.FOLLOW_UP: ("followed_up_at",),
}

# Clocks that only matter while the ticket is open: a ticket resolved (say, an alarm the
# device cleared) before anyone had to arrive owes no on-site visit.
_ENDED_BY_RESOLUTION = frozenset({SlaClock.ACK, SlaClock.ON_SITE, SlaClock.DEPARTMENT,
                                  SlaClock.ANSWER})


def due_of(ticket: Ticket, clock: SlaClock) -> datetime | None:
    value: datetime | None = getattr(ticket, DUE_COLUMN[clock])
    return value


def met_of(ticket: Ticket, clock: SlaClock) -> datetime | None:
    return next((v for v in (getattr(ticket, c) for c in MET_COLUMNS[clock]) if v is not None), None)


def ended_of(ticket: Ticket, clock: SlaClock) -> datetime | None:
    """When the ticket stopped needing this clock without meeting it (resolved, closed, cancelled)."""
    candidates = [ticket.resolved_at] if clock in _ENDED_BY_RESOLUTION else []
    candidates.append(ticket.closed_at)
    if ticket.status == TicketStatus.CANCELLED:
        candidates.append(ticket.updated_at)
    return next((v for v in candidates if v is not None), None)


def stopped_of(ticket: Ticket, clock: SlaClock) -> datetime | None:
    """When the clock stopped: met, or no longer needed; None while it runs."""
    return met_of(ticket, clock) or ended_of(ticket, clock)


# --- the same, as SQL expressions over the tickets table --------------------------------------

def due_sql(clock: SlaClock) -> Any:
    return getattr(Ticket, DUE_COLUMN[clock])


def met_sql(clock: SlaClock) -> Any:
    columns = [getattr(Ticket, c) for c in MET_COLUMNS[clock]]
    return columns[0] if len(columns) == 1 else func.coalesce(*columns)


def stopped_sql(clock: SlaClock) -> Any:
    parts = [getattr(Ticket, c) for c in MET_COLUMNS[clock]]
    if clock in _ENDED_BY_RESOLUTION:
        parts.append(Ticket.resolved_at)
    parts.append(Ticket.closed_at)
    parts.append(case((Ticket.status == TicketStatus.CANCELLED, Ticket.updated_at)))
    return func.coalesce(*parts)
