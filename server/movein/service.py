"""Move-in queries within the caller's building scope: lists, one inspection, what is due, units."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.schemas import CurrentUser
from server.errors import NotFound
from server.estates.models import AccessCard, Building, Resident, ResidentRole, Unit, UnitState
from server.movein import templates
from server.movein.models import MoveInAnswer, MoveInInspection, MoveInReading, Stage
from server.movein.schemas import (
    AnswerRead,
    CardRead,
    DueTicket,
    MoveInDue,
    MoveInDueList,
    MoveInPage,
    MoveInRead,
    MoveInSummary,
    Proxy,
    ReadingRead,
    UnitChoice,
    UnitChoicePage,
    UtilityCards,
)
from server.tickets.models import ACTIVE_STATUSES, Ticket, TicketStatus

# A rectification no longer needs anyone: what is left to do is the second inspection.
DONE_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.FOLLOWED_UP, TicketStatus.CLOSED,
                           TicketStatus.CANCELLED})


def _scoped(query: Any, user: CurrentUser) -> Any:
    if user.building_ids is not None:
        query = query.where(MoveInInspection.building_id.in_(user.building_ids))
    return query


async def list_inspections(session: AsyncSession, user: CurrentUser, *, building: str | None,
                           unit: str | None, stage: str | None, limit: int, offset: int) -> MoveInPage:
    query = _scoped(select(MoveInInspection, Unit.slug, Building.slug)
                    .join(Unit, Unit.id == MoveInInspection.unit_id)
                    .join(Building, Building.id == MoveInInspection.building_id), user)
    if building is not None:
        query = query.where(Building.slug == building)
    if unit is not None:
        query = query.where(Unit.slug == unit)
    if stage is not None:
        query = query.where(MoveInInspection.stage == stage)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(MoveInInspection.handed_over_at.desc(), MoveInInspection.id)
                                 .limit(limit).offset(offset))
    items = [MoveInSummary(id=i.id, unit=u, building=b, stage=i.stage, owner_name=i.owner_name,
                           proxy_name=i.proxy_name, inspector=i.inspector_name,
                           handed_over_at=i.handed_over_at, received_at=i.received_at, defects=i.defects,
                           flagged=i.flagged, first_inspection_id=i.first_inspection_id)
             for i, u, b in rows]
    return MoveInPage(items=items, total=total, limit=limit, offset=offset)


@dataclass
class InspectionRecord:
    """Everything stored about one inspection, for the API and the PDF form."""

    inspection: MoveInInspection
    unit: Unit
    building: Building
    answers: list[MoveInAnswer]
    readings: list[MoveInReading]
    tickets: dict[int, Ticket]
    cards: dict[str, AccessCard]
    second_ids: list[str]


async def inspection_record(session: AsyncSession, user: CurrentUser, inspection_id: str) -> InspectionRecord:
    """One inspection in the caller's buildings; another building's answers 404 like an unknown one."""
    row = (await session.execute(_scoped(
        select(MoveInInspection, Unit, Building)
        .join(Unit, Unit.id == MoveInInspection.unit_id)
        .join(Building, Building.id == MoveInInspection.building_id)
        .where(MoveInInspection.id == inspection_id.lower()), user))).first()
    if row is None:
        raise NotFound(f"No move-in inspection {inspection_id} in your buildings.")
    inspection, unit, building = row
    answers = list(await session.scalars(select(MoveInAnswer).where(
        MoveInAnswer.inspection_id == inspection.id).order_by(MoveInAnswer.id)))
    readings = list(await session.scalars(select(MoveInReading).where(
        MoveInReading.inspection_id == inspection.id).order_by(MoveInReading.id)))
    ticket_ids = {t for t in [a.ticket_id for a in answers] + [r.ticket_id for r in readings] if t}
    tickets = {t.id: t for t in await session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))}
    cards = {c.card_number: c for c in await session.scalars(select(AccessCard).where(
        AccessCard.site_id == inspection.site_id, AccessCard.card_number.in_(inspection.access_cards)))}
    second_ids = list(await session.scalars(select(MoveInInspection.id).where(
        MoveInInspection.first_inspection_id == inspection.id).order_by(MoveInInspection.handed_over_at)))
    return InspectionRecord(inspection, unit, building, answers, readings, tickets, cards, second_ids)


def inspection_read(record: InspectionRecord, due: str | None) -> MoveInRead:
    i = record.inspection
    template = templates.get(i.template, i.template_version)
    labels: dict[str, tuple[str | None, str, str]] = {}
    if template is not None:
        for section in template.sections:
            for entry in section.items:
                labels[entry.key] = (section.key, entry.zh, entry.en)

    def status_of(ticket_id: int | None) -> str | None:
        ticket = record.tickets.get(ticket_id) if ticket_id else None
        return ticket.status if ticket else None

    answers = [AnswerRead(item=a.item, section=labels.get(a.item, (None, a.item, a.item))[0],
                          zh=labels.get(a.item, (None, a.item, a.item))[1],
                          en=labels.get(a.item, (None, a.item, a.item))[2], status=a.status, note=a.note,
                          photo_id=a.photo_id, ticket_id=a.ticket_id, ticket_status=status_of(a.ticket_id))
               for a in record.answers]
    readings = [ReadingRead(quantity=r.quantity, uom=r.uom, typed=r.typed_value, photo_id=r.photo_id,
                            smart=r.smart_value, smart_at=r.smart_at, smart_device=r.smart_device,
                            difference=r.difference, tolerance=r.tolerance, status=r.status,
                            opening=r.opening_value, ticket_id=r.ticket_id,
                            ticket_status=status_of(r.ticket_id))
                for r in record.readings]
    cards = []
    for number in i.access_cards:
        card = record.cards.get(number)
        cards.append(CardRead(card_number=number, registered=card is not None and card.revoked_at is None
                              and card.unit_id == i.unit_id))
    proxy = None if i.proxy_name is None else Proxy(
        name=i.proxy_name, phone=i.proxy_phone, power_of_attorney=i.power_of_attorney or "",
        attachment_id=i.proxy_attachment_id)
    return MoveInRead(
        id=i.id, unit=record.unit.slug, building=record.building.slug, stage=i.stage,
        first_inspection_id=i.first_inspection_id, second_inspection_ids=record.second_ids,
        owner_name=i.owner_name, owner_phone=i.owner_phone, resident_id=i.resident_id, proxy=proxy,
        staff=list(i.staff), inspector_id=i.inspector_id, inspector=i.inspector_name, device_id=i.device_id,
        template=i.template, template_version=i.template_version, started_at=i.started_at,
        handed_over_at=i.handed_over_at, device_time=i.device_time, received_at=i.received_at, keys=i.keys,
        access_cards=cards,
        utility_cards=UtilityCards(electricity=i.electricity_card, water=i.water_card, gas=i.gas_card),
        owner_signature_id=i.owner_signature_id, staff_signature_id=i.staff_signature_id, note=i.note,
        answers=answers, readings=readings,
        ticket_ids=sorted(t for t in [a.ticket_id for a in answers] + [r.ticket_id for r in readings] if t),
        due=due)


async def due(session: AsyncSession, user: CurrentUser, now: datetime, *, unit_id: int | None = None
              ) -> MoveInDueList:
    """Units whose second inspection is due, then move-ins whose rectifications are still open.

    The latest inspection of a unit decides: once every defect it found is rectified (resolved,
    followed up, closed — or cancelled, as long as one was actually fixed), a second inspection
    is due; recording one (stage ``second``) makes it the latest, which clears the item unless
    it found new defects. A flagged meter reading's ticket is listed but does not hold the
    second inspection back: engineering checks the meter, the owner need not be there.
    """
    query = _scoped(select(MoveInInspection, Unit.slug, Building.slug)
                    .join(Unit, Unit.id == MoveInInspection.unit_id)
                    .join(Building, Building.id == MoveInInspection.building_id), user)
    if unit_id is not None:
        query = query.where(MoveInInspection.unit_id == unit_id)
    latest: dict[int, tuple[MoveInInspection, str, str]] = {}
    # Latest by handover time, then by receive time (two on one day: the later synced wins).
    for inspection, unit_slug, building_slug in await session.execute(
            query.order_by(MoveInInspection.handed_over_at, MoveInInspection.received_at)):
        latest[inspection.unit_id] = (inspection, unit_slug, building_slug)
    candidates = {i.id: i for i, _, _ in latest.values() if i.defects or i.flagged}
    links: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for inspection_id, item, ticket_id in await session.execute(
            select(MoveInAnswer.inspection_id, MoveInAnswer.item, MoveInAnswer.ticket_id).where(
                MoveInAnswer.inspection_id.in_(candidates), MoveInAnswer.ticket_id.is_not(None))):
        if ticket_id is not None:
            links[inspection_id].append((item, ticket_id))
    for inspection_id, quantity, ticket_id in await session.execute(
            select(MoveInReading.inspection_id, MoveInReading.quantity, MoveInReading.ticket_id).where(
                MoveInReading.inspection_id.in_(candidates), MoveInReading.ticket_id.is_not(None))):
        if ticket_id is not None:
            links[inspection_id].append((f"meter:{quantity}", ticket_id))
    ids = {t for pairs in links.values() for _, t in pairs}
    tickets = {t.id: t for t in await session.scalars(select(Ticket).where(Ticket.id.in_(ids)))}
    items: list[MoveInDue] = []
    for inspection, unit_slug, building_slug in latest.values():
        pairs = [(item, tickets[t]) for item, t in links.get(inspection.id, []) if t in tickets]
        if not pairs:
            continue
        defects = [t for item, t in pairs if not item.startswith("meter:")]
        fixed = [t for t in defects if t.status in DONE_STATUSES and t.status != TicketStatus.CANCELLED]
        kind: str | None = None
        if defects and all(t.status in DONE_STATUSES for t in defects) and fixed:
            kind = "second_inspection"
        elif any(t.status in ACTIVE_STATUSES for _, t in pairs):
            kind = "rectification_open"
        if kind is None:
            continue
        resolved = [t.resolved_at or t.closed_at for t in fixed]
        items.append(MoveInDue(
            unit=unit_slug, unit_id=inspection.unit_id, building=building_slug,
            owner_name=inspection.owner_name, inspection_id=inspection.id,
            first_inspection_id=inspection.first_inspection_id or inspection.id, stage=inspection.stage,
            handed_over_at=inspection.handed_over_at, due=kind,  # type: ignore[arg-type]
            since=max((r for r in resolved if r is not None), default=None) if kind == "second_inspection"
            else None,
            tickets=[DueTicket(id=t.id, status=t.status, title=t.title, item=item) for item, t in pairs]))
    items.sort(key=lambda d: (d.due != "second_inspection", d.since or d.handed_over_at, d.unit))
    return MoveInDueList(now=now, items=items)


async def due_of(session: AsyncSession, user: CurrentUser, inspection: MoveInInspection, now: datetime
                 ) -> str | None:
    """What is due for this inspection, if it is its unit's latest (else None)."""
    found = await due(session, user, now, unit_id=inspection.unit_id)
    return next((d.due for d in found.items if d.inspection_id == inspection.id), None)


