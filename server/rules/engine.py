"""The rules engine: new device events, readings and statuses in; tickets out.

Plain async code over a session (no web framework). It runs inside the consumer's
batch transaction, only for messages stored for the first time, so a redelivered
message never fires a rule twice. Timed rules (debounce, missed calls, offline
grace) are evaluated by ``sweep``, which the consumer calls about once a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.contract.v1 import EVENT_TYPES, EventPayload, ReadingPayload
from server.db import upsert_insert
from server.desk import events as desk_events
from server.devices.models import Device, DeviceEvent, MeterReading
from server.estates.models import Unit, UnitState
from server.ingest.directory import DeviceRef
from server.rules.models import AlarmCondition, IntercomCall
from server.rules.table import RuleTable, TicketTemplate
from server.tickets.changes import TicketChange
from server.tickets.device_tickets import TicketSpec, clear_ticket, raise_ticket
from server.tickets.models import Ticket

CONDITION_TYPES = frozenset(t for types in EVENT_TYPES.values() for t, cond in types.items() if cond)


@dataclass(frozen=True)
class StoredEvent:
    device: DeviceRef
    payload: EventPayload
    unit_id: int | None
    received_at: datetime


@dataclass(frozen=True)
class StoredReading:
    device: DeviceRef
    payload: ReadingPayload
    unit_id: int | None


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def title_for(template: str, **values: Any) -> str:
    """Fill a rule's title; missing values become empty, never an error."""
    filled = {k: v for k, v in values.items() if v not in (None, "")}
    if "floor" in filled:
        filled["floor"] = f" {filled['floor']}层"
    if "code" in filled:
        filled["code"] = f" 代码{filled['code']}"
    return " ".join(template.format_map(_Blank(filled)).split())


def offline_key(device_id: int) -> str:
    return f"{device_id}:device.offline"


def occupancy_key(unit_id: int) -> str:
    return f"unit{unit_id}:possible_occupation"


