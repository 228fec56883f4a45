"""Device queries within the caller's building scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.auth.schemas import CurrentUser
from server.devices.models import Device
from server.devices.schemas import DevicePage, DeviceRead
from server.estates.models import Building, Unit

_unit = aliased(Unit)


def _query(user: CurrentUser) -> Any:
    query = (
        select(Device, Building.slug, _unit.slug)
        .join(Building, Building.id == Device.building_id)
        .outerjoin(_unit, _unit.id == Device.unit_id)
    )
    if user.building_ids is not None:
        query = query.where(Device.building_id.in_(user.building_ids))
    return query


def _read(device: Device, building: str, unit: str | None) -> DeviceRead:
    return DeviceRead(id=device.id, slug=device.slug, kind=device.kind, building=building, unit=unit,
                      role=device.role, vendor=device.vendor, online=device.online,
                      last_seen_at=device.last_seen_at, status_changed_at=device.status_changed_at)


async def list_devices(
    session: AsyncSession, user: CurrentUser, *, building: str | None, kind: str | None,
    online: bool | None, unit: str | None, limit: int, offset: int,
) -> DevicePage:
    query = _query(user)
    if building is not None:
        query = query.where(Building.slug == building)
    if kind is not None:
        query = query.where(Device.kind == kind)
    if unit is not None:
        query = query.where(_unit.slug == unit)
    if online is True:
        query = query.where(Device.online.is_(True))
    elif online is False:
        # Never heard from counts as not online.
        query = query.where((Device.online.is_(False)) | (Device.online.is_(None)))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(Building.slug, Device.slug).limit(limit).offset(offset))
    return DevicePage(items=[_read(*row) for row in rows], total=total, limit=limit, offset=offset)


async def list_devices_by_id(
    session: AsyncSession, user: CurrentUser, ids: set[int]
) -> dict[int, DeviceRead]:
    """Current state of these devices, as far as the caller may see them."""
    if not ids:
        return {}
    rows = await session.execute(_query(user).where(Device.id.in_(ids)))
    return {row[0].id: _read(*row) for row in rows}
