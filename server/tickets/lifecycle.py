"""The ticket lifecycle: requests opened by people, and every step taken on any ticket.

new → acknowledged → dispatched → on site → resolved → followed up → closed, with
reopen and cancel; complaints are classified (only a supervisor confirms *invalid*);
a postponement needs a reason and a new promised time, and a second one needs a
supervisor (domain.md: never postpone the same matter twice). Each step is an
audit row and a desk event, in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.attachments.models import Attachment
from server.auth.models import DESK_ROLES, FIELD_ROLES, Role, StaffUser, staff_buildings
from server.auth.schemas import CurrentUser
from server.desk import events as desk_events
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.estates.models import Building, Resident, Site, Unit
from server.push.service import enqueue_ticket_step
from server.sla.clocks import apply_due_times
from server.tickets import schemas_write as w
from server.tickets import scope
from server.tickets.changes import TicketChange
from server.tickets.device_tickets import audit
from server.tickets.models import (
    ACTIVE_STATUSES,
    ClientAction,
    ComplaintClass,
    Ticket,
    TicketAttachment,
    TicketStatus,
)

S = TicketStatus

# Which statuses each action may start from.
ALLOWED_FROM: dict[type, frozenset[str]] = {
    w.Acknowledge: frozenset({S.NEW}),
    w.Dispatch: frozenset({S.NEW, S.ACKNOWLEDGED, S.DISPATCHED}),
    w.OnMyWay: frozenset({S.DISPATCHED}),
    w.Arrive: frozenset({S.NEW, S.ACKNOWLEDGED, S.DISPATCHED}),
    w.Resolve: frozenset(ACTIVE_STATUSES),
    w.FollowUp: frozenset({S.RESOLVED}),
    w.Close: frozenset({S.RESOLVED, S.FOLLOWED_UP}),
    w.Reopen: frozenset({S.RESOLVED, S.FOLLOWED_UP, S.CLOSED}),
    w.Cancel: frozenset(ACTIVE_STATUSES),
}
# Who may take each action (besides the rules in `_check_may`).
ROLES_FOR: dict[type, tuple[str, ...]] = {
    w.Dispatch: DESK_ROLES,
    w.Close: DESK_ROLES,
    w.Reopen: DESK_ROLES,
    w.Cancel: DESK_ROLES,
    w.Classify: DESK_ROLES,
    w.HandToDepartment: DESK_ROLES,
    w.Escalate: DESK_ROLES,
}


@dataclass(frozen=True)
class Actor:
    user: CurrentUser
    client: str  # desk, pwa:<device>, api …


@dataclass
class Outcome:
    ticket_id: int
    action: str
    replayed: bool = False  # the same client action id was seen before: nothing was redone
    changes: list[TicketChange] = field(default_factory=list)
    # (user id, step, body) to push to; a None body is the ticket's own description.
    notify: list[tuple[int, str, str | None]] = field(default_factory=list)


def _fingerprint(payload: msgspec.Struct) -> str:
    # device_time is when the phone recorded it; a retry carries the same value.
    return hashlib.sha256(msgspec.json.encode(payload)).hexdigest()


async def _replayed(
    session: AsyncSession, actor: Actor, client_action_id: str | None, payload: msgspec.Struct
) -> int | None:
    """The ticket id an earlier identical write produced, or None if this write is new."""
    if client_action_id is None:
        return None
    earlier = await session.get(ClientAction, client_action_id)
    if earlier is None:
        return None
    if earlier.fingerprint != _fingerprint(payload) or earlier.user_id != actor.user.id:
        raise Conflict(
            "This action id was already used for a different change; the phone must "
            "not reuse it. Nothing was changed.",
            code="client_action.reused",
            client_action_id=client_action_id,
        )
    return int(earlier.result["ticket_id"])  # type: ignore[call-overload]


async def _remember(
    session: AsyncSession,
    actor: Actor,
    client_action_id: str | None,
    kind: str,
    payload: msgspec.Struct,
    ticket_id: int,
    device_time: datetime | None,
) -> None:
    if client_action_id is None:
        return
    try:
        async with session.begin_nested():
            await session.execute(
                insert(ClientAction).values(
                    id=client_action_id,
                    user_id=actor.user.id,
                    fingerprint=_fingerprint(payload),
                    kind=kind,
                    result={"ticket_id": ticket_id},
                    device_time=device_time,
                )
            )
    except IntegrityError:
        # The same retry raced in twice; the first one wins and this one repeats nothing.
        raise Conflict(
            "This action is being applied by another request; retry.", code="client_action.in_flight"
        ) from None


async def _visible_ticket(session: AsyncSession, user: CurrentUser, ticket_id: int) -> Ticket:
    query = scope.visible(select(Ticket).where(Ticket.id == ticket_id), user)
    ticket = await session.scalar(query.with_for_update())
    if ticket is None:
        raise NotFound(f"No ticket {ticket_id} in your buildings.", code="ticket.not_found")
    return ticket


async def _attach(session: AsyncSession, ticket_id: int, ids: list[str], role: str = "photo") -> None:
    if not ids:
        return
    found = set(await session.scalars(select(Attachment.id).where(Attachment.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput.at(
            "attachment_ids",
            f"Upload the attachments first: {', '.join(missing)}",
            "unknown id",
            code="attachment.unknown",
        )
    existing = set(
        await session.scalars(
            select(TicketAttachment.attachment_id).where(TicketAttachment.ticket_id == ticket_id)
        )
    )
    rows = [{"ticket_id": ticket_id, "attachment_id": i, "role": role} for i in ids if i not in existing]
    if rows:
        await session.execute(insert(TicketAttachment), rows)


async def create_ticket(session: AsyncSession, actor: Actor, data: w.TicketCreate, now: datetime) -> Outcome:
    """Open a request; the person who took it is its first receiver (首问责任制)."""
    earlier = await _replayed(session, actor, data.client_action_id, data)
    if earlier is not None:
        return Outcome(earlier, "opened", replayed=True)
    building, unit = await _place(session, actor.user, data.building, data.unit)
    if data.classification == ComplaintClass.INVALID and not actor.user.has_role(Role.SUPERVISOR):
        raise Forbidden(
            "Only a supervisor may classify a complaint as invalid.",
            code="ticket.invalid_class_needs_supervisor",
        )
    if data.classification is not None and data.kind != "complaint":
        raise InvalidInput.at(
            "classification",
            "Only complaints are classified.",
            "not a complaint",
            code="ticket.only_complaints_classified",
        )
    site_id = building.site_id if building else await session.scalar(select(Site.id).order_by(Site.id))
    if site_id is None:
        raise InvalidInput("No estate is loaded yet (fieldops demo loads one).", code="estate.not_loaded")
    if data.resident_id is not None and await session.get(Resident, data.resident_id) is None:
        raise InvalidInput.at(
            "resident_id", f"No resident {data.resident_id}.", "unknown", code="resident.unknown"
        )
    ticket = Ticket(
        site_id=site_id,
        building_id=building.id if building else None,
        unit_id=unit.id if unit else None,
        kind=data.kind,
        type=data.kind,
        severity=data.severity,
        status=S.NEW,
        source=data.source,
        title=data.title,
        description=data.description,
        requester_name=data.requester_name,
        requester_phone=data.requester_phone,
        resident_id=data.resident_id,
        needs_on_site=data.needs_on_site,
        department=data.department,
        classification=data.classification,
        classified_by_id=actor.user.id if data.classification else None,
        classified_at=now if data.classification else None,
        first_receiver_id=actor.user.id,
        opened_at=now,
        updated_at=now,
        context={},
        occurrences=1,
        auto_resolved=False,
        reopened=0,
        postponements=0,
        escalation_level=0,
        handed_to_department_at=now if data.department and data.kind == "complaint" else None,
    )
    await apply_due_times(session, ticket, now)
    session.add(ticket)
    await session.flush()
    await _attach(session, ticket.id, data.attachment_ids)
    outcome = Outcome(ticket.id, "opened")
    await _step(
        session,
        actor,
        ticket,
        "opened",
        now,
        outcome,
        {"title": data.title, "source": data.source, "device_time": _iso(data.device_time)},
    )
    await _remember(session, actor, data.client_action_id, "ticket.create", data, ticket.id, data.device_time)
    return outcome


async def _place(
    session: AsyncSession, user: CurrentUser, building_slug: str | None, unit_slug: str | None
) -> tuple[Building | None, Unit | None]:
    building = unit = None
    if unit_slug is not None:
        unit = await session.scalar(select(Unit).where(Unit.slug == unit_slug))
        if unit is None:
            raise InvalidInput.at("unit", f"No unit {unit_slug}.", "unknown unit", code="unit.unknown")
        building = await session.get(Building, unit.building_id)
        if building_slug is not None and building is not None and building.slug != building_slug:
            raise InvalidInput.at(
                "unit",
                f"Unit {unit_slug} is not in building {building_slug}.",
                "other building",
                code="unit.other_building",
            )
    elif building_slug is not None:
        building = await session.scalar(select(Building).where(Building.slug == building_slug))
        if building is None:
            raise InvalidInput.at(
                "building", f"No building {building_slug}.", "unknown", code="building.unknown"
            )
    if building is not None and not user.may_see_building(building.id):
        raise Forbidden(f"Building {building.slug} is not one of yours.", code="building.not_yours")
    if building is None and user.building_ids is not None:
        raise InvalidInput.at(
            "building", "Say which building the request is for.", "required", code="building.required"
        )
    return building, unit


async def act(
    session: AsyncSession, actor: Actor, ticket_id: int, action: w.TicketAction, now: datetime
) -> Outcome:
    """Take one step on a ticket, or answer a retry of a step already taken."""
    name = type(action).__struct_config__.tag  # the wire name, e.g. "arrive"
    earlier = await _replayed(session, actor, action.client_action_id, action)
    if earlier is not None:
        return Outcome(earlier, str(name), replayed=True)
    ticket = await _visible_ticket(session, actor.user, ticket_id)
    _check_may(actor.user, ticket, action)
    allowed = ALLOWED_FROM.get(type(action))
    if allowed is not None and ticket.status not in allowed:
        raise Conflict(
            f"Cannot {name} a ticket that is {ticket.status}.",
            code="ticket.wrong_status",
            action=str(name),
            ticket_status=ticket.status,
        )
    outcome = Outcome(ticket.id, str(name))
    detail: dict[str, Any] = {"note": action.note, "device_time": _iso(action.device_time)}
    await _apply(session, actor, ticket, action, now, outcome, detail)
    ticket.updated_at = now
    for user_id, step, body in outcome.notify:
        # In the step's own transaction: the dispatch and its push commit together.
        await enqueue_ticket_step(session, ticket, user_ids=[user_id], step=step, body=body, now=now)
    await _step(session, actor, ticket, str(name), now, outcome, detail)
    await _remember(
        session, actor, action.client_action_id, f"ticket.{name}", action, ticket.id, action.device_time
    )
    return outcome


def _resolved_text(ticket: Ticket) -> str:
    """The first receiver's notification: the estate's language, as the ticket's own words are."""
    note = (ticket.resolution_note or "").strip()
    return f"已办结：{note}" if note else "已办结"


