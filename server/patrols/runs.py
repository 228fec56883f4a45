"""Store one completed checklist: answers, defect tickets, the water-meter cross-check."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.attachments.models import Attachment
from server.auth.schemas import CurrentUser
from server.devices.readings import check_register, latest_reading
from server.errors import InvalidInput
from server.estates.models import Building, Unit
from server.patrols import templates
from server.patrols.models import Checkpoint, FlagKind, PatrolAnswer, PatrolFlag, PatrolRun
from server.patrols.schemas import Answer, RunPayload
from server.patrols.templates import ChecklistTemplate
from server.tickets import lifecycle
from server.tickets.schemas_write import TicketCreate

# Defect tickets get ids derived from (run, item): even a run stored twice by some
# future path could not open a second ticket for the same defect.
_DEFECT_NS = uuid.UUID("6f7c1c1e-3c55-4c39-9d0a-5f1f0c7a9e01")


def validate_answers(template: ChecklistTemplate, answers: list[Answer]) -> dict[str, Answer]:
    """Answers by item key; raises InvalidInput naming the first item at fault."""
    by_key: dict[str, Answer] = {}
    for answer in answers:
        item = template.item(answer.item)
        if item is None:
            raise InvalidInput.at(f"answers.{answer.item}", f"{template.name} has no item {answer.item}.",
                                  "unknown item")
        if answer.item in by_key:
            raise InvalidInput.at(f"answers.{answer.item}", f"Item {answer.item} answered twice.", "twice")
        by_key[answer.item] = answer
    for item in template.items:
        found = by_key.get(item.key)
        given = found is not None and {
            "check": found.status, "number": found.number, "text": found.text or None,
            "photo": found.photo_id}[item.type] is not None
        if item.required and not given:
            raise InvalidInput.at(f"answers.{item.key}", f"Answer {item.key} ({item.zh}).", "required")
        if found is not None and found.status == "defect" and (not found.note or not found.photo_id):
            # A defect needs a note and a photo (issue 5): the department must see what is wrong.
            raise InvalidInput.at(f"answers.{item.key}", f"Defect at {item.key} needs a note and a photo.",
                                  "defect without note or photo")
    return by_key


async def store_run(session: AsyncSession, user: CurrentUser, checkpoint: Checkpoint, run_id: str,
                    device_id: str, payload: RunPayload, now: datetime, client: str,
                    readings: dict[tuple[int, str], float | None] | None = None,
                    ) -> tuple[dict[str, Any], list[lifecycle.Outcome]]:
    """Store a run and its answers, open one ticket per defect, flag a meter mismatch.

    ``readings`` caches the smart meters' latest values for the length of one sync batch.
    """
    template = templates.get(payload.template, payload.template_version)
    if template is None:
        raise InvalidInput.at("payload.template", f"No checklist {payload.template} "
                              f"v{payload.template_version}.", "unknown template")
    answers = validate_answers(template, payload.answers)
    photos = [a.photo_id for a in answers.values() if a.photo_id]
    if photos:
        found = set(await session.scalars(select(Attachment.id).where(Attachment.id.in_(photos))))
        missing = [p for p in photos if p not in found]
        if missing:
            raise InvalidInput.at("answers.photo_id", f"Upload the photos first: {', '.join(missing)}.",
                                  "photo not uploaded")
    building = await session.get(Building, checkpoint.building_id)
    unit = await session.get(Unit, checkpoint.unit_id) if checkpoint.unit_id else None
    actor = lifecycle.Actor(user, client)
    outcomes: list[lifecycle.Outcome] = []
    tickets: dict[str, int] = {}
    for key, answer in answers.items():
        if answer.status == "defect":
            outcome = await _defect_ticket(session, actor, template, key, answer, checkpoint, building,
                                           unit, run_id, payload, now)
            outcomes.append(outcome)
            tickets[key] = outcome.ticket_id
    flags = await _meter_flags(session, user, checkpoint, template, answers, run_id, device_id, now,
                               {} if readings is None else readings)
    if payload.via == "manual":
        flags.append(PatrolFlag(kind=FlagKind.MANUAL_ENTRY, user_id=user.id, device_id=device_id,
                                checkpoint_id=checkpoint.id, run_id=run_id, at=now, detail={}))
    # Core inserts: a sync carries hundreds of runs, and ORM unit-of-work per run is the cost.
    await session.execute(insert(PatrolRun), [{
        "id": run_id, "checkpoint_id": checkpoint.id, "user_id": user.id, "device_id": device_id,
        "template": template.name, "template_version": template.version, "via": payload.via,
        "started_at": payload.started_at, "finished_at": payload.finished_at, "received_at": now,
        "defects": len(outcomes), "flagged": bool(flags)}])
    rows = [{"run_id": run_id, "item": key, "status": a.status, "number": a.number, "text": a.text,
             "note": a.note, "photo_id": a.photo_id, "ticket_id": tickets.get(key)}
            for key, a in answers.items()]
    if rows:
        await session.execute(insert(PatrolAnswer), rows)
    session.add_all(flags)
    return ({"run_id": run_id, "checkpoint_id": checkpoint.id,
             "tickets": [o.ticket_id for o in outcomes], "flags": [f.kind for f in flags]}, outcomes)


async def _defect_ticket(session: AsyncSession, actor: lifecycle.Actor, template: ChecklistTemplate,
                         key: str, answer: Answer, checkpoint: Checkpoint, building: Building | None,
                         unit: Unit | None, run_id: str, payload: RunPayload, now: datetime
                         ) -> lifecycle.Outcome:
    item = template.item(key)
    assert item is not None  # validated above
    data = TicketCreate(
        kind="patrol_defect", source="patrol",
        title=f"巡查缺陷：{checkpoint.label} · {item.zh}"[:200],
        description=answer.note,
        building=building.slug if building else None,
        unit=unit.slug if unit else None,
        department=template.department_for(item),  # type: ignore[arg-type]
        attachment_ids=[answer.photo_id] if answer.photo_id else [],
        client_action_id=str(uuid.uuid5(_DEFECT_NS, f"{run_id}:{key}")),
        device_time=payload.finished_at,
    )
    return await lifecycle.create_ticket(session, actor, data, now)


async def _meter_flags(session: AsyncSession, user: CurrentUser, checkpoint: Checkpoint,
                       template: ChecklistTemplate, answers: dict[str, Answer], run_id: str,
                       device_id: str, now: datetime, readings: dict[tuple[int, str], Any]
                       ) -> list[PatrolFlag]:
    """Proof of presence: the register read off the meter vs the smart meter's last reading."""
    flags: list[PatrolFlag] = []
    if checkpoint.unit_id is None:
        return flags
    for item in template.items:
        answer = answers.get(item.key)
        if item.meter_check is None or answer is None or answer.number is None:
            continue
        cache_key = (checkpoint.unit_id, item.meter_check.quantity)
        if cache_key not in readings:
            found = await latest_reading(session, checkpoint.unit_id, item.meter_check.quantity)
            readings[cache_key] = None if found is None else (found.value, found.ts.isoformat())
        reading = readings[cache_key]
        if reading is None:
            continue  # no smart meter data: nothing to compare with
        smart, smart_at = reading
        if not check_register(answer.number, smart, item.meter_check.tolerance).within:
            flags.append(PatrolFlag(
                kind=FlagKind.METER_MISMATCH, user_id=user.id, device_id=device_id,
                checkpoint_id=checkpoint.id, run_id=run_id, at=now,
                detail={"item": item.key, "read": answer.number, "smart": smart,
                        "smart_at": smart_at, "tolerance": item.meter_check.tolerance}))
    return flags
