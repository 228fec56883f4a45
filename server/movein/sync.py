"""Stores a move-in inspection replayed from the phone's outbox (``kind: move_in``).

One item is one signed 房屋验收表 (domain.md, move-in 4–6): the checklist answers, the meter
base readings cross-checked with the smart meters, the keys and cards handed over, both
signatures. At handover the unit becomes occupied and the owner a resident; every access
card is registered to them, so later swipes are attributed to the unit. Each defect opens
one rectification ticket to engineering; when they are all resolved a second inspection is
due (server.movein.service.due). The whole item runs in the sync's savepoint: any refusal
leaves nothing behind.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from server.attachments.models import Attachment
from server.auth.models import Role
from server.devices import readings as meters
from server.devices.models import Device
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.estates.models import AccessCard, Building, Resident, ResidentRole, Site, Unit, UnitState
from server.movein import templates
from server.movein.models import MoveInAnswer, MoveInInspection, MoveInReading, ReadingStatus, Stage
from server.movein.schemas import MeterBase, MoveInPayload
from server.patrols.models import Checkpoint
from server.patrols.runs import validate_answers
from server.patrols.tags import BadTag, verify_tag
from server.tickets import lifecycle
from server.tickets.models import Ticket
from server.tickets.schemas_write import TicketCreate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from server.auth.schemas import CurrentUser
    from server.patrols.schemas import SyncItem
    from server.patrols.sync import SyncContext
    from server.tickets.lifecycle import Outcome

# Who records an inspection on the phone: the building specialist, engineering, or someone
# standing in for them. The desk reads it but does not inspect.
INSPECTOR_ROLES = (Role.SPECIALIST, Role.ENGINEER, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
# Ticket ids derived from (inspection, item): a stored inspection can never open a second
# ticket for the same defect or reading.
_TICKET_NS = uuid.UUID("a4d0c1f2-7b3e-4c55-9a61-2f0e8d7c6b15")
_UOM = {"m3": "m³", "kWh": "kWh"}


async def store_move_in(ctx: SyncContext, item: SyncItem) -> tuple[dict[str, Any], list[Outcome]]:
    """Store one inspection; returns the item's result (see README: move-in sync) and its tickets."""
    from server.patrols.sync import decode_payload  # that module imports this one lazily

    payload = decode_payload(item.payload, MoveInPayload)
    if not ctx.user.has_role(*INSPECTOR_ROLES):
        raise Forbidden("Your role may not record move-in inspections.")
    _check_times(payload)
    session = ctx.session
    unit, building = await _unit_in_scope(session, ctx.user, payload.unit)
    if payload.tag is not None:
        await _check_tag(session, ctx.tag_key, payload.tag, unit)
    template = templates.get(payload.template, payload.template_version)
    if template is None:
        raise InvalidInput.at("payload.template", f"No move-in checklist {payload.template} "
                              f"v{payload.template_version}.", "unknown template")
    answers = validate_answers(template.checklist, payload.answers)
    _check_readings(payload)
    await _check_attachments(session, payload)
    first = await _handover_of(session, unit.id)
    if payload.stage == Stage.HANDOVER and first is not None:
        raise Conflict(f"Unit {unit.slug} was already handed over (inspection {first.id}); record a "
                       "second inspection instead. Nothing was changed.", inspection_id=first.id)
    if payload.stage == Stage.SECOND and first is None:
        raise InvalidInput.at("payload.stage", f"Unit {unit.slug} has no handover inspection yet; record "
                              "the handover first.", "no handover")
    site = await session.get(Site, building.site_id)
    tz = ZoneInfo(site.timezone if site else "Asia/Shanghai")
    resident = await _owner(session, unit, payload, tz, first)
    await _register_cards(session, ctx.user, building.site_id, unit, resident, payload)
    if payload.stage == Stage.HANDOVER:
        _hand_over(unit, payload, tz)

    inspection = MoveInInspection(
        id=item.id.lower(), site_id=building.site_id, building_id=building.id, unit_id=unit.id,
        stage=payload.stage, first_inspection_id=first.id if first else None, owner_name=payload.owner_name,
        owner_phone=payload.owner_phone, resident_id=resident.id,
        proxy_name=payload.proxy.name if payload.proxy else None,
        proxy_phone=payload.proxy.phone if payload.proxy else None,
        power_of_attorney=payload.proxy.power_of_attorney if payload.proxy else None,
        proxy_attachment_id=_lower(payload.proxy.attachment_id) if payload.proxy else None,
        staff=list(payload.staff), inspector_id=ctx.user.id, inspector_name=ctx.user.display_name,
        device_id=ctx.batch.device_id, template=template.name, template_version=template.version,
        started_at=payload.started_at, handed_over_at=payload.handed_over_at, device_time=item.device_time,
        received_at=ctx.now, keys=payload.keys, access_cards=list(payload.access_cards),
        electricity_card=payload.utility_cards.electricity, water_card=payload.utility_cards.water,
        gas_card=payload.utility_cards.gas, owner_signature_id=payload.owner_signature_id.lower(),
        staff_signature_id=payload.staff_signature_id.lower(), note=payload.note, defects=0, flagged=0)
    session.add(inspection)
    await session.flush()

    actor = lifecycle.Actor(ctx.user, ctx.client)
    outcomes: list[Outcome] = []
    answer_rows = []
    defect_tickets: list[int] = []
    for key, answer in answers.items():
        ticket_id = None
        if answer.status == "defect":
            entry = template.checklist.item(key)
            assert entry is not None  # validated above
            outcome = await _ticket(session, actor, ctx.now, inspection, unit, building, resident, payload,
                                    key=key, title=f"入伙整改：{unit.slug} · {entry.zh}",
                                    description=answer.note,
                                    department=template.checklist.department_for(entry),
                                    photo_id=_lower(answer.photo_id), context={"item": key})
            outcomes.append(outcome)
            ticket_id = outcome.ticket_id
            defect_tickets.append(ticket_id)
        answer_rows.append({"inspection_id": inspection.id, "item": key, "status": answer.status,
                            "note": answer.note, "photo_id": _lower(answer.photo_id), "ticket_id": ticket_id})
    if answer_rows:
        await session.execute(insert(MoveInAnswer), answer_rows)

    reading_results = []
    for base in payload.readings:
        reading, meter_outcome = await _reading(session, actor, ctx.now, inspection, unit, building,
                                                resident, payload, base, tz)
        if meter_outcome is not None:
            outcomes.append(meter_outcome)
        reading_results.append({"quantity": reading.quantity, "status": reading.status,
                                "typed": reading.typed_value, "smart": reading.smart_value,
                                "difference": reading.difference, "ticket_id": reading.ticket_id})
    inspection.defects = len(defect_tickets)
    inspection.flagged = sum(1 for r in reading_results if r["status"] == ReadingStatus.FLAGGED)
    return ({"inspection_id": inspection.id, "unit": unit.slug, "stage": inspection.stage,
             "resident_id": resident.id, "tickets": defect_tickets, "readings": reading_results,
             "cards": list(payload.access_cards), "first_inspection_id": inspection.first_inspection_id},
            outcomes)


