"""Wire shapes of tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class TicketRead(msgspec.Struct):
    id: int
    kind: str
    type: str
    severity: str
    status: str
    source: str
    title: str
    description: str | None
    site: str
    building: str | None
    unit: str | None
    device: str | None
    occurrences: int
    assignee_id: int | None
    first_receiver_id: int | None
    opened_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    on_site_at: datetime | None
    cleared_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    ack_due_at: datetime | None
    on_site_due_at: datetime | None
    resolve_due_at: datetime | None
    requester_name: str | None
    requester_phone: str | None
    needs_on_site: bool
    department: str | None
    handed_to_department_at: datetime | None
    department_due_at: datetime | None
    classification: str | None
    answer_due_at: datetime | None
    answered_at: datetime | None
    promised_at: datetime | None
    postponements: int
    delay_announced_at: datetime | None
    follow_up_due_at: datetime | None
    followed_up_at: datetime | None
    satisfaction: int | None
    escalation_level: int
    resolution_note: str | None
    context: dict[str, Any]
    # Display names of the staff behind the ids (首问责任制: the desk shows who owns it).
    assignee_name: str | None = None
    first_receiver_name: str | None = None


class TicketAuditRead(msgspec.Struct):
    at: datetime
    actor: str  # username, or "rules" for the engine
    client: str
    action: str
    detail: dict[str, Any]
    actor_name: str | None = None  # the staff member's display name; None for the rules engine


class TicketDetail(TicketRead):
    audit: list[TicketAuditRead] = []
    # Display names of the staff the audit trail names (actors, detail.assignee), by username.
    staff_names: dict[str, str] = {}


class TicketPage(msgspec.Struct):
    items: list[TicketRead]
    total: int
    limit: int
    offset: int
