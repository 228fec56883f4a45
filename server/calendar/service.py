"""WorkingCalendar: which local dates are working days at a site, and working-day arithmetic.

A site's day is working when its override says so, else when the official schedule
(public holidays, 调休 make-up working days) says so. Deadlines counted in working days
(major complaints: answer within 3, resolve within 7 — domain.md) are computed on the
site's local dates and returned in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.calendar import official
from server.calendar.models import CalendarDay
from server.errors import NotFound
from server.estates.models import Site

# No real calendar has this many non-working days in a row; past it, the overrides are broken.
_MAX_SCAN_DAYS = 3660


class CalendarNotCovered(LookupError):
    """A working-day question about a year neither the official data nor the site's overrides cover."""

    def __init__(self, site: str, year: int) -> None:
        super().__init__(
            f"no holiday schedule for {year} at site {site or '?'}: the chinesecalendar package covers "
            f"{official.FIRST_YEAR}–{official.LAST_YEAR}; enter {year}'s holidays and 调休 days as "
            "calendar overrides (PUT /api/calendar/{site}/days/{day}) or upgrade chinesecalendar"
        )
        self.site = site
        self.year = year


@dataclass(frozen=True)
class WorkingCalendar:
    """The working days of one site (pure: no I/O once built)."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    overrides: Mapping[date, bool] = field(default_factory=dict)
    site: str = ""
    # Only set knowingly (see ``assuming_weekdays``): Mon–Fri in years nobody has described.
    assume_weekdays: bool = False

    def covers(self, year: int) -> bool:
        """Whether ``year`` is described: officially, or by the site's own overrides for it.

        A year the package lacks counts as described once the admin has entered any of
        its days: the admin is then maintaining it, and the remaining days are ordinary.
        """
        return official.covers(year) or any(d.year == year for d in self.overrides)

    def assuming_weekdays(self) -> WorkingCalendar:
        """This calendar, answering Mon–Fri for undescribed years instead of raising."""
        return replace(self, assume_weekdays=True)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date) is a working day; raises CalendarNotCovered when unknown."""
        if day in self.overrides:
            return self.overrides[day]
        status = official.is_working(day)
        if status is not None:
            return status
        if self.assume_weekdays or self.covers(day.year):
            return day.weekday() < 5
        raise CalendarNotCovered(self.site, day.year)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end of the ``days``-th working day after ``start``'s local date, in UTC.

        As for legal time limits in China (Civil Code arts. 201, 203), the day the
        period starts is not counted and the last day runs until 24:00 local time.
        """
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        if days < 1:
            raise ValueError("days must be at least 1")
        day = start.astimezone(self.timezone).date()
        counted = 0
        for _ in range(_MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.timezone)
                    return end.astimezone(UTC)
        raise ValueError(f"no {days} working days within {_MAX_SCAN_DAYS} days of {start.isoformat()}")

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.timezone).date()


async def load_calendar(session: AsyncSession, site_id: int) -> WorkingCalendar:
    """The site's calendar: its time zone and overrides over the official schedule."""
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound(f"No site {site_id}.")
    rows = await session.execute(
        select(CalendarDay.day, CalendarDay.is_working).where(CalendarDay.site_id == site_id))
    return WorkingCalendar(timezone=ZoneInfo(site.timezone or "Asia/Shanghai"),
                           overrides={row.day: row.is_working for row in rows}, site=site.slug)