def _lower(attachment_id: str | None) -> str | None:
    # Attachments are stored under the lower-case UUID (server.attachments.routes).
    return attachment_id.lower() if attachment_id else None


def _check_times(payload: MoveInPayload) -> None:
    for name, value in (("started_at", payload.started_at), ("handed_over_at", payload.handed_over_at)):
        if value.tzinfo is None:
            raise InvalidInput.at(f"payload.{name}", f"{name} needs a UTC offset, e.g. "
                                  "2026-11-26T10:00:00+08:00.", "no offset")


async def _unit_in_scope(session: AsyncSession, user: CurrentUser, slug: str) -> tuple[Unit, Building]:
    # The unit's row is locked (PostgreSQL) for the item: two phones handing over one unit at
    # once are serialised, and the second finds the first's handover.
    row = (await session.execute(select(Unit, Building).join(Building, Building.id == Unit.building_id)
                                 .where(Unit.slug == slug).with_for_update(of=Unit))).first()
    if row is None or not user.may_see_building(row[1].id):
        # Another building's unit answers like an unknown one: scope is not to be probed.
        raise NotFound(f"No unit {slug} in your buildings.",
                       errors=[{"field": "payload.unit", "source": "body", "message": "unknown unit"}])
    return row[0], row[1]


async def _check_tag(session: AsyncSession, key: bytes, tag: str, unit: Unit) -> None:
    try:
        checkpoint_id = verify_tag(key, tag)
    except BadTag as exc:
        raise InvalidInput.at("payload.tag", f"Tag refused: {exc}.", "bad tag") from None
    checkpoint = await session.get(Checkpoint, checkpoint_id)
    if checkpoint is None or checkpoint.unit_id != unit.id:
        raise InvalidInput.at("payload.tag", f"The scanned tag is not unit {unit.slug}'s.", "other unit")


