"""The admin's view of a site's year and their edits to it (who and when are kept on the row)."""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import StaffUser
from server.calendar import official
from server.calendar.models import CalendarDay
from server.calendar.schemas import CalendarDayRead, CalendarYear
from server.db import upsert_insert
from server.errors import NotFound
from server.estates.models import Site

log = logging.getLogger("fieldops.calendar")


async def site_by_slug(session: AsyncSession, slug: str) -> Site:
    site = await session.scalar(select(Site).where(Site.slug == slug))
    if site is None:
        raise NotFound(f"No site {slug}.")
    return site


async def year_view(session: AsyncSession, site_slug: str, year: int) -> CalendarYear:
    """Every day of ``year`` that is not ordinary at the site: holidays, 调休 days, overrides."""
    site = await site_by_slug(session, site_slug)
    days: dict[date, CalendarDayRead] = {
        d.day: CalendarDayRead(day=d.day, is_working=d.is_working, name=d.name, source="official",
                               official_is_working=d.is_working, official_name=d.name)
        for d in official.special_days(year)
    }
    rows = await session.execute(
        select(CalendarDay, StaffUser.username, StaffUser.display_name)
        .outerjoin(StaffUser, StaffUser.id == CalendarDay.edited_by_id)
        .where(CalendarDay.site_id == site.id, CalendarDay.day >= date(year, 1, 1),
               CalendarDay.day <= date(year, 12, 31)))
    for override, username, display_name in rows:
        was = days.get(override.day)
        days[override.day] = CalendarDayRead(
            day=override.day, is_working=override.is_working,
            name=override.note or (was.name if was else ""), source="override",
            official_is_working=official.is_working(override.day),
            official_name=was.name if was else None, note=override.note,
            edited_by=username, edited_by_name=display_name, edited_at=override.edited_at)
    warning = None
    if not official.covers(year):
        warning = (f"The chinesecalendar package has no official schedule for {year} (it covers "
                   f"{official.FIRST_YEAR}–{official.LAST_YEAR}). Enter the year's holidays and 调休 "
                   "working days here; until then its deadlines counted in working days take Monday to "
                   "Friday as working days, and the server logs a warning for each.")
        if any(d.source == "override" for d in days.values()):
            warning = (f"{year} is maintained by hand at this site (no official data): days not "
                       "listed count as ordinary (Mon–Fri working).")
    return CalendarYear(site=site.slug, year=year, officially_covered=official.covers(year),
                        warning=warning, days=sorted(days.values(), key=lambda d: d.day))


async def set_day(session: AsyncSession, site_slug: str, day: date, *, is_working: bool, note: str,
                  editor_id: int, now: datetime) -> None:
    """Make ``day`` working or not at the site, over the official schedule."""
    site = await site_by_slug(session, site_slug)
    values = {"is_working": is_working, "note": note, "edited_by_id": editor_id, "edited_at": now}
    statement = upsert_insert(session)(CalendarDay).values(site_id=site.id, day=day, **values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[CalendarDay.site_id, CalendarDay.day], set_=values))
    log.info("calendar override at %s: %s is_working=%s by user %s (%s)", site.slug, day, is_working,
             editor_id, note)


async def drop_day(session: AsyncSession, site_slug: str, day: date, *, editor_id: int) -> None:
    """Remove the site's override of ``day``: the official schedule applies again."""
    site = await site_by_slug(session, site_slug)
    result = await session.execute(
        delete(CalendarDay).where(CalendarDay.site_id == site.id, CalendarDay.day == day)
        .returning(CalendarDay.id))
    if result.first() is None:
        raise NotFound(f"No override of {day} at {site.slug}.")
    log.info("calendar override at %s: %s dropped by user %s", site.slug, day, editor_id)
