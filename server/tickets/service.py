"""Ticket queries within the caller's building scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.auth.models import StaffUser
from server.auth.schemas import CurrentUser
from server.devices.models import Device
from server.errors import NotFound
from server.estates.models import Building, Site, Unit
from server.tickets import scope
from server.tickets.models import Ticket, TicketAudit
from server.tickets.schemas import TicketAuditRead, TicketDetail, TicketPage, TicketRead

_unit = aliased(Unit)
_device = aliased(Device)
_assignee = aliased(StaffUser)
_first_receiver = aliased(StaffUser)


def _base_query(user: CurrentUser) -> Any:  # a Select; its generic form differs across SQLAlchemy 2.x
    query = (
        select(
            Ticket,
            Site.slug,
            Building.slug,
            _unit.slug,
            _device.slug,
            _assignee.display_name,
            _first_receiver.display_name,
        )
        .join(Site, Site.id == Ticket.site_id)
        .outerjoin(Building, Building.id == Ticket.building_id)
        .outerjoin(_unit, _unit.id == Ticket.unit_id)
        .outerjoin(_device, _device.id == Ticket.device_id)
        .outerjoin(_assignee, _assignee.id == Ticket.assignee_id)
        .outerjoin(_first_receiver, _first_receiver.id == Ticket.first_receiver_id)
    )
    # Scope lives in the query, not in the UI: out-of-scope tickets do not exist for this user.
    return scope.visible(query, user)


def _read(row: Any, cls: type[TicketRead] = TicketRead, **extra: Any) -> Any:
    t, site, building, unit, device, assignee_name, first_receiver_name = row
    return cls(
        id=t.id,
        kind=t.kind,
        type=t.type,
        severity=t.severity,
        status=t.status,
        source=t.source,
        title=t.title,
        description=t.description,
        site=site,
        building=building,
        unit=unit,
        device=device,
        occurrences=t.occurrences,
        assignee_id=t.assignee_id,
        first_receiver_id=t.first_receiver_id,
        opened_at=t.opened_at,
        updated_at=t.updated_at,
        last_seen_at=t.last_seen_at,
        acknowledged_at=t.acknowledged_at,
        dispatched_at=t.dispatched_at,
        on_site_at=t.on_site_at,
        cleared_at=t.cleared_at,
        resolved_at=t.resolved_at,
        closed_at=t.closed_at,
        ack_due_at=t.ack_due_at,
        on_site_due_at=t.on_site_due_at,
        resolve_due_at=t.resolve_due_at,
        requester_name=t.requester_name,
        requester_phone=t.requester_phone,
        needs_on_site=t.needs_on_site,
        department=t.department,
        handed_to_department_at=t.handed_to_department_at,
        department_due_at=t.department_due_at,
        classification=t.classification,
        answer_due_at=t.answer_due_at,
        answered_at=t.answered_at,
        promised_at=t.promised_at,
        postponements=t.postponements,
        delay_announced_at=t.delay_announced_at,
        follow_up_due_at=t.follow_up_due_at,
        followed_up_at=t.followed_up_at,
        satisfaction=t.satisfaction,
        escalation_level=t.escalation_level,
        resolution_note=t.resolution_note,
        context=t.context or {},
        assignee_name=assignee_name,
        first_receiver_name=first_receiver_name,
        **extra,
    )


async def list_tickets(
    session: AsyncSession,
    user: CurrentUser,
    *,
    status: list[str] | None,
    kind: list[str] | None,
    building: str | None,
    since: datetime | None,
    limit: int,
    offset: int,
    assignee_id: int | None = None,
) -> TicketPage:
    query = _base_query(user)
    if assignee_id is not None:
        query = query.where(Ticket.assignee_id == assignee_id)
    if status:
        query = query.where(Ticket.status.in_(status))
    if kind:
        query = query.where(Ticket.kind.in_(kind))
    if building is not None:
        query = query.where(Building.slug == building)
    if since is not None:
        query = query.where(Ticket.updated_at >= since)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Ticket.opened_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
    )
    return TicketPage(items=[_read(r) for r in rows], total=total, limit=limit, offset=offset)


async def get_ticket(session: AsyncSession, user: CurrentUser, ticket_id: int) -> TicketDetail:
    row = (await session.execute(_base_query(user).where(Ticket.id == ticket_id))).first()
    if row is None:
        raise NotFound(f"No ticket {ticket_id} in your buildings.", code="ticket.not_found")
    audit = (
        await session.execute(
            select(TicketAudit, StaffUser.display_name)
            .outerjoin(StaffUser, StaffUser.id == TicketAudit.actor_id)
            .where(TicketAudit.ticket_id == ticket_id)
            .order_by(TicketAudit.id)
        )
    ).all()
    entries = [
        TicketAuditRead(
            at=a.at, actor=a.actor, client=a.client, action=a.action, detail=a.detail, actor_name=name
        )
        for a, name in audit
    ]
    return _read(  # type: ignore[no-any-return,unused-ignore]
        row, TicketDetail, audit=entries, staff_names=await _staff_names(session, entries)
    )


async def _staff_names(session: AsyncSession, entries: list[TicketAuditRead]) -> dict[str, str]:
    """Display names of everyone the trail names: its actors and the assignees of dispatch steps."""
    names = {e.actor: e.actor_name for e in entries if e.actor_name}
    wanted = {str(e.detail["assignee"]) for e in entries if isinstance(e.detail.get("assignee"), str)}
    wanted -= set(names)
    if wanted:
        rows = await session.execute(
            select(StaffUser.username, StaffUser.display_name).where(StaffUser.username.in_(wanted))
        )
        names.update(dict(rows.all()))
    return names


async def tickets_by_id(session: AsyncSession, user: CurrentUser, ids: set[int]) -> dict[int, TicketRead]:
    """Current state of these tickets, as far as the caller may see them."""
    if not ids:
        return {}
    rows = await session.execute(_base_query(user).where(Ticket.id.in_(ids)))
    return {r[0].id: _read(r) for r in rows}
