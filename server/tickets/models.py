"""Tickets and their audit log (append-only; the migration forbids UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, JSONType, UTCDateTime, utcnow


class TicketKind(StrEnum):
    ALARM = "alarm"
    REPAIR = "repair"  # 报修
    COMPLAINT = "complaint"  # 投诉
    HELP = "help"  # 求助
    CALLBACK = "callback"  # missed intercom call to the desk
    PATROL_DEFECT = "patrol_defect"
    RECTIFICATION = "rectification"  # 整改 after a move-in inspection
    DEVICE_OFFLINE = "device_offline"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class TicketStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    FOLLOWED_UP = "followed_up"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# Statuses in which a ticket still needs someone.
ACTIVE_STATUSES = frozenset(
    {TicketStatus.NEW, TicketStatus.ACKNOWLEDGED, TicketStatus.DISPATCHED, TicketStatus.ON_SITE}
)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_opened", "status", "opened_at"),
        Index("ix_tickets_building_status", "building_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))  # e.g. elevator.trapped, or a request type
    severity: Mapped[str] = mapped_column(String(16), default=Severity.NORMAL)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.NEW)
    source: Mapped[str] = mapped_column(String(16), default="device")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # Set while a device ticket is active, NULL after: a unique key that keeps
    # one active ticket per (device, type) without a read-then-write race.
    active_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    occurrences: Mapped[int] = mapped_column(default=1)
    # Resolved by the device's own clear (not a person): a raise soon after re-opens it.
    auto_resolved: Mapped[bool] = mapped_column(default=False)
    reopened: Mapped[int] = mapped_column(default=0)
    # What the rule knew when it opened the ticket (floor, card, readings …).
    context: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    first_receiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_site_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_site_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TicketAudit(Base):
    """One change to a ticket: who, when, from which client, what."""

    __tablename__ = "ticket_audit"
    __table_args__ = (Index("ix_ticket_audit_ticket_at", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="RESTRICT"))
    actor: Mapped[str] = mapped_column(String(100))  # username, or "rules" for the engine
    client: Mapped[str] = mapped_column(String(100))  # desk, pwa:<device>, mqtt, cli …
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
