"""State the rules keep between messages: raised conditions and intercom calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime


class AlarmCondition(Base):
    """The current raise/clear state of one (device, type) condition."""

    __tablename__ = "alarm_conditions"
    __table_args__ = (
        UniqueConstraint("device_id", "type"),
        Index("ix_alarm_conditions_pending", "raised", "ticket_pending"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    raised: Mapped[bool]
    raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # device time of the raise
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True while a raise waits out its rule's minimum duration before it becomes a ticket.
    ticket_pending: Mapped[bool] = mapped_column(default=False)
    last_event_id: Mapped[str | None] = mapped_column(String(128))


class IntercomCall(Base):
    """A call from an intercom to the desk; unanswered after the rule's limit it becomes a callback."""

    __tablename__ = "intercom_calls"
    __table_args__ = (
        UniqueConstraint("device_id", "call_id"),
        Index("ix_intercom_calls_waiting", "answered_at", "ticket_id", "rang_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(128))
    to: Mapped[str] = mapped_column(String(64))
    from_unit: Mapped[str | None] = mapped_column(String(64))
    rang_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # server receive time
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    # Set once a callback was decided (opened, or not needed): the sweeper's done-marker.
    settled: Mapped[bool] = mapped_column(default=False)
