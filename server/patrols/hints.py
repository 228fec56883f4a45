"""What the server knows live about a checkpoint, shown next to checklist items as hints."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.devices.models import Device, MeterReading
from server.estates.models import Site
from server.patrols.models import Checkpoint

# domain.md, renovation: permitted hours; the first 60 days after first move-in 08:00–19:00.
WEEKDAY_HOURS = ((time(8), time(12)), (time(14), time(19)))
WEEKEND_HOURS = ((time(9), time(12)), (time(15), time(18)))
EARLY_HOURS = ((time(8), time(19)),)
EARLY_DAYS = 60


def renovation_hours(day: date, first_move_in: date | None) -> tuple[tuple[time, time], ...]:
    """Permitted renovation hours on a local date (public holidays count as weekends upstream)."""
    if first_move_in is not None and first_move_in <= day < first_move_in + timedelta(days=EARLY_DAYS):
        return EARLY_HOURS
    return WEEKEND_HOURS if day.weekday() >= 5 else WEEKDAY_HOURS


async def latest_reading(session: AsyncSession, unit_id: int, quantity: str) -> MeterReading | None:
    """The unit's smart meter's last reading of ``quantity`` (by the meter's own timestamp)."""
    return await session.scalar(
        select(MeterReading)
        .join(Device, Device.id == MeterReading.device_id)
        .where(Device.unit_id == unit_id, Device.kind == "meter", Device.role == quantity)
        .order_by(MeterReading.ts.desc())
        .limit(1)
    )


async def checkpoint_hints(session: AsyncSession, checkpoint: Checkpoint, now: datetime) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    if checkpoint.unit_id is not None:
        intercom = await session.scalar(select(Device).where(
            Device.unit_id == checkpoint.unit_id, Device.kind == "intercom"))
        hints["intercom"] = None if intercom is None else {
            "online": intercom.online, "last_seen_at": _iso(intercom.last_seen_at)}
        for quantity in ("water", "gas", "electricity"):
            reading = await latest_reading(session, checkpoint.unit_id, quantity)
            hints[f"meter:{quantity}"] = None if reading is None else {
                "value": reading.value, "uom": reading.uom, "at": _iso(reading.ts)}
    if checkpoint.kind == "renovation_unit":
        site = await session.get(Site, checkpoint.site_id)
        tz = ZoneInfo(site.timezone if site else "Asia/Shanghai")
        local = now.astimezone(tz)
        windows = renovation_hours(local.date(), site.first_move_in_on if site else None)
        hints["renovation_hours"] = {
            "windows": [f"{a:%H:%M}–{b:%H:%M}" for a, b in windows],
            "now_permitted": any(a <= local.time() < b for a, b in windows),
        }
    return hints


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
