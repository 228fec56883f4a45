"""Device queries within the caller's building scope."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.auth.schemas import CurrentUser
from server.devices.models import Device
from server.devices.schemas import DevicePage, DeviceRead
from server.estates.models import Building, Unit


async def list_devices(
    session: AsyncSession, user: CurrentUser, *, building: str | None, kind: str | None,
    online: bool | None, unit: str | None, limit: int, offset: int,
) -> DevicePage:
    unit_alias = aliased(Unit)
    query = (
        select(Device, Building.slug, unit_alias.slug)
        .join(Building, Building.id == Device.building_id)
        .outerjoin(unit_alias, unit_alias.id == Device.unit_id)
    )
    if user.building_ids is not None:
        query = query.where(Device.building_id.in_(user.building_ids))
    if building is not None:
        query = query.where(Building.slug == building)
    if kind is not None:
        query = query.where(Device.kind == kind)
    if unit is not None:
        query = query.where(unit_alias.slug == unit)
    if online is True:
        query = query.where(Device.online.is_(True))
    elif online is False:
        # Never heard from counts as not online.
        query = query.where((Device.online.is_(False)) | (Device.online.is_(None)))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(Building.slug, Device.slug).limit(limit).offset(offset))
    items = [
        DeviceRead(id=d.id, slug=d.slug, kind=d.kind, building=b, unit=u, role=d.role,
                   vendor=d.vendor, online=d.online, last_seen_at=d.last_seen_at,
                   status_changed_at=d.status_changed_at)
        for d, b, u in rows
    ]
    return DevicePage(items=items, total=total, limit=limit, offset=offset)


async def list_devices_by_id(
    session: AsyncSession, user: CurrentUser, ids: set[int]
) -> dict[int, DeviceRead]:
    """Current state of these devices, as far as the caller may see them."""
    if not ids:
        return {}
    unit_alias = aliased(Unit)
    query = (
        select(Device, Building.slug, unit_alias.slug)
        .join(Building, Building.id == Device.building_id)
        .outerjoin(unit_alias, unit_alias.id == Device.unit_id)
        .where(Device.id.in_(ids))
    )
    if user.building_ids is not None:
        query = query.where(Device.building_id.in_(user.building_ids))
    return {
        d.id: DeviceRead(id=d.id, slug=d.slug, kind=d.kind, building=b, unit=u, role=d.role, vendor=d.vendor,
                         online=d.online, last_seen_at=d.last_seen_at, status_changed_at=d.status_changed_at)
        for d, b, u in await session.execute(query)
    }