async def unit_choices(session: AsyncSession, user: CurrentUser, *, q: str | None, building: str | None,
                       limit: int, offset: int) -> UnitChoicePage:
    """Units in the caller's buildings for the phone's unit picker: vacant ones first."""
    query = select(Unit, Building.slug).join(Building, Building.id == Unit.building_id)
    if user.building_ids is not None:
        query = query.where(Unit.building_id.in_(user.building_ids))
    if building is not None:
        query = query.where(Building.slug == building)
    text = (q or "").strip()
    if text:
        owners = select(Resident.unit_id).where(Resident.name.contains(text, autoescape=True))
        query = query.where(or_(Unit.slug.contains(text.lower(), autoescape=True), Unit.id.in_(owners)))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    vacant_first = case((Unit.state == UnitState.VACANT, 0), else_=1)
    rows = list(await session.execute(query.order_by(vacant_first, Building.slug, Unit.slug)
                                      .limit(limit).offset(offset)))
    unit_ids = [u.id for u, _ in rows]
    owners_by_unit: dict[int, str] = {}
    for unit_id, name in await session.execute(
            select(Resident.unit_id, Resident.name).where(
                Resident.unit_id.in_(unit_ids), Resident.role == ResidentRole.OWNER).order_by(Resident.id)):
        owners_by_unit.setdefault(unit_id, name)
    handovers: dict[int, str] = {}
    for unit_id, inspection_id in await session.execute(
            select(MoveInInspection.unit_id, MoveInInspection.id).where(
                MoveInInspection.unit_id.in_(unit_ids), MoveInInspection.stage == Stage.HANDOVER)
            .order_by(MoveInInspection.handed_over_at)):
        handovers[unit_id] = inspection_id
    items = [UnitChoice(id=u.id, slug=u.slug, building=b, floor=u.floor, number=u.number, state=u.state,
                        handed_over_on=u.handed_over_on, owner=owners_by_unit.get(u.id),
                        handover_inspection_id=handovers.get(u.id)) for u, b in rows]
    return UnitChoicePage(items=items, total=total, limit=limit, offset=offset)
