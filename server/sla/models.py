"""SLA tables: breaches (one per ticket and clock) and escalations (one per ticket and ladder level)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, JSONType, UTCDateTime


class SlaBreach(Base):
    """A clock that ran out before it was met: recorded once, however often the sweep runs."""

    __tablename__ = "sla_breaches"
    __table_args__ = (
        UniqueConstraint("ticket_id", "clock"),
        Index("ix_sla_breaches_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(16))  # SlaClock
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the sweep recorded it
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # met late; NULL: not (yet) met
    # The requester was told of the delay before the on-site deadline (domain.md: 15-minute promise).
    announced: Mapped[bool] = mapped_column(default=False)


class Escalation(Base):
    """One rung of the ladder reached by a ticket; repeats are counted on the same row."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("ticket_id", "level"),
        Index("ix_escalations_next_repeat_at", "next_repeat_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    level: Mapped[int]
    clock: Mapped[str] = mapped_column(String(16))  # the overdue clock that triggered it
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    notified: Mapped[list[int]] = mapped_column(JSONType, default=list)  # staff ids, last time
    reason: Mapped[str] = mapped_column(String(300))
    escalated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    times: Mapped[int] = mapped_column(default=1)
    next_repeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(100))
