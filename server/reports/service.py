"""The handbook's two reviews, computed from tickets (no web framework here).

- Daily clearing (日清日审): every open request with its limits, overdue first, who owns
  it and what was promised.
- Monthly complaint summary (投诉记录汇总表): per class, department and building, with
  on-time rates and satisfaction; the supervisor hands it in on the 28th.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.auth.models import StaffUser
from server.auth.schemas import CurrentUser
from server.devices.models import Device
from server.estates.models import Building, Site, Unit
from server.tickets import scope
from server.tickets.models import ACTIVE_STATUSES, Ticket

REQUEST_KINDS = (
    "repair",
    "complaint",
    "help",
    "callback",
    "patrol_defect",
    "rectification",
    "device_offline",
    "alarm",
)
DUE_FIELDS = ("ack_due_at", "on_site_due_at", "department_due_at", "answer_due_at", "resolve_due_at")
MONTHLY_REPORT_DAY = 28  # domain.md: the supervisor hands in the complaint summary on the 28th


class ClearingRow(msgspec.Struct):
    ticket_id: int
    kind: str
    title: str
    building: str | None
    unit: str | None
    status: str
    opened_at: datetime
    owner: str | None  # the assignee, else the first receiver (首问责任制)
    first_receiver: str | None
    next_limit: str | None  # which clock runs out next
    next_due_at: datetime | None
    overdue_minutes: int  # 0 when on time
    promised_at: datetime | None
    postponements: int
    # What the desk needs to word a rule-made title in its own language (labels.js titleLabel).
    source: str = ""
    type: str = ""
    device: str | None = None
    context: dict[str, Any] = {}


class DailyClearing(msgspec.Struct):
    site: str
    day: date
    generated_at: datetime
    open_count: int
    overdue_count: int
    rows: list[ClearingRow]


class SummaryRow(msgspec.Struct):
    classification: str
    department: str
    building: str
    received: int
    resolved: int
    resolved_on_time: int
    on_time_rate: float | None  # resolved on time / resolved
    still_open: int
    followed_up: int
    average_satisfaction: float | None


class ComplaintSummary(msgspec.Struct):
    site: str
    month: str  # YYYY-MM
    period_start: datetime
    period_end: datetime
    due_on: date
    total: int
    rows: list[SummaryRow]


async def site_of(session: AsyncSession) -> Site:
    site = await session.scalar(select(Site).order_by(Site.id))
    if site is None:
        raise LookupError("no estate loaded")
    return site


async def daily_clearing(
    session: AsyncSession, user: CurrentUser, now: datetime, building: str | None = None
) -> DailyClearing:
    site = await site_of(session)
    owner, receiver = aliased(StaffUser), aliased(StaffUser)
    query = scope.visible(
        select(Ticket, Building.slug, Unit.slug, owner.display_name, receiver.display_name, Device.slug)
        .outerjoin(Building, Building.id == Ticket.building_id)
        .outerjoin(Unit, Unit.id == Ticket.unit_id)
        .outerjoin(Device, Device.id == Ticket.device_id)
        .outerjoin(owner, owner.id == Ticket.assignee_id)
        .outerjoin(receiver, receiver.id == Ticket.first_receiver_id)
        .where(Ticket.status.in_(ACTIVE_STATUSES), Ticket.kind.in_(REQUEST_KINDS)),
        user,
    )
    if building:
        query = query.where(Building.slug == building)
    rows = []
    found = await session.execute(query)
    for ticket, building_slug, unit_slug, owner_name, receiver_name, device_slug in found:
        limit, due = _next_limit(ticket)
        overdue = max(0, int((now - due).total_seconds() // 60)) if due is not None else 0
        rows.append(
            ClearingRow(
                ticket_id=ticket.id,
                kind=ticket.kind,
                title=ticket.title,
                building=building_slug,
                unit=unit_slug,
                status=ticket.status,
                opened_at=ticket.opened_at,
                owner=owner_name or receiver_name,
                first_receiver=receiver_name,
                next_limit=limit,
                next_due_at=due,
                overdue_minutes=overdue,
                promised_at=ticket.promised_at,
                postponements=ticket.postponements,
                source=ticket.source,
                type=ticket.type or "",
                device=device_slug,
                context=dict(ticket.context or {}),
            )
        )
    # Overdue first (longest overdue on top), then by the next deadline, then oldest.
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(key=lambda r: (-r.overdue_minutes, r.next_due_at or far, r.opened_at))
    local_day = now.astimezone(ZoneInfo(site.timezone)).date()
    return DailyClearing(
        site=site.slug,
        day=local_day,
        generated_at=now,
        open_count=len(rows),
        overdue_count=sum(1 for r in rows if r.overdue_minutes > 0),
        rows=rows,
    )


def _next_limit(ticket: Ticket) -> tuple[str | None, datetime | None]:
    """The earliest clock that has not been met yet."""
    met = {
        "ack_due_at": ticket.acknowledged_at,
        "on_site_due_at": ticket.on_site_at,
        "department_due_at": ticket.handed_to_department_at,
        "answer_due_at": ticket.answered_at,
        "resolve_due_at": ticket.resolved_at,
    }
    pending = [
        (getattr(ticket, f), f.removesuffix("_due_at"))
        for f in DUE_FIELDS
        if getattr(ticket, f) is not None and met[f] is None
    ]
    if ticket.promised_at is not None:
        pending.append((ticket.promised_at, "promised"))
    if not pending:
        return None, None
    due, name = min(pending)
    return name, due


@dataclass
class _Bucket:
    received: int = 0
    resolved: int = 0
    on_time: int = 0
    still_open: int = 0
    followed_up: int = 0
    satisfaction_sum: int = 0


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The calendar month in the site's zone, as a half-open interval."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"month must look like 2026-11, not {month!r}") from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(first, time(), tz), datetime.combine(following, time(), tz)


async def complaint_summary(session: AsyncSession, user: CurrentUser, month: str) -> ComplaintSummary:
    site = await site_of(session)
    tz = ZoneInfo(site.timezone)
    start, end = month_bounds(month, tz)
    query = scope.visible(
        select(Ticket, Building.slug)
        .outerjoin(Building, Building.id == Ticket.building_id)
        .where(Ticket.kind == "complaint", Ticket.opened_at >= start, Ticket.opened_at < end),
        user,
    )
    buckets: dict[tuple[str, str, str], _Bucket] = defaultdict(_Bucket)
    total = 0
    for ticket, building_slug in await session.execute(query):
        total += 1
        bucket = buckets[
            (
                ticket.classification or "unclassified",
                ticket.department or "customer_service",
                building_slug or "-",
            )
        ]
        bucket.received += 1
        if ticket.resolved_at is not None:
            bucket.resolved += 1
            if ticket.resolve_due_at is None or ticket.resolved_at <= ticket.resolve_due_at:
                bucket.on_time += 1
        elif ticket.status in ACTIVE_STATUSES:
            bucket.still_open += 1
        if ticket.satisfaction is not None:
            bucket.followed_up += 1
            bucket.satisfaction_sum += ticket.satisfaction
    rows = [
        SummaryRow(
            classification=c,
            department=d,
            building=b,
            received=v.received,
            resolved=v.resolved,
            resolved_on_time=v.on_time,
            on_time_rate=round(v.on_time / v.resolved, 4) if v.resolved else None,
            still_open=v.still_open,
            followed_up=v.followed_up,
            average_satisfaction=round(v.satisfaction_sum / v.followed_up, 2) if v.followed_up else None,
        )
        for (c, d, b), v in sorted(buckets.items())
    ]
    return ComplaintSummary(
        site=site.slug,
        month=month,
        period_start=start,
        period_end=end,
        due_on=start.date().replace(day=MONTHLY_REPORT_DAY),
        total=total,
        rows=rows,
    )
