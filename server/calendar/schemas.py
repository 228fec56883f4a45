"""Wire shapes of the working calendar."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec


class CalendarDayRead(msgspec.Struct):
    day: date
    is_working: bool  # what counts for deadlines: the override if any, else the official status
    name: str  # 国庆节, 国庆节调休上班, or the override's note
    source: Literal["official", "override"]
    official_is_working: bool | None  # None: the package has no data for the year
    official_name: str | None = None  # the official schedule's name for the day, if it has one
    note: str = ""
    edited_by: str | None = None  # username
    edited_by_name: str | None = None  # display name (客服主管 刘洋)
    edited_at: datetime | None = None


class CalendarYear(msgspec.Struct):
    site: str
    year: int
    officially_covered: bool
    warning: str | None
    days: list[CalendarDayRead]


class CalendarDayUpdate(msgspec.Struct, forbid_unknown_fields=True):
    is_working: bool
    note: Annotated[str, msgspec.Meta(max_length=200)] = ""
