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


def due_by(period: Period, frequency: Frequency, done: int, since: datetime | None = None) -> datetime | None:
    """When the next patrol of the period is due: the period split evenly, from ``since`` (the
    checkpoint's creation) if it came later, so a unit added on the 27th is not overdue at once."""
    if done >= frequency.times:
        return None
    start = max(period.start, since).astimezone(period.start.tzinfo) if since else period.start
    return start + (period.end - start) * (done + 1) / frequency.times


async def _site(session: AsyncSession) -> tuple[ZoneInfo, PatrolConfig]:
    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    return (
        ZoneInfo(site.timezone if site else "Asia/Shanghai"),
        patrol_config(site.options if site else None),
    )


async def _checkpoints(
    session: AsyncSession, building_ids: tuple[int, ...] | None
) -> list[tuple[Checkpoint, str]]:
    query = (
        select(Checkpoint, Building.slug)
        .join(Building, Building.id == Checkpoint.building_id)
        .where(Checkpoint.active.is_(True))
        .order_by(Checkpoint.building_id, Checkpoint.floor, Checkpoint.slug)
    )
    if building_ids is not None:
        query = query.where(Checkpoint.building_id.in_(building_ids))
    return [(c, b) for c, b in await session.execute(query)]


async def _run_times(
    session: AsyncSession, checkpoint_ids: list[int], since: datetime, until: datetime
) -> dict[int, list[datetime]]:
    times: dict[int, list[datetime]] = defaultdict(list)
    rows = await session.execute(
        select(PatrolRun.checkpoint_id, PatrolRun.finished_at).where(
            PatrolRun.finished_at >= since, PatrolRun.finished_at < until
        )
    )
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
        by = due_by(period, frequency, len(mine), checkpoint.created_at)
        if by is None:
            continue
        items.append(
            DueItem(
                checkpoint_id=checkpoint.id,
                slug=checkpoint.slug,
                label=checkpoint.label,
                kind=checkpoint.kind,
                floor=checkpoint.floor,
                building=building,
                required=frequency.times,
                done=len(mine),
                due_by=by,
                overdue=now > by,
                last_at=max(mine) if mine else None,
            )
        )
    items.sort(key=lambda i: (not i.overdue, i.due_by))
    return items


@dataclass(frozen=True)
class CheckpointPeriod:
    """One period a checkpoint owed patrols in, with the patrols made in it (oldest first)."""

    checkpoint: Checkpoint
    building: str
    period: Period
    required: int
    runs: tuple[tuple[datetime, int | None], ...]  # (finished_at, user_id)

    @property
    def done(self) -> int:
        return len(self.runs)

    @property
    def counted(self) -> int:
        """Patrols that count towards the quota: a third patrol of a twice-a-month unit adds nothing."""
        return min(self.done, self.required)

    def ended(self, now: datetime) -> bool:
        return self.period.end <= now

    def slots_due(self, now: datetime) -> int:
        """How many of the period's patrols should be done by ``now`` (the i-th by start + i·length/n)."""
        length = self.period.end - self.period.start
        return sum(
            1 for i in range(1, self.required + 1) if self.period.start + length * i / self.required <= now
        )


async def _runs(
    session: AsyncSession, checkpoint_ids: list[int], since: datetime, until: datetime
) -> dict[int, list[tuple[datetime, int | None]]]:
    found: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    rows = await session.execute(
        select(PatrolRun.checkpoint_id, PatrolRun.finished_at, PatrolRun.user_id)
        .where(PatrolRun.finished_at >= since, PatrolRun.finished_at < until)
        .order_by(PatrolRun.finished_at, PatrolRun.id)
    )
    wanted = set(checkpoint_ids)
    for checkpoint_id, at, user_id in rows:
        if checkpoint_id in wanted:
            found[checkpoint_id].append((at, user_id))
    return found


async def periods(
    session: AsyncSession,
    building_ids: tuple[int, ...] | None,
    since: datetime,
    until: datetime,
    now: datetime,
) -> list[CheckpointPeriod]:
    """Every period that starts inside [since, until), has begun by ``now`` and that the checkpoint
    existed through, with its patrols; ended ones are judged, the current one is still open."""
    tz, config = await _site(session)
    checkpoints = await _checkpoints(session, building_ids)
    runs = await _runs(
        session, [c.id for c, _ in checkpoints], since - timedelta(days=31), until + timedelta(days=31)
    )
    found = []
    for checkpoint, building in checkpoints:
        frequency = config.frequency(checkpoint.kind)
        mine = runs.get(checkpoint.id, [])
        period = period_of(since, frequency.per, tz)
        while period.start < until and period.start <= now:
            # A checkpoint is only owed patrols for periods it existed through.
            if period.start >= since and checkpoint.created_at <= period.start:
                found.append(
                    CheckpointPeriod(
                        checkpoint=checkpoint,
                        building=building,
                        period=period,
                        required=frequency.times,
                        runs=tuple(r for r in mine if period.start <= r[0] < period.end),
                    )
                )
            period = period_of(period.end, frequency.per, tz)
    return found


async def missed(
    session: AsyncSession,
    building_ids: tuple[int, ...] | None,
    since: datetime,
    until: datetime,
    now: datetime,
) -> list[MissedPatrol]:
    """Periods inside [since, until) that ended before ``now`` with too few patrols."""
    return [
        MissedPatrol(
            checkpoint_id=p.checkpoint.id,
            slug=p.checkpoint.slug,
            label=p.checkpoint.label,
            period_start=p.period.start,
            period_end=p.period.end,
            required=p.required,
            done=p.done,
        )
        for p in await periods(session, building_ids, since, until, now)
        if p.ended(now) and p.done < p.required
    ]
