"""Wire shapes of a ticket's clocks and of the breach list."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ClockRead(msgspec.Struct):
    clock: str  # ack, on_site, department, answer, resolve, follow_up
    due_at: datetime
    met_at: datetime | None
    state: str  # running, overdue, met, met_late, stopped
    breached: bool  # overdue now, met late, or recorded as a breach
    announced: bool  # on-site only: the requester was told of the delay before the deadline
    breach_recorded_at: datetime | None = None


class EscalationRead(msgspec.Struct):
    level: int
    clock: str
    roles: list[str]
    notified: list[int]
    reason: str
    escalated_at: datetime
    last_notified_at: datetime
    times: int
    next_repeat_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None


class TicketSla(msgspec.Struct):
    ticket_id: int
    escalation_level: int
    clocks: list[ClockRead]
    escalations: list[EscalationRead]


class BreachRead(msgspec.Struct):
    ticket_id: int
    title: str
    kind: str
    severity: str
    building: str | None
    clock: str
    due_at: datetime
    breached_at: datetime
    met_at: datetime | None
    announced: bool


class BreachPage(msgspec.Struct):
    items: list[BreachRead]
    total: int
    by_clock: dict[str, int]
    announced: int  # of the total, on-site breaches the requester was told of in time
    limit: int
    offset: int