def _check_may(user: CurrentUser, ticket: Ticket, action: w.TicketAction) -> None:
    name = type(action).__struct_config__.tag
    roles = ROLES_FOR.get(type(action))
    if roles is not None and not user.has_role(*roles):
        raise Forbidden(f"Your role may not {name} tickets.", code="ticket.role_may_not", action=name)
    if not user.has_role(*DESK_ROLES, *FIELD_ROLES):
        raise Forbidden("Your role may not change tickets.", code="ticket.role_may_not", action=name)


async def _apply(
    session: AsyncSession,
    actor: Actor,
    ticket: Ticket,
    action: w.TicketAction,
    now: datetime,
    outcome: Outcome,
    detail: dict[str, Any],
) -> None:
    match action:
        case w.Acknowledge():
            ticket.status, ticket.acknowledged_at = S.ACKNOWLEDGED, now
        case w.Dispatch(assignee_id=assignee_id):
            assignee = await _assignee(session, ticket, assignee_id)
            ticket.status, ticket.assignee_id, ticket.dispatched_at = S.DISPATCHED, assignee.id, now
            ticket.acknowledged_at = ticket.acknowledged_at or now
            detail["assignee"] = assignee.username
            outcome.notify.append((assignee.id, "dispatched", None))
        case w.OnMyWay():
            pass  # recorded in the audit trail: the requester can be told someone is coming
        case w.Arrive():
            # Server receive time stops the clock; the phone's own time is kept beside it.
            ticket.status, ticket.on_site_at = S.ON_SITE, now
            ticket.acknowledged_at = ticket.acknowledged_at or now
        case w.Resolve(attachment_ids=ids):
            await _attach(session, ticket.id, ids)
            ticket.status, ticket.resolved_at, ticket.active_key = S.RESOLVED, now, None
            ticket.resolution_note = action.note
            await apply_due_times(session, ticket, now)
            # 首问责任制: the handler tells the first receiver when it is done (domain.md). The
            # desk sees it on screen; a specialist who took it on the stairs hears it by push.
            first = ticket.first_receiver_id
            if first is not None and first not in (actor.user.id, ticket.assignee_id):
                outcome.notify.append((first, f"resolved:{ticket.reopened}", _resolved_text(ticket)))
        case w.FollowUp(satisfaction=score):
            ticket.followed_up_at, ticket.satisfaction = now, score
            detail.update(satisfaction=score, by_phone=action.by_phone, signed_by=action.signed_by)
            if action.signature_attachment_id:
                await _attach(session, ticket.id, [action.signature_attachment_id], role="signature")
            if score <= 2:
                # Not satisfied: back to the department "until the owner is satisfied".
                ticket.status, ticket.resolved_at = (S.DISPATCHED if ticket.assignee_id else S.NEW), None
                ticket.reopened += 1
                detail["reopened"] = "requester not satisfied"
                await apply_due_times(session, ticket, now)
                if ticket.assignee_id:
                    outcome.notify.append((ticket.assignee_id, f"reopened:{ticket.reopened}", None))
            else:
                ticket.status = S.FOLLOWED_UP
        case w.Close():
            ticket.status, ticket.closed_at = S.CLOSED, now
        case w.Reopen(reason=reason):
            ticket.status, ticket.resolved_at, ticket.closed_at = S.NEW, None, None
            ticket.reopened += 1
            detail["reason"] = reason
            await apply_due_times(session, ticket, now)
        case w.Cancel(reason=reason):
            ticket.status, ticket.closed_at, ticket.active_key = S.CANCELLED, now, None
            detail["reason"] = reason
        case w.Classify(classification=cls):
            if ticket.kind != "complaint":
                raise InvalidInput(
                    "Only complaints are classified.", code="ticket.only_complaints_classified"
                )
            if cls == ComplaintClass.INVALID and not actor.user.has_role(Role.SUPERVISOR):
                raise Forbidden(
                    "Only a supervisor may classify a complaint as invalid.",
                    code="ticket.invalid_class_needs_supervisor",
                )
            detail["from"], detail["to"] = ticket.classification, cls
            ticket.classification, ticket.classified_by_id, ticket.classified_at = cls, actor.user.id, now
            await apply_due_times(session, ticket, now)
        case w.HandToDepartment(department=department):
            ticket.department, ticket.handed_to_department_at = department, now
            detail["department"] = department
        case w.Postpone(reason=reason, promised_at=promised_at):
            if promised_at.tzinfo is None:
                raise InvalidInput.at(
                    "promised_at",
                    "promised_at needs a UTC offset.",
                    "no offset",
                    code="ticket.promised_at_needs_offset",
                )
            if promised_at <= now:
                raise InvalidInput.at(
                    "promised_at",
                    "The new promised time must be in the future.",
                    "in the past",
                    code="ticket.promised_at_in_past",
                )
            if ticket.postponements >= 1 and not actor.user.has_role(Role.SUPERVISOR):
                raise Conflict(
                    "This ticket was postponed once already; a second postponement needs a "
                    "supervisor (domain.md: never postpone the same matter twice).",
                    code="ticket.second_postponement_needs_approval",
                    postponements=ticket.postponements,
                )
            ticket.postponements += 1
            ticket.promised_at = promised_at
            detail.update(reason=reason, promised_at=promised_at.isoformat(), count=ticket.postponements)
        case w.AnnounceDelay():
            ticket.delay_announced_at = now
            due = ticket.on_site_due_at
            detail["before_deadline"] = due is None or now <= due
        case w.Answer():
            ticket.answered_at = now
        case w.AddNote():
            pass
        case w.Escalate():
            ticket.escalation_level += 1
            detail["level"] = ticket.escalation_level


