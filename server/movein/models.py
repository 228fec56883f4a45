"""Move-in inspection tables: the signed form, its answers and its meter base readings.

An inspection's id is the phone's outbox item UUID, so a replayed sync finds the row it
wrote before. Defects and flagged readings point at the rectification tickets they opened:
that link is what makes a second inspection due once those tickets are resolved.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, JSONType, UTCDateTime, utcnow


class Stage(StrEnum):
    HANDOVER = "handover"  # 交房验收: keys, cards and base readings handed over
    SECOND = "second"  # 二次验收: after the rectifications


class ReadingStatus(StrEnum):
    CONFIRMED = "confirmed"  # within tolerance of the smart meter: the owner's opening reading
    FLAGGED = "flagged"  # beyond it: engineering checks the meter (a ticket shows both values)
    NO_METER = "no_meter"  # no smart meter, or none that reported near the handover


class MoveInInspection(Base):
    """One 房屋验收表: who received the unit, who inspected it, what was handed over, both signatures."""

    __tablename__ = "move_in_inspections"
    __table_args__ = (Index("ix_move_in_inspections_unit_handed", "unit_id", "handed_over_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the outbox item's UUID
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))  # Stage
    # A second inspection points at the handover it follows up.
    first_inspection_id: Mapped[str | None] = mapped_column(
        ForeignKey("move_in_inspections.id", ondelete="SET NULL"))
    owner_name: Mapped[str] = mapped_column(String(100))
    owner_phone: Mapped[str | None] = mapped_column(String(32))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    # Someone receiving the unit for the owner (委托人), with the power of attorney (授权委托书).
    proxy_name: Mapped[str | None] = mapped_column(String(100))
    proxy_phone: Mapped[str | None] = mapped_column(String(32))
    power_of_attorney: Mapped[str | None] = mapped_column(String(500))
    proxy_attachment_id: Mapped[str | None] = mapped_column(
        ForeignKey("attachments.id", ondelete="RESTRICT"))
    staff: Mapped[list[str]] = mapped_column(JSONType, default=list)  # accompanying staff (工程部 …)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    inspector_name: Mapped[str] = mapped_column(String(100))  # as signed, kept for the archive
    device_id: Mapped[str] = mapped_column(String(64))  # the phone
    template: Mapped[str] = mapped_column(String(32))
    template_version: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # device time
    handed_over_at: Mapped[datetime] = mapped_column(UTCDateTime)  # device time; readings compared here
    device_time: Mapped[datetime] = mapped_column(UTCDateTime)  # when the phone recorded the item
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # server time
    keys: Mapped[int] = mapped_column(default=0)  # house keys handed over
    access_cards: Mapped[list[str]] = mapped_column(JSONType, default=list)  # card numbers handed over
    electricity_card: Mapped[str | None] = mapped_column(String(64))
    water_card: Mapped[str | None] = mapped_column(String(64))
    gas_card: Mapped[str | None] = mapped_column(String(64))
    owner_signature_id: Mapped[str] = mapped_column(ForeignKey("attachments.id", ondelete="RESTRICT"))
    staff_signature_id: Mapped[str] = mapped_column(ForeignKey("attachments.id", ondelete="RESTRICT"))
    note: Mapped[str | None] = mapped_column(Text)
    defects: Mapped[int] = mapped_column(default=0)
    flagged: Mapped[int] = mapped_column(default=0)  # readings flagged against the smart meter


class MoveInAnswer(Base):
    __tablename__ = "move_in_answers"
    __table_args__ = (UniqueConstraint("inspection_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("move_in_inspections.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(48))  # the template item key
    status: Mapped[str | None] = mapped_column(String(8))  # ok | defect | na
    note: Mapped[str | None] = mapped_column(Text)
    photo_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id", ondelete="RESTRICT"))
    # The rectification ticket (整改通知) a defect opened.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))


class MoveInReading(Base):
    """A meter base reading (表底) typed off the register, beside the smart meter's nearest reading."""

    __tablename__ = "move_in_readings"
    __table_args__ = (UniqueConstraint("inspection_id", "quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[str] = mapped_column(ForeignKey("move_in_inspections.id", ondelete="CASCADE"))
    quantity: Mapped[str] = mapped_column(String(16))  # water | electricity | gas
    uom: Mapped[str] = mapped_column(String(8))
    typed_value: Mapped[float]
    photo_id: Mapped[str] = mapped_column(ForeignKey("attachments.id", ondelete="RESTRICT"))
    smart_device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    smart_device: Mapped[str | None] = mapped_column(String(64))  # its slug, kept for the archive
    smart_value: Mapped[float | None]
    smart_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the meter's own timestamp
    difference: Mapped[float | None]  # typed − smart
    tolerance: Mapped[float]
    status: Mapped[str] = mapped_column(String(16))  # ReadingStatus
    # Where the owner's consumption starts; None while a flagged reading is being checked.
    opening_value: Mapped[float | None]
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
