"""Wire shapes of the estate."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class UnitRead(msgspec.Struct):
    id: int
    slug: str
    building: str
    floor: int
    number: str
    state: str
    handed_over_on: date | None
    updated_at: datetime


class UnitPage(msgspec.Struct):
    items: list[UnitRead]
    total: int
    limit: int
    offset: int


class BuildingRead(msgspec.Struct):
    slug: str
    name: str  # the estate's own name for it, e.g. 1#楼
    floors: int


class EstateRead(msgspec.Struct):
    """The caller's estate (site): its name, time zone, and the buildings the caller may see."""

    slug: str
    name: str
    timezone: str  # IANA name; every screen shows times in it (the store keeps UTC)
    buildings: list[BuildingRead]
