"""Read side of patrols: checkpoints with their tags, hints, tag sheets, the supervisor report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import Role, StaffUser, staff_buildings
from server.auth.schemas import CurrentUser
from server.errors import NotFound
from server.estates.models import Building, Unit
from server.patrols import schedule
from server.patrols.config import patrol_config
from server.patrols.hints import checkpoint_hints
from server.patrols.models import Checkpoint, PatrolDevice, PatrolFlag, PatrolRun
from server.patrols.schemas import (
    BuildingReport,
    CheckpointDetail,
    CheckpointRead,
    DeviceSyncRead,
    SpecialistReport,
)
from server.patrols.sheets import TagLabel
from server.patrols.tags import make_tag


async def list_checkpoints(session: AsyncSession, user: CurrentUser, key: bytes,
                           building: str | None = None) -> list[CheckpointRead]:
    query = (select(Checkpoint, Building.slug, Unit.slug)
             .join(Building, Building.id == Checkpoint.building_id)
             .outerjoin(Unit, Unit.id == Checkpoint.unit_id)
             .where(Checkpoint.active.is_(True))
             .order_by(Building.slug, Checkpoint.floor, Checkpoint.slug))
    if user.building_ids is not None:
        query = query.where(Checkpoint.building_id.in_(user.building_ids))
    if building is not None:
        query = query.where(Building.slug == building)
    return [_read(c, b, u, key) for c, b, u in await session.execute(query)]


def _read(c: Checkpoint, building: str, unit: str | None, key: bytes) -> CheckpointRead:
    return CheckpointRead(id=c.id, slug=c.slug, building=building, floor=c.floor, kind=c.kind,
                          place=c.place, label=c.label, template=c.template, unit=unit,
                          tag=make_tag(key, c.id))


async def checkpoint_detail(session: AsyncSession, user: CurrentUser, key: bytes, checkpoint_id: int,
                            now: datetime) -> CheckpointDetail:
    row = (await session.execute(
        select(Checkpoint, Building.slug, Unit.slug).join(Building, Building.id == Checkpoint.building_id)
        .outerjoin(Unit, Unit.id == Checkpoint.unit_id).where(Checkpoint.id == checkpoint_id))).first()
    if row is None or not user.may_see_building(row[0].building_id):
        raise NotFound(f"No checkpoint {checkpoint_id} in your buildings.")
    checkpoint, building, unit = row
    return CheckpointDetail(checkpoint=_read(checkpoint, building, unit, key),
                            hints=await checkpoint_hints(session, checkpoint, now))


async def building_in_scope(session: AsyncSession, user: CurrentUser, slug: str) -> Building:
    building = await session.scalar(select(Building).where(Building.slug == slug))
    if building is None or not user.may_see_building(building.id):
        raise NotFound(f"No building {slug} in your buildings.")
    return building


async def tag_labels(session: AsyncSession, building: Building, key: bytes) -> list[TagLabel]:
    """One label per active checkpoint of the building, in walking order (floor, then place)."""
    labels = []
    for c in await session.scalars(select(Checkpoint).where(
            Checkpoint.building_id == building.id, Checkpoint.active.is_(True))
            .order_by(Checkpoint.floor.is_(None), Checkpoint.floor, Checkpoint.slug)):
        place = c.label.removeprefix(building.name).strip()
        if c.floor is not None:
            place = place.removeprefix(f"{c.floor}层").strip()
        labels.append(TagLabel(content=make_tag(key, c.id), building=building.name,
                               floor=f"{c.floor}层" if c.floor is not None else "全楼", place=place))
    return labels


async def building_report(session: AsyncSession, building: Building, since: datetime, until: datetime,
                          now: datetime) -> BuildingReport:
    """Per building: each specialist's patrols, defects and flags; missed patrols; the flags."""
    specialists = [u for u in await session.scalars(
        select(StaffUser).join(staff_buildings, staff_buildings.c.user_id == StaffUser.id)
        .where(staff_buildings.c.building_id == building.id)) if Role.SPECIALIST in u.roles]
    in_building = select(Checkpoint.id).where(Checkpoint.building_id == building.id)
    run_rows = await session.execute(
        select(PatrolRun.user_id, func.count(), func.sum(PatrolRun.defects))
        .where(PatrolRun.checkpoint_id.in_(in_building), PatrolRun.finished_at >= since,
               PatrolRun.finished_at < until).group_by(PatrolRun.user_id))
    runs = {uid: (n, int(d or 0)) for uid, n, d in run_rows}
    flags = list(await session.scalars(
        select(PatrolFlag).where(PatrolFlag.at >= since, PatrolFlag.at < until,
                                 (PatrolFlag.checkpoint_id.in_(in_building))
                                 | (PatrolFlag.checkpoint_id.is_(None)))
        .order_by(PatrolFlag.at)))
    people = {u.id: u for u in specialists}
    for uid in runs:
        if uid is not None and uid not in people:
            other = await session.get(StaffUser, uid)
            if other is not None:
                people[uid] = other
    rows = [SpecialistReport(user_id=u.id, username=u.username, display_name=u.display_name,
                             runs=runs.get(u.id, (0, 0))[0], defects=runs.get(u.id, (0, 0))[1],
                             flags=sum(1 for f in flags if f.user_id == u.id))
            for u in people.values()]
    missed = await schedule.missed(session, (building.id,), since, until, now)
    return BuildingReport(
        building=building.slug, name=building.name, since=since, until=until, specialists=rows,
        missed=missed,
        flags=[{"kind": f.kind, "at": f.at.isoformat(), "user_id": f.user_id, "device_id": f.device_id,
                "checkpoint_id": f.checkpoint_id, "run_id": f.run_id, "detail": f.detail} for f in flags
               if f.checkpoint_id is not None or f.user_id in people])


async def device_syncs(session: AsyncSession, now: datetime) -> list[DeviceSyncRead]:
    from server.estates.models import Site

    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    stale_after = timedelta(hours=patrol_config(site.options if site else None).plausibility
                            .stale_device_hours)
    rows = await session.execute(select(PatrolDevice, StaffUser.username)
                                 .outerjoin(StaffUser, StaffUser.id == PatrolDevice.user_id)
                                 .order_by(PatrolDevice.last_sync_at))
    return [DeviceSyncRead(device_id=d.id, user=name, app_version=d.app_version,
                           last_sync_at=d.last_sync_at, clock_offset_s=d.clock_offset_s,
                           items_synced=d.items_synced, stale=now - d.last_sync_at > stale_after)
            for d, name in rows]


def template_wire(template: Any) -> dict[str, Any]:
    return {"name": template.name, "version": template.version, "zh": template.zh, "en": template.en,
            "items": [{"key": i.key, "type": i.type, "zh": i.zh, "en": i.en, "required": i.required,
                       "hint": i.hint} for i in template.items]}
