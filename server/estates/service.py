"""Queries over the estate, always within the caller's building scope."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.schemas import CurrentUser
from server.errors import NotFound
from server.estates.models import Building, Site, Unit
from server.estates.schemas import BuildingRead, EstateRead, UnitPage, UnitRead


async def list_units(
    session: AsyncSession,
    user: CurrentUser,
    *,
    building: str | None,
    state: str | None,
    floor: int | None,
    limit: int,
    offset: int,
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
        UnitRead(
            id=u.id,
            slug=u.slug,
            building=b,
            floor=u.floor,
            number=u.number,
            state=u.state,
            handed_over_on=u.handed_over_on,
            updated_at=u.updated_at,
        )
        for u, b in rows
    ]
    return UnitPage(items=items, total=total, limit=limit, offset=offset)


async def get_estate(session: AsyncSession, user: CurrentUser) -> EstateRead:
    """The caller's site with the buildings they may see (a specialist: only their own)."""
    query = select(Site).order_by(Site.id).limit(1)
    site = None
    if user.building_ids is not None:
        # The site of the caller's buildings; a user without buildings still learns the estate's
        # name and zone, but no building.
        site = await session.scalar(
            query.where(Site.id.in_(select(Building.site_id).where(Building.id.in_(user.building_ids))))
        )
    if site is None:
        site = await session.scalar(query)
    if site is None:
        raise NotFound("No estate is loaded yet (fieldops demo loads one).", code="estate.not_loaded")
    buildings = select(Building).where(Building.site_id == site.id)
    if user.building_ids is not None:
        buildings = buildings.where(Building.id.in_(user.building_ids))
    rows = (await session.scalars(buildings.order_by(func.length(Building.slug), Building.slug))).all()
    return EstateRead(
        slug=site.slug,
        name=site.name,
        timezone=site.timezone,
        buildings=[BuildingRead(slug=b.slug, name=b.name, floors=b.floors) for b in rows],
    )
