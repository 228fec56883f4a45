"""Read side of patrols: checkpoints with their tags, hints, tag sheets, the supervisor report."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import Role, StaffUser, staff_buildings
from server.auth.schemas import CurrentUser
from server.errors import InvalidInput, NotFound
from server.estates.models import Building, Site, Unit
from server.patrols import schedule
from server.patrols.config import patrol_config
from server.patrols.hints import checkpoint_hints
from server.patrols.models import Checkpoint, PatrolDevice, PatrolFlag, PatrolRun
from server.patrols.schedule import CheckpointPeriod
from server.patrols.schemas import (
    BuildingCompliance,
    BuildingReport,
    CheckpointDetail,
    CheckpointRead,
    ComplianceReport,
    DeviceSyncRead,
    KindCompliance,
    MissedPeriod,
    SpecialistCompliance,
    SpecialistReport,
)
from server.patrols.sheets import TagLabel
from server.patrols.tags import make_tag


async def list_checkpoints(
    session: AsyncSession, user: CurrentUser, key: bytes, building: str | None = None
) -> list[CheckpointRead]:
    query = (
        select(Checkpoint, Building.slug, Unit.slug)
        .join(Building, Building.id == Checkpoint.building_id)
        .outerjoin(Unit, Unit.id == Checkpoint.unit_id)
        .where(Checkpoint.active.is_(True))
        .order_by(Building.slug, Checkpoint.floor, Checkpoint.slug)
    )
    if user.building_ids is not None:
        query = query.where(Checkpoint.building_id.in_(user.building_ids))
    if building is not None:
        query = query.where(Building.slug == building)
    return [_read(c, b, u, key) for c, b, u in await session.execute(query)]


def _read(c: Checkpoint, building: str, unit: str | None, key: bytes) -> CheckpointRead:
    return CheckpointRead(
        id=c.id,
        slug=c.slug,
        building=building,
        floor=c.floor,
        kind=c.kind,
        place=c.place,
        label=c.label,
        template=c.template,
        unit=unit,
        tag=make_tag(key, c.id),
    )


async def checkpoint_detail(
    session: AsyncSession, user: CurrentUser, key: bytes, checkpoint_id: int, now: datetime
) -> CheckpointDetail:
    row = (
        await session.execute(
            select(Checkpoint, Building.slug, Unit.slug)
            .join(Building, Building.id == Checkpoint.building_id)
            .outerjoin(Unit, Unit.id == Checkpoint.unit_id)
            .where(Checkpoint.id == checkpoint_id)
        )
    ).first()
    if row is None or not user.may_see_building(row[0].building_id):
        raise NotFound(f"No checkpoint {checkpoint_id} in your buildings.")
    checkpoint, building, unit = row
    return CheckpointDetail(
        checkpoint=_read(checkpoint, building, unit, key),
        hints=await checkpoint_hints(session, checkpoint, now),
    )


async def building_in_scope(session: AsyncSession, user: CurrentUser, slug: str) -> Building:
    building = await session.scalar(select(Building).where(Building.slug == slug))
    if building is None or not user.may_see_building(building.id):
        raise NotFound(f"No building {slug} in your buildings.")
    return building


async def tag_labels(session: AsyncSession, building: Building, key: bytes) -> list[TagLabel]:
    """One label per active checkpoint of the building, in walking order (floor, then place)."""
    labels = []
    for c in await session.scalars(
        select(Checkpoint)
        .where(Checkpoint.building_id == building.id, Checkpoint.active.is_(True))
        .order_by(Checkpoint.floor.is_(None), Checkpoint.floor, Checkpoint.slug)
    ):
        place = c.label.removeprefix(building.name).strip()
        if c.floor is not None:
            place = place.removeprefix(f"{c.floor}层").strip()
        labels.append(
            TagLabel(
                content=make_tag(key, c.id),
                building=building.name,
                floor=f"{c.floor}层" if c.floor is not None else "全楼",
                place=place,
            )
        )
    return labels


async def building_report(
    session: AsyncSession, building: Building, since: datetime, until: datetime, now: datetime
) -> BuildingReport:
    """Per building: each specialist's patrols, defects and flags; missed patrols; the flags."""
    specialists = [
        u
        for u in await session.scalars(
            select(StaffUser)
            .join(staff_buildings, staff_buildings.c.user_id == StaffUser.id)
            .where(staff_buildings.c.building_id == building.id)
        )
        if Role.SPECIALIST in u.roles
    ]
    in_building = select(Checkpoint.id).where(Checkpoint.building_id == building.id)
    run_rows = await session.execute(
        select(PatrolRun.user_id, func.count(), func.sum(PatrolRun.defects))
        .where(
            PatrolRun.checkpoint_id.in_(in_building),
            PatrolRun.finished_at >= since,
            PatrolRun.finished_at < until,
        )
        .group_by(PatrolRun.user_id)
    )
    runs = {uid: (n, int(d or 0)) for uid, n, d in run_rows}
    flags = list(
        await session.scalars(
            select(PatrolFlag)
            .where(
                PatrolFlag.at >= since,
                PatrolFlag.at < until,
                (PatrolFlag.checkpoint_id.in_(in_building)) | (PatrolFlag.checkpoint_id.is_(None)),
            )
            .order_by(PatrolFlag.at)
        )
    )
    people = {u.id: u for u in specialists}
    for uid in runs:
        if uid is not None and uid not in people:
            other = await session.get(StaffUser, uid)
            if other is not None:
                people[uid] = other
    rows = [
        SpecialistReport(
            user_id=u.id,
            username=u.username,
            display_name=u.display_name,
            runs=runs.get(u.id, (0, 0))[0],
            defects=runs.get(u.id, (0, 0))[1],
            flags=sum(1 for f in flags if f.user_id == u.id),
        )
        for u in people.values()
    ]
    missed = await schedule.missed(session, (building.id,), since, until, now)
    return BuildingReport(
        building=building.slug,
        name=building.name,
        since=since,
        until=until,
        specialists=rows,
        missed=missed,
        flags=[
            {
                "kind": f.kind,
                "at": f.at.isoformat(),
                "user_id": f.user_id,
                "device_id": f.device_id,
                "checkpoint_id": f.checkpoint_id,
                "run_id": f.run_id,
                "detail": f.detail,
            }
            for f in flags
            if f.checkpoint_id is not None or f.user_id in people
        ],
    )


