"""Queries over the estate, always within the caller's building scope."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.schemas import CurrentUser
from server.estates.models import Building, Unit
from server.estates.schemas import UnitPage, UnitRead


async def list_units(
    session: AsyncSession, user: CurrentUser, *, building: str | None, state: str | None,
    floor: int | None, limit: int, offset: int,
) -> UnitPage:
    query = select(Unit, Building.slug).join(Building, Building.id == Unit.building_id)
    if user.building_ids is not None:
        query = query.where(Unit.building_id.in_(user.building_ids))
    if building is not None:
        query = query.where(Building.slug == building)
    if state is not None:
        query = query.where(Unit.state == state)
    if floor is not None:
        query = query.where(Unit.floor == floor)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(Building.slug, Unit.slug).limit(limit).offset(offset))
    items = [
        UnitRead(id=u.id, slug=u.slug, building=b, floor=u.floor, number=u.number, state=u.state,
                 handed_over_on=u.handed_over_on, updated_at=u.updated_at)
        for u, b in rows
    ]
    return UnitPage(items=items, total=total, limit=limit, offset=offset)
