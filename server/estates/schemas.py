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