async def device_syncs(session: AsyncSession, now: datetime) -> list[DeviceSyncRead]:
    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    stale_after = timedelta(
        hours=patrol_config(site.options if site else None).plausibility.stale_device_hours
    )
    rows = await session.execute(
        select(PatrolDevice, StaffUser.username)
        .outerjoin(StaffUser, StaffUser.id == PatrolDevice.user_id)
        .order_by(PatrolDevice.last_sync_at)
    )
    return [
        DeviceSyncRead(
            device_id=d.id,
            user=name,
            app_version=d.app_version,
            last_sync_at=d.last_sync_at,
            clock_offset_s=d.clock_offset_s,
            items_synced=d.items_synced,
            stale=now - d.last_sync_at > stale_after,
        )
        for d, name in rows
    ]


MAX_REPORT_DAYS = 370  # a year and a bit: longer ranges are exports, not a page


async def compliance_range(
    session: AsyncSession,
    now: datetime,
    month: str | None = None,
    first: date | None = None,
    last: date | None = None,
) -> tuple[datetime, datetime]:
    """[since, until) in the site's time zone: a month (YYYY-MM), local dates first–last inclusive,
    or by default the current month."""
    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    tz = ZoneInfo(site.timezone if site else "Asia/Shanghai")
    if month is not None and (first is not None or last is not None):
        raise InvalidInput.at("month", "Give a month, or first and last days: not both.", "both", "query")
    if first is not None or last is not None:
        if first is None or last is None:
            raise InvalidInput.at(
                "first" if first is None else "last", "A range needs first and last days.", "missing", "query"
            )
        if last < first:
            raise InvalidInput.at("last", "The last day is before the first.", "before first", "query")
        if (last - first).days >= MAX_REPORT_DAYS:
            raise InvalidInput.at("last", f"At most {MAX_REPORT_DAYS} days at a time.", "too long", "query")
        return _local_midnight(first, tz), _local_midnight(last + timedelta(days=1), tz)
    if month is None:
        start = now.astimezone(tz).date().replace(day=1)
    else:
        try:
            start = date(int(month[:4]), int(month[5:7]), 1)
        except ValueError:
            raise InvalidInput.at("month", f"No month {month}.", "not a month", "query") from None
    after = (start + timedelta(days=32)).replace(day=1)
    return _local_midnight(start, tz), _local_midnight(after, tz)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


