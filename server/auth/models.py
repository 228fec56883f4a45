"""Staff users and the buildings each one covers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, JSONType, UTCDateTime, utcnow


class Role(StrEnum):
    DESK = "desk"  # 客服中心: sees the estate, dispatches
    SPECIALIST = "specialist"  # 楼栋客服专员: sees their buildings
    ENGINEER = "engineer"  # 工程部
    SUPERVISOR = "supervisor"  # 客服主管: may classify a complaint as invalid
    MANAGER = "manager"  # 客服部经理
    ADMIN = "admin"


# The customer-service centre and those above it: they see every building of the estate,
# dispatch, close and oversee. The others see only the buildings they cover.
DESK_ROLES = (Role.DESK, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
ESTATE_WIDE_ROLES = frozenset(DESK_ROLES)
# The people in the field: the building specialists and engineering.
FIELD_ROLES = (Role.SPECIALIST, Role.ENGINEER)

staff_buildings = Table(
    "staff_buildings",
    Base.metadata,
    Column("user_id", ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True),
    Column("building_id", ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True),
)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