def _check_readings(payload: MoveInPayload) -> None:
    seen: set[str] = set()
    for base in payload.readings:
        if base.quantity in seen:
            raise InvalidInput.at(f"payload.readings.{base.quantity}", f"The {base.quantity} meter is "
                                  "read twice.", "twice")
        seen.add(base.quantity)
    if payload.stage == Stage.HANDOVER:
        for policy in templates.meter_policies().meters:
            if policy.required and policy.quantity not in seen:
                raise InvalidInput.at(f"payload.readings.{policy.quantity}", f"Read the {policy.en.lower()} "
                                      f"({policy.zh}) at handover, with a photo.", "required")


async def _check_attachments(session: AsyncSession, payload: MoveInPayload) -> None:
    """Every photo and signature must have been uploaded first (PUT /api/attachments/{id})."""
    wanted: list[tuple[str, str]] = [("payload.owner_signature_id", payload.owner_signature_id),
                                     ("payload.staff_signature_id", payload.staff_signature_id)]
    if payload.proxy is not None and payload.proxy.attachment_id:
        wanted.append(("payload.proxy.attachment_id", payload.proxy.attachment_id))
    wanted += [(f"payload.readings.{r.quantity}.photo_id", r.photo_id) for r in payload.readings]
    wanted += [(f"payload.answers.{a.item}.photo_id", a.photo_id) for a in payload.answers if a.photo_id]
    ids = {attachment_id.lower() for _, attachment_id in wanted}
    found = set(await session.scalars(select(Attachment.id).where(Attachment.id.in_(ids))))
    missing = [(f, i) for f, i in wanted if i.lower() not in found]
    if missing:
        raise InvalidInput(
            "Upload the photos and signatures first: " + ", ".join(f"{f} ({i})" for f, i in missing) + ".",
            errors=[{"field": f, "source": "body", "message": "not uploaded"} for f, _ in missing])


async def _handover_of(session: AsyncSession, unit_id: int) -> MoveInInspection | None:
    return await session.scalar(select(MoveInInspection).where(
        MoveInInspection.unit_id == unit_id, MoveInInspection.stage == Stage.HANDOVER)
        .order_by(MoveInInspection.handed_over_at.desc()).limit(1))


async def _owner(session: AsyncSession, unit: Unit, payload: MoveInPayload, tz: ZoneInfo,
                 first: MoveInInspection | None) -> Resident:
    """The owner as a resident of the unit: found by name (idempotent), else added."""
    if first is not None and first.resident_id is not None and first.owner_name == payload.owner_name:
        found = await session.get(Resident, first.resident_id)
        if found is not None:
            return found
    resident = await session.scalar(select(Resident).where(
        Resident.unit_id == unit.id, Resident.role == ResidentRole.OWNER, Resident.name == payload.owner_name)
        .order_by(Resident.id).limit(1))
    moved_in = payload.handed_over_at.astimezone(tz).date()
    if resident is None:
        resident = Resident(unit_id=unit.id, name=payload.owner_name, phone=payload.owner_phone,
                            role=ResidentRole.OWNER, moved_in_on=moved_in)
        session.add(resident)
        await session.flush()
        return resident
    resident.phone = resident.phone or payload.owner_phone
    if payload.stage == Stage.HANDOVER:
        resident.moved_in_on = resident.moved_in_on or moved_in
    return resident