async def compliance_report(
    session: AsyncSession,
    user: CurrentUser,
    since: datetime,
    until: datetime,
    now: datetime,
    building: str | None = None,
) -> ComplianceReport:
    """Due, done and missed patrols per building (its checkpoints) and per specialist (their patrols).

    A period is judged once it has ended: its missed patrols are its quota minus the patrols made
    in it. The building's specialists answer for them (楼栋客服专员, domain.md); each patrol is
    counted to whoever made it, in the order made, until the period's quota is met.
    """
    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    config = patrol_config(site.options if site else None)
    query = select(Building).order_by(Building.slug)
    if building is not None:
        query = query.where(Building.slug == building)
    buildings = [b for b in await session.scalars(query) if user.may_see_building(b.id)]
    if building is not None and not buildings:
        raise NotFound(f"No building {building} in your buildings.")
    ids = tuple(b.id for b in buildings)
    by_building: dict[str, list[CheckpointPeriod]] = defaultdict(list)
    for period in await schedule.periods(session, ids, since, until, now):
        by_building[period.building].append(period)
    assigned: dict[int, list[StaffUser]] = defaultdict(list)
    for person, building_id in await session.execute(
        select(StaffUser, staff_buildings.c.building_id)
        .join(staff_buildings, staff_buildings.c.user_id == StaffUser.id)
        .where(staff_buildings.c.building_id.in_(ids), StaffUser.active.is_(True))
        .order_by(StaffUser.username)
    ):
        if Role.SPECIALIST in person.roles:
            assigned[building_id].append(person)
    activity = await _activity(session, ids, since, until)
    flags = await _flag_counts(session, ids, since, until)
    people: dict[int, StaffUser] = {u.id: u for users in assigned.values() for u in users}
    for uid in {uid for (_, uid) in activity if uid is not None} - people.keys():
        other = await session.get(StaffUser, uid)
        if other is not None:
            people[uid] = other
    return ComplianceReport(
        since=since,
        until=until,
        now=now,
        timezone=site.timezone if site else "Asia/Shanghai",
        stale_device_hours=config.plausibility.stale_device_hours,
        clock_skew_seconds=config.plausibility.clock_skew_seconds,
        buildings=[
            _building_compliance(
                b, by_building.get(b.slug, []), assigned.get(b.id, []), people, activity, flags, now
            )
            for b in buildings
        ],
    )


# (building id, user id) → (patrols, defects), and → plausibility flags
Activity = dict[tuple[int, int | None], tuple[int, int]]
FlagCounts = dict[tuple[int, int | None], int]


