"""What the server knows live about a checkpoint, shown next to checklist items as hints."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.calendar import official
from server.calendar.service import CalendarNotCovered, WorkingCalendar, load_calendar
from server.devices.models import Device
from server.devices.readings import latest_reading
from server.estates.models import Site
from server.patrols.models import Checkpoint

# 每日装修时间 (handbook, 装修施工管理): Mon–Fri 08:00–12:00 and 14:00–19:00; Sat–Sun
# 09:00–12:00 and 15:00–18:00; 法定节假日同双休日; the first 60 days after the first move-in
# 08:00–19:00. The rule tells working days from rest days, so it follows the site's working
# calendar: a public holiday on a weekday gets the weekend hours, a 调休 Saturday the weekday ones.
WORKING_DAY_HOURS = ((time(8), time(12)), (time(14), time(19)))
REST_DAY_HOURS = ((time(9), time(12)), (time(15), time(18)))
EARLY_HOURS = ((time(8), time(19)),)
EARLY_DAYS = 60

DayKind = Literal["working", "weekend", "holiday", "makeup_working", "unknown"]
Windows = tuple[tuple[time, time], ...]


def day_kind(day: date, calendar: WorkingCalendar) -> DayKind:
    """What kind of day ``day`` is at the site: a weekday, a weekend, a holiday or a 调休 working day.

    ``unknown`` when the calendar does not cover the year (the caller falls back to Mon–Fri).
    """
    try:
        working = calendar.is_working_day(day)
    except CalendarNotCovered:
        return "unknown"
    weekend = day.weekday() >= 5
    if working:
        return "makeup_working" if weekend else "working"
    # A weekend inside an official holiday (国庆 3 Oct on a Saturday) is named as the holiday.
    return "weekend" if weekend and _official_name(day) is None else "holiday"


def renovation_hours(day: date, first_move_in: date | None, kind: DayKind | None = None) -> Windows:
    """Permitted renovation hours on a local date of a given kind (weekday rules when ``kind`` is None)."""
    if first_move_in is not None and first_move_in <= day < first_move_in + timedelta(days=EARLY_DAYS):
        return EARLY_HOURS
    if kind is None or kind == "unknown":
        return REST_DAY_HOURS if day.weekday() >= 5 else WORKING_DAY_HOURS
    return WORKING_DAY_HOURS if kind in ("working", "makeup_working") else REST_DAY_HOURS


def renovation_hint(
    now: datetime, tz: ZoneInfo, first_move_in: date | None, calendar: WorkingCalendar
) -> dict[str, Any]:
    """The "within permitted hours" hint: today's windows at the site, whether ``now`` is in one, and why."""
    local = now.astimezone(tz)
    kind = day_kind(local.date(), calendar)
    windows = renovation_hours(local.date(), first_move_in, kind)
    return {
        "windows": [f"{a:%H:%M}–{b:%H:%M}" for a, b in windows],
        "now_permitted": any(a <= local.time() < b for a, b in windows),
        "date": local.date().isoformat(),
        "day_kind": kind,  # working | weekend | holiday | makeup_working (调休) | unknown
        "day_name": _official_name(local.date()),  # e.g. 国庆节, 国庆节调休上班; None on ordinary days
        "early_period": windows == EARLY_HOURS,  # the first 60 days after the first move-in
    }


def _official_name(day: date) -> str | None:
    return next((d.name for d in official.special_days(day.year) if d.day == day), None)


async def checkpoint_hints(session: AsyncSession, checkpoint: Checkpoint, now: datetime) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    if checkpoint.unit_id is not None:
        intercom = await session.scalar(
            select(Device).where(Device.unit_id == checkpoint.unit_id, Device.kind == "intercom")
        )
        hints["intercom"] = (
            None
            if intercom is None
            else {"online": intercom.online, "last_seen_at": _iso(intercom.last_seen_at)}
        )
        for quantity in ("water", "gas", "electricity"):
            reading = await latest_reading(session, checkpoint.unit_id, quantity)
            hints[f"meter:{quantity}"] = (
                None
                if reading is None
                else {"value": reading.value, "uom": reading.uom, "at": _iso(reading.ts)}
            )
    if checkpoint.kind == "renovation_unit":
        site = await session.get(Site, checkpoint.site_id)
        tz = ZoneInfo(site.timezone if site else "Asia/Shanghai")
        calendar = await load_calendar(session, site.id) if site else WorkingCalendar(timezone=tz)
        hints["renovation_hours"] = renovation_hint(
            now, tz, site.first_move_in_on if site else None, calendar
        )
    return hints


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