async def _assignee(session: AsyncSession, ticket: Ticket, user_id: int) -> StaffUser:
    user = await session.get(StaffUser, user_id)
    if user is None or not user.active:
        raise InvalidInput.at(
            "assignee_id", f"No active staff member {user_id}.", "unknown", code="staff.unknown"
        )
    if not set(user.roles) & {Role.SPECIALIST, Role.ENGINEER, *DESK_ROLES}:
        raise InvalidInput(f"{user.display_name} cannot take tickets.", code="staff.cannot_take_tickets")
    if (
        Role.SPECIALIST in user.roles
        and ticket.building_id is not None
        and not (set(user.roles) & {Role.ENGINEER, *DESK_ROLES})
    ):
        covered = await session.scalar(
            select(staff_buildings.c.user_id).where(
                staff_buildings.c.user_id == user.id, staff_buildings.c.building_id == ticket.building_id
            )
        )
        if covered is None:
            raise InvalidInput.at(
                "assignee_id",
                f"{user.display_name} does not cover this building.",
                "other building",
                code="staff.other_building",
            )
    return user


async def _step(
    session: AsyncSession,
    actor: Actor,
    ticket: Ticket,
    action: str,
    now: datetime,
    outcome: Outcome,
    detail: dict[str, Any],
) -> None:
    clean = {k: v for k, v in detail.items() if v is not None}
    await audit(
        session,
        ticket.id,
        now,
        action,
        clean,
        actor=actor.user.username,
        actor_id=actor.user.id,
        client=actor.client,
    )
    await desk_events.record(
        session, topic="ticket", entity_id=ticket.id, action=action, building_id=ticket.building_id, at=now
    )
    outcome.changes.append(TicketChange(ticket.id, action, now, ticket.kind, ticket.severity))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