async def _register_cards(session: AsyncSession, user: CurrentUser, site_id: int, unit: Unit,
                          resident: Resident, payload: MoveInPayload) -> None:
    """Register each access card to the unit and owner; a card held for another unit is a 409."""
    if len(set(payload.access_cards)) != len(payload.access_cards):
        raise InvalidInput.at("payload.access_cards", "A card number is listed twice.", "twice")
    if not payload.access_cards:
        return
    existing = {c.card_number: c for c in await session.scalars(select(AccessCard).where(
        AccessCard.site_id == site_id, AccessCard.card_number.in_(payload.access_cards)))}
    for number in payload.access_cards:
        card = existing.get(number)
        if card is not None and card.revoked_at is None and card.unit_id != unit.id:
            other = await session.get(Unit, card.unit_id) if card.unit_id else None
            visible = other is not None and user.may_see_building(other.building_id)
            where = (f"unit {other.slug}" if visible and other is not None
                     else "another unit" if other is not None else "another holder")
            raise Conflict(f"Access card {number} is registered to {where}; revoke it there first. "
                           "Nothing was changed.", card_number=number,
                           errors=[{"field": "payload.access_cards", "source": "body",
                                    "message": "registered elsewhere"}])
    try:
        # Its own savepoint, so a lost race on the unique (site, card) key is a clean 409.
        async with session.begin_nested():
            for number in payload.access_cards:
                card = existing.get(number)
                if card is None:
                    session.add(AccessCard(site_id=site_id, card_number=number, unit_id=unit.id,
                                           resident_id=resident.id, holder=payload.owner_name,
                                           issued_at=payload.handed_over_at))
                    continue
                if card.revoked_at is not None:
                    # A revoked card re-issued: it starts again with this owner.
                    card.issued_at, card.revoked_at = payload.handed_over_at, None
                card.unit_id, card.resident_id, card.holder = unit.id, resident.id, payload.owner_name
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "An access card was registered by someone else just now; sync again.",
            code="client_action.in_flight",
        ) from None


def _hand_over(unit: Unit, payload: MoveInPayload, tz: ZoneInfo) -> None:
    """The unit is occupied from the handover (已入伙); a renovating unit stays renovating."""
    if unit.state == UnitState.VACANT:
        unit.state = UnitState.OCCUPIED
    unit.handed_over_on = unit.handed_over_on or payload.handed_over_at.astimezone(tz).date()


async def _reading(session: AsyncSession, actor: lifecycle.Actor, now: datetime, inspection: MoveInInspection,
                   unit: Unit, building: Building, resident: Resident, payload: MoveInPayload,
                   base: MeterBase, tz: ZoneInfo) -> tuple[MoveInReading, Outcome | None]:
    """The typed register beside the smart meter's reading nearest the handover time."""
    policies = templates.meter_policies()
    policy = policies.get(base.quantity)
    reading = MoveInReading(inspection_id=inspection.id, quantity=base.quantity, uom=policy.uom,
                            typed_value=base.value, photo_id=base.photo_id.lower(),
                            tolerance=policy.tolerance, status=ReadingStatus.NO_METER)
    meter = await meters.unit_meter(session, unit.id, base.quantity)
    if meter is not None:
        reading.smart_device_id, reading.smart_device = meter.id, meter.slug
    smart = await meters.nearest_reading(session, unit.id, base.quantity, payload.handed_over_at)
    if smart is not None and abs(smart.ts - payload.handed_over_at) > timedelta(hours=policies.max_gap_hours):
        smart = None  # the meter went silent: nothing near the handover to compare with
    outcome = None
    if smart is not None:
        device = await session.get(Device, smart.device_id)  # a replaced meter's reading may be nearest
        if device is not None:
            reading.smart_device_id, reading.smart_device = device.id, device.slug
        check = meters.check_register(base.value, smart.value, policy.tolerance)
        reading.smart_value, reading.smart_at, reading.difference = smart.value, smart.ts, check.difference
        reading.status = ReadingStatus.CONFIRMED if check.within else ReadingStatus.FLAGGED
        if not check.within:
            outcome = await _meter_ticket(session, actor, now, inspection, unit, building, resident, payload,
                                          base, smart.ts, check, tz)
            reading.ticket_id = outcome.ticket_id
    if reading.status != ReadingStatus.FLAGGED and inspection.stage == Stage.HANDOVER:
        # Confirmed, or no smart meter to compare with: the register on the photo is the base
        # the owner's consumption starts from (the handbook's paper form had nothing more).
        reading.opening_value = base.value
    session.add(reading)
    return reading, outcome


