"""A unit's smart meter readings, and the check of a register read by hand against them.

Shared by the patrols (the vacant-unit water meter: proof of presence) and the move-in
inspection (the base readings handed over to the owner), so both compare the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.devices.models import Device, MeterReading

# Registers are decimals typed by hand: 12.8 − 12.3 must count as 0.5, not 0.5000000000000018.
_EPSILON = 1e-9


def _unit_meter_readings(unit_id: int, quantity: str) -> Any:
    """Readings of the unit's smart meter(s) for ``quantity`` (a replaced meter's too)."""
    return (select(MeterReading)
            .join(Device, Device.id == MeterReading.device_id)
            .where(Device.unit_id == unit_id, Device.kind == "meter", Device.role == quantity))


async def unit_meter(session: AsyncSession, unit_id: int, quantity: str) -> Device | None:
    """The unit's smart meter for ``quantity``, if it has one."""
    return await session.scalar(select(Device).where(
        Device.unit_id == unit_id, Device.kind == "meter", Device.role == quantity).order_by(Device.id))


async def latest_reading(session: AsyncSession, unit_id: int, quantity: str) -> MeterReading | None:
    """The unit's smart meter's last reading of ``quantity`` (by the meter's own timestamp)."""
    return await session.scalar(
        _unit_meter_readings(unit_id, quantity).order_by(MeterReading.ts.desc()).limit(1))


async def nearest_reading(session: AsyncSession, unit_id: int, quantity: str,
                          at: datetime) -> MeterReading | None:
    """The reading closest in time to ``at``, before or after it (a tie goes to the earlier one)."""
    before = await session.scalar(_unit_meter_readings(unit_id, quantity)
                                  .where(MeterReading.ts <= at).order_by(MeterReading.ts.desc()).limit(1))
    after = await session.scalar(_unit_meter_readings(unit_id, quantity)
                                 .where(MeterReading.ts > at).order_by(MeterReading.ts).limit(1))
    if before is None or after is None:
        return before or after
    return before if at - before.ts <= after.ts - at else after


@dataclass(frozen=True)
class RegisterCheck:
    """A register read off the meter beside the smart meter's value."""

    read: float
    smart: float
    tolerance: float

    @property
    def difference(self) -> float:
        return round(self.read - self.smart, 6)

    @property
    def within(self) -> bool:
        return abs(self.read - self.smart) <= self.tolerance + _EPSILON


def check_register(read: float, smart: float, tolerance: float) -> RegisterCheck:
    return RegisterCheck(read=read, smart=smart, tolerance=tolerance)
