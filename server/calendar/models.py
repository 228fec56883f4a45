"""A site's calendar overrides: a day made working or non-working by an admin or supervisor."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, utcnow


class CalendarDay(Base):
    """One day whose working status the site sets itself, over the official schedule.

    Only days that differ from (or fill in for) the official schedule are stored: a
    year the library does not know yet is filled in here (domain.md: working days).
    """

    __tablename__ = "calendar_days"
    __table_args__ = (UniqueConstraint("site_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    is_working: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200), default="")
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
