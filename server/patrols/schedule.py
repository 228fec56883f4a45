"""Compliance: what is due, overdue and missed, per checkpoint, from the per-site schedule.

A period (day, ISO week, month, in the site's time zone) needing n patrols has n
slots: the i-th patrol is due by start + i·length/n. Twice a month therefore means
one by mid-month and one by month end. A period that ended with fewer patrols than
it needed is a missed patrol on the supervisor's report. Every function takes
``now``: the clock is the caller's, so tests control it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.estates.models import Building, Site
from server.patrols.config import Frequency, PatrolConfig, patrol_config
from server.patrols.models import Checkpoint, PatrolRun
from server.patrols.schemas import DueItem, MissedPatrol


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def period_of(at: datetime, per: str, tz: ZoneInfo) -> Period:
    """The day, week or month (local) that contains ``at``, as aware datetimes."""
    local = at.astimezone(tz).date()
    if per == "day":
        first, after = local, local + timedelta(days=1)
    elif per == "week":
        first = local - timedelta(days=local.weekday())
        after = first + timedelta(days=7)
    else:
        first = local.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    return Period(_midnight(first, tz), _midnight(after, tz))


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def due_by(period: Period, frequency: Frequency, done: int) -> datetime | None:
    if done >= frequency.times:
        return None
    return period.start + (period.end - period.start) * (done + 1) / frequency.times


async def _site(session: AsyncSession) -> tuple[ZoneInfo, PatrolConfig]:
    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    return (ZoneInfo(site.timezone if site else "Asia/Shanghai"),
            patrol_config(site.options if site else None))


async def _checkpoints(session: AsyncSession, building_ids: tuple[int, ...] | None
                       ) -> list[tuple[Checkpoint, str]]:
    query = (select(Checkpoint, Building.slug).join(Building, Building.id == Checkpoint.building_id)
             .where(Checkpoint.active.is_(True)).order_by(Checkpoint.building_id, Checkpoint.floor,
                                                          Checkpoint.slug))
    if building_ids is not None:
        query = query.where(Checkpoint.building_id.in_(building_ids))
    return [(c, b) for c, b in await session.execute(query)]


async def _run_times(session: AsyncSession, checkpoint_ids: list[int], since: datetime, until: datetime
                     ) -> dict[int, list[datetime]]:
    times: dict[int, list[datetime]] = defaultdict(list)
    rows = await session.execute(
        select(PatrolRun.checkpoint_id, PatrolRun.finished_at)
        .where(PatrolRun.finished_at >= since, PatrolRun.finished_at < until))
    wanted = set(checkpoint_ids)
    for checkpoint_id, at in rows:
        if checkpoint_id in wanted:
            times[checkpoint_id].append(at)
    return times


async def today(session: AsyncSession, building_ids: tuple[int, ...] | None, now: datetime) -> list[DueItem]:
    """Checkpoints whose current period still needs a patrol, overdue ones first."""
    tz, config = await _site(session)
    checkpoints = await _checkpoints(session, building_ids)
    earliest = min((period_of(now, "month", tz).start, period_of(now, "week", tz).start))
    times = await _run_times(session, [c.id for c, _ in checkpoints], earliest, now + timedelta(days=1))
    items = []
    for checkpoint, building in checkpoints:
        frequency = config.frequency(checkpoint.kind)
        period = period_of(now, frequency.per, tz)
        mine = [t for t in times.get(checkpoint.id, []) if period.start <= t < period.end]
        by = due_by(period, frequency, len(mine))
        if by is None:
            continue
        items.append(DueItem(
            checkpoint_id=checkpoint.id, slug=checkpoint.slug, label=checkpoint.label,
            kind=checkpoint.kind, floor=checkpoint.floor, building=building, required=frequency.times,
            done=len(mine), due_by=by, overdue=now > by, last_at=max(mine) if mine else None))
    items.sort(key=lambda i: (not i.overdue, i.due_by))
    return items


async def missed(session: AsyncSession, building_ids: tuple[int, ...] | None, since: datetime,
                 until: datetime, now: datetime) -> list[MissedPatrol]:
    """Periods inside [since, until) that ended before ``now`` with too few patrols."""
    tz, config = await _site(session)
    checkpoints = await _checkpoints(session, building_ids)
    times = await _run_times(session, [c.id for c, _ in checkpoints], since - timedelta(days=31),
                             until + timedelta(days=31))
    found = []
    for checkpoint, _building in checkpoints:
        frequency = config.frequency(checkpoint.kind)
        period = period_of(since, frequency.per, tz)
        while period.start < until and period.end <= now:
            # A checkpoint is only owed patrols for periods it existed through.
            if period.start >= since and checkpoint.created_at <= period.start:
                done = sum(1 for t in times.get(checkpoint.id, []) if period.start <= t < period.end)
                if done < frequency.times:
                    found.append(MissedPatrol(
                        checkpoint_id=checkpoint.id, slug=checkpoint.slug, label=checkpoint.label,
                        period_start=period.start, period_end=period.end, required=frequency.times,
                        done=done))
            period = period_of(period.end, frequency.per, tz)
    return found
