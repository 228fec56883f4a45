"""Patrol tables: checkpoints, scans, runs and their answers, plausibility flags, phone syncs.

Run, answer and scan ids are the phone's own UUIDs, so a retried sync finds the
row it wrote before instead of writing a second one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, JSONType, UTCDateTime, utcnow


class CheckpointKind(StrEnum):
    VACANT_UNIT = "vacant_unit"  # 空置房
    RENOVATION_UNIT = "renovation_unit"  # 装修户
    PUBLIC_AREA = "public_area"  # 公区


class FlagKind(StrEnum):
    FLOOR_JUMP = "floor_jump"  # two floors apart within seconds: nobody climbs that fast
    REPEAT_SCAN = "repeat_scan"  # the same tag again and again: a photo of it, not a walk
    CLOCK_SKEW = "clock_skew"  # the phone's clock is far from the server's at sync
    METER_MISMATCH = "meter_mismatch"  # the water meter read by hand ≠ the smart meter
    MANUAL_ENTRY = "manual_entry"  # the code was typed, not scanned


class Checkpoint(Base):
    """A place with a QR tag: a vacant or renovating unit, or a public-area spot."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("building_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    floor: Mapped[int | None]  # None for building-wide spots (machine room on the roof …)
    slug: Mapped[str] = mapped_column(String(64))  # b1-0302, b1-f03-corridor, b1-lobby
    kind: Mapped[str] = mapped_column(String(24))  # CheckpointKind
    place: Mapped[str] = mapped_column(String(24))  # unit, lobby, corridor, stairwell, fire_door …
    label: Mapped[str] = mapped_column(String(200))  # Chinese, as printed on the tag
    template: Mapped[str] = mapped_column(String(32))  # checklist template name
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatrolScan(Base):
    """One scan of a tag (or a typed code), whether or not a checklist followed."""

    __tablename__ = "patrol_scans"
    __table_args__ = (Index("ix_patrol_scans_user_at", "user_id", "scanned_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # client UUID
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    device_id: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(8))  # qr | manual
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)  # device time
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatrolRun(Base):
    """A completed checklist at a checkpoint."""

    __tablename__ = "patrol_runs"
    __table_args__ = (Index("ix_patrol_runs_checkpoint_finished", "checkpoint_id", "finished_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # client UUID
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"),
                                                index=True)
    device_id: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(32))
    template_version: Mapped[int]
    via: Mapped[str] = mapped_column(String(8))  # qr | manual
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # device time
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)  # device time: counts for the schedule
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    defects: Mapped[int] = mapped_column(default=0)
    flagged: Mapped[bool] = mapped_column(default=False)


class PatrolAnswer(Base):
    __tablename__ = "patrol_answers"
    __table_args__ = (UniqueConstraint("run_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("patrol_runs.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(48))  # the template item key
    status: Mapped[str | None] = mapped_column(String(8))  # ok | defect | na
    number: Mapped[float | None]
    text: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    photo_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id", ondelete="RESTRICT"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))


class PatrolFlag(Base):
    """Something that makes a patrol implausible, for the supervisor to look at."""

    __tablename__ = "patrol_flags"
    __table_args__ = (Index("ix_patrol_flags_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # FlagKind
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("patrol_runs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)


class PatrolDevice(Base):
    """A phone and when it last synced: a supervisor sees one that has gone quiet."""

    __tablename__ = "patrol_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # made by the app once
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    app_version: Mapped[str | None] = mapped_column(String(32))
    last_sync_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_device_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_offset_s: Mapped[float | None]  # device minus server at the last sync
    items_synced: Mapped[int] = mapped_column(default=0)
