"""The dead-letter store: every refused device message, with its reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow

DEAD_LETTER_PAYLOAD_BYTES = 4096


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_reason_at", "reason", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of topic and payload: a redelivered bad message is counted, not stored twice.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    occurrences: Mapped[int] = mapped_column(default=1)
    topic: Mapped[str] = mapped_column(String(1024))
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # the first 4 KiB
    payload_size: Mapped[int]
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
