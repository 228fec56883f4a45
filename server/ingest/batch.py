"""One batch of MQTT messages → one transaction: events, readings, statuses, dead letters, rules.

Only messages stored for the first time reach the rules, so a redelivery after a
crash (the broker resends what was not acknowledged) changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.contract.v1 import (
    ContractError,
    EventPayload,
    ReadingPayload,
    StatusPayload,
    Topic,
    decode_payload,
    parse_topic,
)
from server.db import upsert_insert
from server.desk import events as desk_events
from server.devices.models import Device, DeviceEvent, MeterReading
from server.estates.models import AccessCard
from server.ingest.directory import DeviceDirectory, DeviceRef
from server.ingest.models import DEAD_LETTER_PAYLOAD_BYTES, DeadLetter
from server.rules.engine import RuleEngine, StoredEvent, StoredReading
from server.tickets.changes import TicketChange


class Message(Protocol):
    topic: str
    payload: bytes


@dataclass
class BatchResult:
    events: int = 0
    readings: int = 0
    statuses: int = 0
    duplicates: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    changes: list[TicketChange] = field(default_factory=list)


@dataclass
class _Accepted:
    topic: Topic
    payload: EventPayload | ReadingPayload | StatusPayload
    device: DeviceRef


class BatchWriter:
    """Writes batches; the caller owns the transaction and acknowledges after commit."""

    def __init__(self, engine: RuleEngine, directory: DeviceDirectory,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.directory = directory
        self.clock = clock

    async def write(self, session: AsyncSession, messages: Sequence[Message]) -> BatchResult:
        now = self.clock()
        result = BatchResult()
        refused: list[tuple[Message, str, str]] = []
        decoded: list[tuple[Message, Topic, Any]] = []
        for message in messages:
            try:
                topic = parse_topic(message.topic)
                decoded.append((message, topic, decode_payload(topic, message.payload)))
            except ContractError as exc:
                refused.append((message, exc.reason, exc.detail))

        devices = await self.directory.resolve(session, [t for _, t, _ in decoded])
        accepted: list[_Accepted] = []
        for message, topic, payload in decoded:
            device = devices.get((topic.site, topic.device))
            if device is None:
                device = await self.directory.auto_register(session, topic)
                if device is not None:
                    devices[(topic.site, topic.device)] = device
            if device is None:
                refused.append((message, "unknown_device",
                                f"no device {topic.device!r} at site {topic.site!r}"))
            elif device.building != topic.building or device.kind != topic.kind.value:
                refused.append((message, "topic_mismatch",
                                f"{topic.device} is a {device.kind} in {device.building}, "
                                f"not a {topic.kind} in {topic.building}"))
            else:
                accepted.append(_Accepted(topic, payload, device))

        events = [a for a in accepted if isinstance(a.payload, EventPayload)]
        readings = [a for a in accepted if isinstance(a.payload, ReadingPayload)]
        statuses = [a for a in accepted if isinstance(a.payload, StatusPayload)]

        stored_events = await self._store_events(session, events, now)
        stored_readings = await self._store_readings(session, readings, now)
        result.events, result.readings = len(stored_events), len(stored_readings)
        result.duplicates = (len(events) - len(stored_events)) + (len(readings) - len(stored_readings))
        came_online = await self._apply_statuses(session, statuses, now)
        result.statuses = len(statuses)
        await self._touch_last_seen(session, accepted, now)

        await self.engine.on_events(session, stored_events, now, result.changes)
        await self.engine.on_readings(session, stored_readings, now, result.changes)
        for device in came_online:
            await self.engine.on_back_online(session, device, now, result.changes)

        await self._dead_letter(session, refused, now)
        for _, reason, _ in refused:
            result.dead_letters[reason] = result.dead_letters.get(reason, 0) + 1
        return result

    async def _store_events(self, session: AsyncSession, events: list[_Accepted],
                            now: datetime) -> list[StoredEvent]:
        if not events:
            return []
        cards = await self._card_owners(session, events)
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for item in events:
            payload = item.payload
            assert isinstance(payload, EventPayload)
            unit_id, resident_id = item.device.unit_id, None
            card = payload.data.get("card") if payload.type.startswith("access.") else None
            if card is not None and (item.device.site_id, str(card)) in cards:
                unit_id, resident_id = cards[(item.device.site_id, str(card))]
            rows.setdefault((item.device.id, payload.id), {
                "device_id": item.device.id, "event_id": payload.id, "type": payload.type,
                "alarm": payload.alarm, "ts": payload.ts, "received_at": now, "unit_slug": payload.unit,
                "unit_id": unit_id, "resident_id": resident_id, "data": payload.data,
            })
        statement = upsert_insert(session)(DeviceEvent.__table__).on_conflict_do_nothing(
            index_elements=["device_id", "event_id"]
        ).returning(DeviceEvent.__table__.c.device_id, DeviceEvent.__table__.c.event_id)
        inserted = {(r[0], r[1]) for r in await session.execute(statement, list(rows.values()))}
        stored: list[StoredEvent] = []
        for item in events:
            payload = item.payload
            assert isinstance(payload, EventPayload)
            key = (item.device.id, payload.id)
            if key in inserted:
                inserted.discard(key)  # a second copy in the same batch is a duplicate
                stored.append(StoredEvent(item.device, payload, rows[key]["unit_id"], now))
        return stored

    async def _card_owners(self, session: AsyncSession, events: list[_Accepted]
                           ) -> dict[tuple[int, str], tuple[int | None, int | None]]:
        wanted = {(e.device.site_id, str(e.payload.data["card"])) for e in events
                  if isinstance(e.payload, EventPayload) and e.payload.type.startswith("access.")
                  and "card" in e.payload.data}
        if not wanted:
            return {}
        rows = await session.execute(
            select(AccessCard.site_id, AccessCard.card_number, AccessCard.unit_id, AccessCard.resident_id)
            .where(AccessCard.card_number.in_({card for _, card in wanted}),
                   AccessCard.revoked_at.is_(None)))
        return {(site, card): (unit, resident) for site, card, unit, resident in rows}

    async def _store_readings(self, session: AsyncSession, readings: list[_Accepted],
                              now: datetime) -> list[StoredReading]:
        if not readings:
            return []
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for item in readings:
            payload = item.payload
            assert isinstance(payload, ReadingPayload)
            rows.setdefault((item.device.id, payload.id), {
                "device_id": item.device.id, "reading_id": payload.id, "unit_id": item.device.unit_id,
                "quantity": payload.quantity.value, "value": payload.value, "uom": payload.uom,
                "ts": payload.ts, "received_at": now,
            })
        statement = upsert_insert(session)(MeterReading.__table__).on_conflict_do_nothing(
            index_elements=["device_id", "reading_id"]
        ).returning(MeterReading.__table__.c.device_id, MeterReading.__table__.c.reading_id)
        inserted = {(r[0], r[1]) for r in await session.execute(statement, list(rows.values()))}
        stored = []
        for item in readings:
            payload = item.payload
            assert isinstance(payload, ReadingPayload)
            key = (item.device.id, payload.id)
            if key in inserted:
                inserted.discard(key)
                stored.append(StoredReading(item.device, payload, item.device.unit_id))
        return stored

    async def _apply_statuses(self, session: AsyncSession, statuses: list[_Accepted],
                              now: datetime) -> list[DeviceRef]:
        """Set each device's online state; return the devices that just came back online.

        Only a device's own status (or its bridge's last will) changes it: the server
        losing its broker connection marks nothing offline.
        """
        latest: dict[int, tuple[DeviceRef, bool]] = {}
        for item in statuses:
            assert isinstance(item.payload, StatusPayload)
            # The last one in the batch wins (the device keeps its first position).
            latest[item.device.id] = (item.device, item.payload.state == "online")
        # One UPDATE per target state, not one per device: heartbeats are a steady share of
        # the traffic, and a round trip each held up the whole batch (and the alarms in it).
        # Like the per-device form it locks exactly the rows it changes, which the offline
        # sweep skips (server/rules/engine.py). RETURNING says which rows did change.
        changed: set[int] = set()
        for online in (True, False):
            ids = sorted(device_id for device_id, (_, state) in latest.items() if state is online)
            for start in range(0, len(ids), 500):  # bound parameters stay few, as in _touch_last_seen
                changed.update(await session.scalars(
                    update(Device)
                    .where(Device.id.in_(ids[start:start + 500]), Device.online.is_distinct_from(online))
                    .values(online=online, status_changed_at=now)
                    .returning(Device.id)
                    # Nothing in the batch reads a Device object back, as in _touch_last_seen.
                    .execution_options(synchronize_session=False)))
        came_online = []
        for device_id, (device, online) in latest.items():  # desk events in batch order, as before
            if device_id not in changed:
                continue
            await desk_events.record(session, topic="device", entity_id=device_id,
                                     action="online" if online else "offline",
                                     building_id=device.building_id, at=now)
            if online:
                came_online.append(device)
        return came_online

    async def _touch_last_seen(self, session: AsyncSession, accepted: list[_Accepted], now: datetime) -> None:
        seen = {a.device.id for a in accepted
                if not (isinstance(a.payload, StatusPayload) and a.payload.state == "offline")}
        if not seen:
            return
        ids = sorted(seen)
        for start in range(0, len(ids), 500):
            await session.execute(
                update(Device).where(Device.id.in_(ids[start:start + 500])).values(last_seen_at=now)
                .execution_options(synchronize_session=False))

    async def _dead_letter(self, session: AsyncSession, refused: list[tuple[Message, str, str]],
                           now: datetime) -> None:
        if not refused:
            return
        rows: dict[str, dict[str, Any]] = {}
        for message, reason, detail in refused:
            fingerprint = hashlib.sha256(message.topic.encode("utf-8", "replace") + b"\0"
                                         + message.payload).hexdigest()
            if fingerprint in rows:
                rows[fingerprint]["occurrences"] += 1
                continue
            rows[fingerprint] = {
                "fingerprint": fingerprint, "received_at": now, "last_received_at": now,
                "topic": message.topic[:1024], "payload": message.payload[:DEAD_LETTER_PAYLOAD_BYTES],
                "payload_size": len(message.payload), "reason": reason, "detail": detail[:2000],
                "occurrences": 1,
            }
        insert = upsert_insert(session)(DeadLetter)
        statement = insert.on_conflict_do_update(
            index_elements=[DeadLetter.fingerprint],
            set_={"occurrences": DeadLetter.occurrences + insert.excluded.occurrences,
                  "last_received_at": now},
        )
        await session.execute(statement, list(rows.values()))