async def _meter_ticket(session: AsyncSession, actor: lifecycle.Actor, now: datetime,
                        inspection: MoveInInspection, unit: Unit, building: Building, resident: Resident,
                        payload: MoveInPayload, base: MeterBase, smart_at: datetime,
                        check: meters.RegisterCheck, tz: ZoneInfo) -> Outcome:
    """Engineering checks a base reading that disagrees with the smart meter: both values shown."""
    policy = templates.meter_policies().get(base.quantity)
    uom = _UOM.get(policy.uom, policy.uom)
    read, smart = f"{check.read:g}", f"{check.smart:g}"
    diff, tol = f"{check.difference:+g}", f"{check.tolerance:g}"
    return await _ticket(
        session, actor, now, inspection, unit, building, resident, payload, key=f"meter:{base.quantity}",
        title=f"入伙表底核对不符：{unit.slug} {policy.zh} 手抄 {read} {uom} / 智能表 {smart} {uom}",
        description=(f"{policy.zh}：现场抄读 {read} {uom}，智能表 {smart} {uom}（{_local(smart_at, tz)}），"
                     f"相差 {diff} {uom}，允差 ±{tol} {uom}。请工程部核对表具与表底。\n"
                     f"{policy.en}: read {read} {uom} on the register, smart meter {smart} {uom} at "
                     f"{_local(smart_at, tz)}; difference {diff} {uom}, tolerance ±{tol} {uom}. "
                     "Engineering: check the meter and the base reading."),
        department="engineering", photo_id=base.photo_id.lower(),
        context={"quantity": base.quantity, "typed": check.read, "smart": check.smart,
                 "smart_at": smart_at.isoformat(), "difference": check.difference,
                 "tolerance": check.tolerance, "uom": policy.uom})


def _local(at: datetime | None, tz: ZoneInfo) -> str:
    return "?" if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


async def _ticket(session: AsyncSession, actor: lifecycle.Actor, now: datetime, inspection: MoveInInspection,
                  unit: Unit, building: Building, resident: Resident, payload: MoveInPayload, *, key: str,
                  title: str, description: str | None, department: str, photo_id: str | None,
                  context: dict[str, Any]) -> Outcome:
    """One rectification ticket (整改通知) from this inspection, with the photo attached."""
    data = TicketCreate(
        kind="rectification", source="move_in", title=title[:200], description=description,
        building=building.slug, unit=unit.slug, department=department,  # type: ignore[arg-type]
        requester_name=payload.owner_name, requester_phone=payload.owner_phone, resident_id=resident.id,
        attachment_ids=[photo_id] if photo_id else [],
        client_action_id=str(uuid.uuid5(_TICKET_NS, f"{inspection.id}:{key}")),
        device_time=payload.handed_over_at)
    outcome = await lifecycle.create_ticket(session, actor, data, now)
    ticket = await session.get(Ticket, outcome.ticket_id)
    if ticket is not None and not outcome.replayed:
        ticket.context = {"move_in": inspection.id, "stage": inspection.stage, **context}
    return outcome
