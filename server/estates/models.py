"""Estate tables: site → building → unit, and the residents of units."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, JSONType, UTCDateTime, utcnow


class UnitState(StrEnum):
    VACANT = "vacant"  # 空置房: handed over by the developer, nobody lives there
    OCCUPIED = "occupied"  # 已入伙
    RENOVATING = "renovating"  # 装修中


class ResidentRole(StrEnum):
    OWNER = "owner"  # 业主
    TENANT = "tenant"  # 租户
    PROXY = "proxy"  # 委托人


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Per-site switches (e.g. auto-register unknown devices); defaults live in code.
    options: Mapped[dict[str, object]] = mapped_column(JSONType, default=dict)
    first_move_in_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    buildings: Mapped[list[Building]] = relationship(back_populates="site")


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    floors: Mapped[int] = mapped_column(default=1)

    site: Mapped[Site] = relationship(back_populates="buildings")


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("building_id", "slug"),
        Index("ix_units_building_state", "building_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))  # b1-1203: building, floor 12, number 03
    floor: Mapped[int]
    number: Mapped[str] = mapped_column(String(16))
    state: Mapped[UnitState] = mapped_column(String(16), default=UnitState.VACANT)
    area_m2: Mapped[float | None]
    handed_over_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[ResidentRole] = mapped_column(String(16), default=ResidentRole.OWNER)
    moved_in_on: Mapped[date | None] = mapped_column(Date)


class AccessCard(Base):
    """An access card (门禁卡) handed over for a unit: swipes are attributed to it."""

    __tablename__ = "access_cards"
    __table_args__ = (UniqueConstraint("site_id", "card_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    card_number: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    holder: Mapped[str | None] = mapped_column(String(100))  # owner, worker name …
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
