"""Tickets opened and updated by the rules engine: one active ticket per key, race-free.

A ticket that a rule keeps open carries an ``active_key`` (e.g. ``"17:elevator.trapped"``),
unique in the table while the ticket is active and NULL after. Concurrent raises from
several consumers therefore converge on one row via INSERT … ON CONFLICT, never a
read-then-write race.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert_insert
from server.desk import events as desk_events
from server.tickets.changes import TicketChange
from server.tickets.models import Ticket, TicketAudit, TicketStatus

RULES_ACTOR = "rules"


@dataclass
class TicketSpec:
    """What a rule wants opened; due times are offsets from the opening."""

    site_id: int
    kind: str
    type: str
    severity: str
    title: str
    active_key: str
    building_id: int | None = None
    unit_id: int | None = None
    device_id: int | None = None
    source: str = "device"
    context: dict[str, Any] = field(default_factory=dict)
    ack_within_s: float | None = None
    on_site_within_s: float | None = None
    resolve_within_s: float | None = None


def _due(at: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else at + timedelta(seconds=seconds)


async def audit(session: AsyncSession, ticket_id: int, at: datetime, action: str,
                detail: dict[str, Any] | None = None, *, actor: str = RULES_ACTOR,
                actor_id: int | None = None, client: str = "mqtt") -> None:
    await session.execute(insert(TicketAudit).values(
        ticket_id=ticket_id, at=at, actor=actor, actor_id=actor_id, client=client, action=action,
        detail=detail or {}))


async def raise_ticket(session: AsyncSession, spec: TicketSpec, *, now: datetime, seen_at: datetime,
                       reopen_window_s: float, changes: list[TicketChange],
                       detail: dict[str, Any] | None = None) -> int:
    """Open the ticket for ``spec.active_key``, or count one more occurrence on the active one.

    A raise shortly after the same condition was auto-resolved re-opens that ticket
    (flapping) instead of opening a new one.
    """
    bumped = (await session.execute(
        update(Ticket).where(Ticket.active_key == spec.active_key)
        .values(occurrences=Ticket.occurrences + 1, last_seen_at=seen_at, updated_at=now)
        .returning(Ticket.id, Ticket.kind, Ticket.severity, Ticket.building_id)
    )).first()
    if bumped is not None:
        await audit(session, bumped.id, now, "repeated", detail)
        await _changed(session, changes, bumped.id, "repeated", now, bumped.kind, bumped.severity,
                       bumped.building_id)
        return int(bumped.id)

    if spec.device_id is not None and reopen_window_s > 0:
        reopened = await _reopen_recent(session, spec, now=now, seen_at=seen_at,
                                        window_s=reopen_window_s)
        if reopened is not None:
            await audit(session, reopened, now, "reopened", detail)
            await _changed(session, changes, reopened, "reopened", now, spec.kind, spec.severity,
                           spec.building_id)
            return reopened

    values: dict[str, Any] = {
        "site_id": spec.site_id, "building_id": spec.building_id, "unit_id": spec.unit_id,
        "device_id": spec.device_id, "kind": spec.kind, "type": spec.type, "severity": spec.severity,
        "status": TicketStatus.NEW, "source": spec.source, "title": spec.title[:200],
        "active_key": spec.active_key, "occurrences": 1, "opened_at": now, "updated_at": now,
        "last_seen_at": seen_at, "context": spec.context, "ack_due_at": _due(now, spec.ack_within_s),
        "on_site_due_at": _due(now, spec.on_site_within_s),
        "resolve_due_at": _due(now, spec.resolve_within_s), "auto_resolved": False, "reopened": 0,
    }
    statement = upsert_insert(session)(Ticket).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[Ticket.active_key],
        set_={"occurrences": Ticket.occurrences + 1, "last_seen_at": seen_at, "updated_at": now},
    ).returning(Ticket.id, Ticket.occurrences)
    row = (await session.execute(statement)).one()
    action = "opened" if row.occurrences == 1 else "repeated"
    await audit(session, row.id, now, action, detail or {"title": values["title"]})
    await _changed(session, changes, row.id, action, now, spec.kind, spec.severity, spec.building_id)
    return int(row.id)


async def _reopen_recent(session: AsyncSession, spec: TicketSpec, *, now: datetime, seen_at: datetime,
                         window_s: float) -> int | None:
    candidate = await session.scalar(
        select(Ticket.id)
        .where(Ticket.device_id == spec.device_id, Ticket.type == spec.type,
               Ticket.active_key.is_(None), Ticket.auto_resolved.is_(True),
               Ticket.status == TicketStatus.RESOLVED,
               Ticket.resolved_at >= now - timedelta(seconds=window_s))
        .order_by(Ticket.resolved_at.desc()).limit(1)
    )
    if candidate is None:
        return None
    try:
        # A savepoint: if another consumer made the key active meanwhile, fall back to it.
        async with session.begin_nested():
            await session.execute(
                update(Ticket).where(Ticket.id == candidate, Ticket.active_key.is_(None))
                .values(status=TicketStatus.NEW, active_key=spec.active_key, resolved_at=None,
                        auto_resolved=False, reopened=Ticket.reopened + 1,
                        occurrences=Ticket.occurrences + 1, last_seen_at=seen_at, updated_at=now,
                        cleared_at=None)
            )
    except IntegrityError:
        return None
    return int(candidate)


async def clear_ticket(session: AsyncSession, active_key: str, *, now: datetime, cleared_at: datetime,
                       auto_resolve: bool, changes: list[TicketChange],
                       detail: dict[str, Any] | None = None) -> int | None:
    """Record the device's clear on the active ticket; resolve it when the rule says so."""
    values: dict[str, Any] = {"cleared_at": cleared_at, "updated_at": now}
    if auto_resolve:
        values.update(status=TicketStatus.RESOLVED, resolved_at=now, auto_resolved=True, active_key=None)
    row = (await session.execute(
        update(Ticket).where(Ticket.active_key == active_key).values(**values)
        .returning(Ticket.id, Ticket.kind, Ticket.severity, Ticket.building_id)
    )).first()
    if row is None:
        return None
    action = "auto_resolved" if auto_resolve else "cleared"
    await audit(session, row.id, now, action, detail)
    await _changed(session, changes, row.id, action, now, row.kind, row.severity, row.building_id)
    return int(row.id)


async def _changed(session: AsyncSession, changes: list[TicketChange], ticket_id: int, action: str,
                   now: datetime, kind: str, severity: str, building_id: int | None) -> None:
    """Note a change for the in-process listeners and the desk stream's log."""
    changes.append(TicketChange(ticket_id, action, now, kind, severity))
    await desk_events.record(session, topic="ticket", entity_id=ticket_id, action=action,
                             building_id=building_id, at=now)
