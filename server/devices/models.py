"""Devices and their raw events (the (device, id) pair is the dedup key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, JSONType, UTCDateTime, utcnow


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("site_id", "slug"),
        Index("ix_devices_building_kind", "building_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # contract.v1.DeviceKind
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    vendor: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(32))  # door_station, indoor_unit, water …
    # None until the device has said anything; then its last status.
    online: Mapped[bool | None]
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceEvent(Base):
    __tablename__ = "device_events"
    __table_args__ = (
        UniqueConstraint("device_id", "event_id"),
        Index("ix_device_events_type_ts", "type", "ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(128))  # the payload's `id`
    type: Mapped[str] = mapped_column(String(64))
    alarm: Mapped[str | None] = mapped_column(String(8))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)  # device time, in UTC
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unit_slug: Mapped[str | None] = mapped_column(String(64))  # as the device sent it
    # Whom the event is attributed to: the device's unit, or the unit of the access card used.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    data: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)


class MeterReading(Base):
    """A cumulative meter register at a time: the time series the occupancy rule reads."""

    __tablename__ = "meter_readings"
    __table_args__ = (
        UniqueConstraint("device_id", "reading_id"),
        Index("ix_meter_readings_device_ts", "device_id", "ts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    reading_id: Mapped[str] = mapped_column(String(128))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    quantity: Mapped[str] = mapped_column(String(16))  # water | electricity | gas
    value: Mapped[float]
    uom: Mapped[str] = mapped_column(String(8))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