def _building_compliance(
    building: Building,
    periods: list[CheckpointPeriod],
    assigned: list[StaffUser],
    people: dict[int, StaffUser],
    activity: Activity,
    flags: FlagCounts,
    now: datetime,
) -> BuildingCompliance:
    kinds = {
        kind: _kind_compliance(kind, [p for p in periods if p.checkpoint.kind == kind], now)
        for kind in sorted({p.checkpoint.kind for p in periods})
    }
    counted: dict[int | None, int] = defaultdict(int)
    for period in periods:
        if period.ended(now):
            for _at, uid in period.runs[: period.required]:
                counted[uid] += 1
    assigned_ids = [u.id for u in assigned]
    active_ids = sorted(
        (
            uid
            for (bid, uid) in activity
            if bid == building.id and uid is not None and uid not in assigned_ids and uid in people
        ),
        key=lambda uid: people[uid].username,
    )
    specialists = []
    for uid in [*assigned_ids, *active_ids]:
        runs, defects = activity.get((building.id, uid), (0, 0))
        specialists.append(
            SpecialistCompliance(
                user_id=uid,
                username=people[uid].username,
                display_name=people[uid].display_name,
                assigned=uid in assigned_ids,
                counted=counted.get(uid, 0),
                runs=runs,
                defects=defects,
                flags=flags.get((building.id, uid), 0),
            )
        )
    missed = [
        _missed_period(p) for p in sorted(periods, key=_walking_order) if p.ended(now) and p.done < p.required
    ]
    total = _kind_compliance("", periods, now)
    return BuildingCompliance(
        building=building.slug,
        name=building.name,
        due=total.due,
        done=total.done,
        missed=total.missed,
        open_required=total.open_required,
        open_done=total.open_done,
        overdue=total.overdue,
        kinds=list(kinds.values()),
        specialists=specialists,
        missed_periods=missed,
    )


def _walking_order(p: CheckpointPeriod) -> tuple[bool, int, str, datetime]:
    return p.checkpoint.floor is None, p.checkpoint.floor or 0, p.checkpoint.slug, p.period.start


def _missed_period(p: CheckpointPeriod) -> MissedPeriod:
    c = p.checkpoint
    return MissedPeriod(
        checkpoint_id=c.id,
        slug=c.slug,
        label=c.label,
        kind=c.kind,
        floor=c.floor,
        period_start=p.period.start,
        period_end=p.period.end,
        required=p.required,
        done=p.done,
        last_at=p.runs[-1][0] if p.runs else None,
    )


def _kind_compliance(kind: str, periods: list[CheckpointPeriod], now: datetime) -> KindCompliance:
    ended = [p for p in periods if p.ended(now)]
    running = [p for p in periods if not p.ended(now)]
    due = sum(p.required for p in ended)
    done = sum(p.counted for p in ended)
    return KindCompliance(
        kind=kind,
        due=due,
        done=done,
        missed=due - done,
        open_required=sum(p.required for p in running),
        open_done=sum(p.counted for p in running),
        overdue=sum(max(0, p.slots_due(now) - p.done) for p in running),
    )


async def _activity(
    session: AsyncSession, building_ids: tuple[int, ...], since: datetime, until: datetime
) -> Activity:
    """(building id, user id) → (patrols, defects found) in [since, until)."""
    rows = await session.execute(
        select(Checkpoint.building_id, PatrolRun.user_id, func.count(), func.sum(PatrolRun.defects))
        .join(Checkpoint, Checkpoint.id == PatrolRun.checkpoint_id)
        .where(
            Checkpoint.building_id.in_(building_ids),
            PatrolRun.finished_at >= since,
            PatrolRun.finished_at < until,
        )
        .group_by(Checkpoint.building_id, PatrolRun.user_id)
    )
    return {(bid, uid): (int(n), int(d or 0)) for bid, uid, n, d in rows}


async def _flag_counts(
    session: AsyncSession, building_ids: tuple[int, ...], since: datetime, until: datetime
) -> FlagCounts:
    """(building id, user id) → plausibility flags on patrols at the building's checkpoints."""
    rows = await session.execute(
        select(Checkpoint.building_id, PatrolFlag.user_id, func.count())
        .join(Checkpoint, Checkpoint.id == PatrolFlag.checkpoint_id)
        .where(Checkpoint.building_id.in_(building_ids), PatrolFlag.at >= since, PatrolFlag.at < until)
        .group_by(Checkpoint.building_id, PatrolFlag.user_id)
    )
    return {(bid, uid): int(n) for bid, uid, n in rows}


def template_wire(template: Any) -> dict[str, Any]:
    return {
        "name": template.name,
        "version": template.version,
        "zh": template.zh,
        "en": template.en,
        "items": [
            {"key": i.key, "type": i.type, "zh": i.zh, "en": i.en, "required": i.required, "hint": i.hint}
            for i in template.items
        ],
    }