class RuleEngine:
    def __init__(self, rules: RuleTable) -> None:
        self.rules = rules

    # --- helpers ------------------------------------------------------------

    def _spec(self, template: TicketTemplate, device: DeviceRef, *, type_: str, active_key: str,
              unit_id: int | None, context: dict[str, Any], title_values: dict[str, Any]) -> TicketSpec:
        return TicketSpec(
            site_id=device.site_id, building_id=device.building_id, unit_id=unit_id,
            device_id=device.id, kind=template.ticket_kind.value, type=type_,
            severity=template.severity.value, active_key=active_key, context=context,
            title=title_for(template.title, device=device.slug, **title_values),
            ack_within_s=template.ack_within_s, on_site_within_s=template.on_site_within_s,
            resolve_within_s=template.resolve_within_s,
        )

    # --- events ---------------------------------------------------------------

    async def on_events(self, session: AsyncSession, events: list[StoredEvent], now: datetime,
                        changes: list[TicketChange]) -> None:
        for event in events:
            kind = event.payload.type
            if kind == "intercom.call":
                await self._intercom_call(session, event, now, changes)
            elif kind == "access.denied":
                await self._denied_burst(session, event, now, changes)
            elif kind in ("access.granted", "access.card"):
                await self._card_in_vacant_unit(session, event, now, changes)
            rule = self.rules.rule_for(kind)
            if rule is None:
                continue
            if kind in CONDITION_TYPES:
                await self._condition(session, event, rule, now, changes)
            else:
                await self._open_for(session, event, rule, now, changes)

    async def _open_for(self, session: AsyncSession, event: StoredEvent, rule: TicketTemplate,
                        now: datetime, changes: list[TicketChange]) -> int:
        data = event.payload.data
        spec = self._spec(
            rule, event.device, type_=event.payload.type,
            active_key=f"{event.device.id}:{event.payload.type}", unit_id=event.unit_id,
            context={"event_id": event.payload.id, **{k: data[k] for k in list(data)[:20]}},
            title_values={"floor": data.get("floor"), "code": data.get("code"),
                          "unit": event.payload.unit or ""},
        )
        return await raise_ticket(session, spec, now=now, seen_at=event.payload.ts,
                                  reopen_window_s=self.rules.defaults.reopen_window_s, changes=changes,
                                  detail={"event_id": event.payload.id})

    async def _condition(self, session: AsyncSession, event: StoredEvent, rule: Any, now: datetime,
                         changes: list[TicketChange]) -> None:
        raised = event.payload.alarm == "raise"
        pending = raised and rule.min_duration_s > 0
        values = {"device_id": event.device.id, "type": event.payload.type, "raised": raised,
                  "ticket_pending": pending, "last_event_id": event.payload.id}
        if raised:
            values["raised_at"] = now
        else:
            values["cleared_at"] = now
        update_values = {k: v for k, v in values.items() if k not in ("device_id", "type")}
        if raised:
            # A repeated raise keeps the original start: the duration runs from the first one.
            update_values["raised_at"] = func.coalesce(_case_raised_at(), now)
            update_values["ticket_pending"] = _pending_expr(pending)
        statement = upsert_insert(session)(AlarmCondition).values(**values).on_conflict_do_update(
            index_elements=[AlarmCondition.device_id, AlarmCondition.type], set_=update_values)
        await session.execute(statement)
        if raised and not pending:
            await self._open_for(session, event, rule, now, changes)
        elif not raised:
            await clear_ticket(session, f"{event.device.id}:{event.payload.type}", now=now,
                               cleared_at=event.payload.ts, auto_resolve=rule.auto_resolve,
                               changes=changes, detail={"event_id": event.payload.id})

    async def _intercom_call(self, session: AsyncSession, event: StoredEvent, now: datetime,
                             changes: list[TicketChange]) -> None:
        data = event.payload.data
        to = str(data.get("to", "desk"))
        if to != "desk":
            return
        call_id = str(data["call_id"])
        phase = data["phase"]
        values: dict[str, Any] = {"device_id": event.device.id, "call_id": call_id, "to": to,
                                  "from_unit": data.get("from_unit")}
        if phase == "ringing":
            values["rang_at"] = now
        elif phase == "answered":
            values.update(answered_at=now, settled=True)
        else:
            values["ended_at"] = now
        set_ = {k: v for k, v in values.items() if k not in ("device_id", "call_id", "to", "from_unit")}
        await session.execute(upsert_insert(session)(IntercomCall).values(**values).on_conflict_do_update(
            index_elements=[IntercomCall.device_id, IntercomCall.call_id], set_=set_))
        if phase == "ended":
            # Hung up without an answer: no need to wait out the rings.
            call = await session.scalar(select(IntercomCall).where(
                IntercomCall.device_id == event.device.id, IntercomCall.call_id == call_id))
            if call is not None and call.answered_at is None and not call.settled:
                await self._open_callback(session, call, event.device, now, changes)

    async def _open_callback(self, session: AsyncSession, call: IntercomCall, device: DeviceRef,
                             now: datetime, changes: list[TicketChange]) -> None:
        rule = self.rules.missed_call
        spec = self._spec(rule, device, type_="intercom.missed_call",
                          active_key=f"{device.id}:call:{call.call_id}", unit_id=device.unit_id,
                          context={"call_id": call.call_id, "from_unit": call.from_unit},
                          title_values={"from_unit": call.from_unit or device.slug})
        spec.source = "intercom"
        ticket_id = await raise_ticket(session, spec, now=now, seen_at=call.rang_at or now,
                                       reopen_window_s=0, changes=changes,
                                       detail={"call_id": call.call_id})
        await session.execute(update(IntercomCall).where(IntercomCall.id == call.id)
                              .values(settled=True, ticket_id=ticket_id))

    async def _denied_burst(self, session: AsyncSession, event: StoredEvent, now: datetime,
                            changes: list[TicketChange]) -> None:
        rule = self.rules.denied_burst
        since = event.payload.ts - timedelta(seconds=rule.window_s)
        count = await session.scalar(select(func.count()).select_from(DeviceEvent).where(
            DeviceEvent.device_id == event.device.id, DeviceEvent.type == "access.denied",
            DeviceEvent.ts >= since, DeviceEvent.ts <= event.payload.ts))
        if (count or 0) < rule.count:
            return
        key = f"{event.device.id}:access.denied_burst"
        spec = self._spec(rule, event.device, type_="access.denied_burst", active_key=key, unit_id=None,
                          context={"denied_in_window": count, "window_s": rule.window_s},
                          title_values={})
        await raise_ticket(session, spec, now=now, seen_at=event.payload.ts, reopen_window_s=0,
                           changes=changes, detail={"event_id": event.payload.id, "count": count})

    async def _card_in_vacant_unit(self, session: AsyncSession, event: StoredEvent, now: datetime,
                                   changes: list[TicketChange]) -> None:
        if event.unit_id is None or event.device.unit_id == event.unit_id:
            return  # not attributed to a card's unit
        state = await session.scalar(select(Unit.state).where(Unit.id == event.unit_id))
        if state != UnitState.VACANT:
            return
        await self._possible_occupation(session, event.device, event.unit_id, now, changes,
                                        {"evidence": "card", "card": event.payload.data.get("card"),
                                         "event_id": event.payload.id}, seen_at=event.payload.ts)

    async def _possible_occupation(self, session: AsyncSession, device: DeviceRef, unit_id: int,
                                   now: datetime, changes: list[TicketChange], context: dict[str, Any],
                                   seen_at: datetime) -> None:
        rule = self.rules.occupancy
        unit_slug = await session.scalar(select(Unit.slug).where(Unit.id == unit_id))
        spec = self._spec(rule, device, type_="unit.possible_occupation", active_key=occupancy_key(unit_id),
                          unit_id=unit_id, context=context, title_values={"unit": unit_slug})
        spec.source = "device"
        await raise_ticket(session, spec, now=now, seen_at=seen_at, reopen_window_s=0, changes=changes,
                           detail=context)

    # --- readings -------------------------------------------------------------

    async def on_readings(self, session: AsyncSession, readings: list[StoredReading], now: datetime,
                          changes: list[TicketChange]) -> None:
        """Consumption in a vacant unit over the rule's window means someone may be living there."""
        unit_ids = {r.unit_id for r in readings if r.unit_id is not None}
        if not unit_ids:
            return
        vacant = set(await session.scalars(
            select(Unit.id).where(Unit.id.in_(unit_ids), Unit.state == UnitState.VACANT)))
        if not vacant:
            return
        # A unit already under suspicion needs no second look until a person closes the ticket.
        suspected = set(await session.scalars(select(Ticket.active_key).where(
            Ticket.active_key.in_([occupancy_key(u) for u in vacant]))))
        latest: dict[int, StoredReading] = {}
        for reading in readings:
            if reading.unit_id in vacant and occupancy_key(reading.unit_id) not in suspected:
                known = latest.get(reading.device.id)
                if known is None or reading.payload.ts > known.payload.ts:
                    latest[reading.device.id] = reading
        rule = self.rules.occupancy
        for reading in latest.values():
            since = reading.payload.ts - timedelta(seconds=rule.window_s)
            lowest = await session.scalar(select(func.min(MeterReading.value)).where(
                MeterReading.device_id == reading.device.id, MeterReading.ts >= since,
                MeterReading.ts <= reading.payload.ts))
            if lowest is None or reading.unit_id is None:
                continue
            used = reading.payload.value - lowest
            quantity = reading.payload.quantity.value
            key = occupancy_key(reading.unit_id)
            if used > rule.threshold(quantity) and key not in suspected:
                suspected.add(key)
                await self._possible_occupation(
                    session, reading.device, reading.unit_id, now, changes,
                    {"evidence": "consumption", "quantity": quantity, "used": round(used, 4),
                     "uom": reading.payload.uom, "window_s": rule.window_s,
                     "threshold": rule.threshold(quantity)},
                    seen_at=reading.payload.ts)

    # --- availability ---------------------------------------------------------

    async def on_back_online(self, session: AsyncSession, device: DeviceRef, now: datetime,
                             changes: list[TicketChange]) -> None:
        await clear_ticket(session, offline_key(device.id), now=now, cleared_at=now,
                           auto_resolve=self.rules.availability.auto_resolve, changes=changes,
                           detail={"note": "device back online"})

    # --- timed rules ----------------------------------------------------------

    async def sweep(self, session: AsyncSession, now: datetime, changes: list[TicketChange],
                    directory_lookup: Callable[[int], Any]) -> None:
        """Open the tickets whose time has come: debounced alarms, missed calls, offline devices."""
        await self._sweep_durations(session, now, changes, directory_lookup)
        await self._sweep_missed_calls(session, now, changes, directory_lookup)
        await self._sweep_offline(session, now, changes, directory_lookup)

    async def _sweep_durations(self, session: AsyncSession, now: datetime, changes: list[TicketChange],
                               lookup: Callable[[int], Any]) -> None:
        rows = (await session.execute(select(AlarmCondition).where(
            AlarmCondition.raised.is_(True), AlarmCondition.ticket_pending.is_(True)))).scalars().all()
        for condition in rows:
            rule = self.rules.rule_for(condition.type)
            if rule is None or condition.raised_at is None:
                continue
            if condition.raised_at + timedelta(seconds=rule.min_duration_s) > now:
                continue
            device = await lookup(condition.device_id)
            if device is None:
                continue
            spec = self._spec(rule, device, type_=condition.type,
                              active_key=f"{device.id}:{condition.type}", unit_id=device.unit_id,
                              context={"raised_for_s": round((now - condition.raised_at).total_seconds()),
                                       "event_id": condition.last_event_id},
                              title_values={})
            await raise_ticket(session, spec, now=now, seen_at=condition.raised_at,
                               reopen_window_s=self.rules.defaults.reopen_window_s, changes=changes,
                               detail={"raised_at": condition.raised_at.isoformat()})
            await session.execute(update(AlarmCondition).where(AlarmCondition.id == condition.id)
                                  .values(ticket_pending=False))

    async def _sweep_missed_calls(self, session: AsyncSession, now: datetime, changes: list[TicketChange],
                                  lookup: Callable[[int], Any]) -> None:
        limit = now - timedelta(seconds=self.rules.missed_call.answer_within_s)
        calls = (await session.execute(select(IntercomCall).where(
            IntercomCall.settled.is_(False), IntercomCall.answered_at.is_(None),
            IntercomCall.rang_at.is_not(None), IntercomCall.rang_at <= limit))).scalars().all()
        for call in calls:
            device = await lookup(call.device_id)
            if device is not None:
                await self._open_callback(session, call, device, now, changes)

    async def _sweep_offline(self, session: AsyncSession, now: datetime, changes: list[TicketChange],
                             lookup: Callable[[int], Any]) -> None:
        rule = self.rules.availability
        shortest = min([*rule.grace_s.values(), 600.0])
        candidates = (await session.execute(
            select(Device.id, Device.kind, Device.status_changed_at).where(
                Device.online.is_(False),
                Device.status_changed_at <= now - timedelta(seconds=shortest),
                ~exists().where(Ticket.active_key == _offline_key_expr()),
            ).limit(500)
        )).all()
        due = [device_id for device_id, kind, changed_at in candidates
               if changed_at is not None and changed_at + timedelta(seconds=rule.grace_for(kind)) <= now]
        if not due:
            return
        # A batch may be bringing one of these devices back online right now. Lock the rows
        # still offline (skipping any a batch holds) so its clearing waits for this ticket
        # and then clears it, instead of running before it and leaving it open. The desk
        # events lock comes first and a batch's rows are skipped: the sweeper never waits on
        # a batch, so the two cannot deadlock.
        await desk_events.serialise_writers(session)
        still_offline = (await session.execute(
            select(Device.id, Device.status_changed_at).where(
                Device.id.in_(due), Device.online.is_(False),
                ~exists().where(Ticket.active_key == _offline_key_expr()),
            ).with_for_update(of=Device, skip_locked=True)
        )).all()
        for device_id, changed_at in still_offline:
            device = await lookup(device_id)
            if device is None or changed_at is None:
                continue
            spec = self._spec(rule, device, type_="device.offline", active_key=offline_key(device_id),
                              unit_id=device.unit_id,
                              context={"offline_since": changed_at.isoformat()}, title_values={})
            await raise_ticket(session, spec, now=now, seen_at=changed_at, reopen_window_s=0,
                               changes=changes, detail={"offline_since": changed_at.isoformat()})


def _case_raised_at() -> Any:
    from sqlalchemy import case

    # Keep the first raise time while the condition stays raised.
    return case((AlarmCondition.raised.is_(True), AlarmCondition.raised_at), else_=None)


def _pending_expr(pending: bool) -> Any:
    from sqlalchemy import case, false

    if not pending:
        return false()
    # Stay pending only if it was not already turned into a ticket during this raise.
    return case((AlarmCondition.raised.is_(True), AlarmCondition.ticket_pending), else_=True)


def _offline_key_expr() -> Any:
    from sqlalchemy import String, cast

    return cast(Device.id, String) + ":device.offline"
