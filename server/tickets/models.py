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
    # --- requests (报修/投诉/求助): who asked, what was promised --------------------
    requester_name: Mapped[str | None] = mapped_column(String(100))
    requester_phone: Mapped[str | None] = mapped_column(String(32))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    # Could not be solved on the phone: the 15-minute on-site promise applies.
    needs_on_site: Mapped[bool] = mapped_column(default=False)
    department: Mapped[str | None] = mapped_column(String(32))  # engineering, security, cleaning …
    handed_to_department_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    department_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # complaints: 30 min
    answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # major complaints: 3 working days
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    classification: Mapped[str | None] = mapped_column(String(16))  # ComplaintClass
    classified_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # told to the requester
    postponements: Mapped[int] = mapped_column(default=0)
    # "Requester told of the delay" before the on-site deadline: a breach then is announced.
    delay_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[int | None]  # 1–5 at the follow-up visit (回访)
    escalation_level: Mapped[int] = mapped_column(default=0)
    resolution_note: Mapped[str | None] = mapped_column(Text)


class ComplaintClass(StrEnum):
    MINOR = "minor"  # 轻微
    IMPORTANT = "important"  # 重要
    MAJOR = "major"  # 重大
    UNRESOLVABLE = "unresolvable"  # 暂时不能处理
    INVALID = "invalid"  # 无效: only a supervisor may confirm


class TicketAttachment(Base):
    """A photo or signature attached to a ticket (the bytes live in ``attachments``)."""

    __tablename__ = "ticket_attachments"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    attachment_id: Mapped[str] = mapped_column(ForeignKey("attachments.id", ondelete="RESTRICT"),
                                               primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="photo")  # photo, signature …


class ClientAction(Base):
    """A write made with a client-generated UUID: the same UUID again is answered, not redone."""

    __tablename__ = "client_actions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the client's UUID
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the request body
    kind: Mapped[str] = mapped_column(String(32))
    result: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    device_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeskEvent(Base):
    """The desk stream's log: written in the change's own transaction, read by any server process.

    Its id is the SSE event id, so a desk reconnecting with Last-Event-ID misses nothing.
    """

    __tablename__ = "desk_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    topic: Mapped[str] = mapped_column(String(16))  # ticket | device
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    building_id: Mapped[int | None]  # for building-scoped listeners


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
