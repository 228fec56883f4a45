"""GET /api/desk/stream: server-sent events of ticket and device changes.

Fed from the desk_events table, so any server process can serve any desk; the
in-process change bus only makes it prompt. Each event carries the entity's
current state, so replaying one twice is harmless for the desk.

The first event (``ready``) carries the id the stream starts after, so a desk that
drops before any change still resumes without a gap (EventSource's Last-Event-ID
works from the first connect). Every few seconds a ``seen`` event (no id: it is a
summary, not a change) lists the devices heard since the last one, so "last heard"
stays current without a desk event per device message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import func, select

from server.auth.schemas import CurrentUser
from server.deps import User
from server.devices.models import Device
from server.devices.service import list_devices_by_id
from server.errors import InvalidInput
from server.tickets.models import DeskEvent
from server.tickets.service import tickets_by_id

POLL_S = 0.5  # other processes' changes arrive within this
HEARTBEAT_S = 15.0
BATCH = 200
SEEN_EVERY_S = 5.0  # how often "last heard" times are sent
SEEN_OVERLAP = timedelta(seconds=2)  # re-read this far back: a slower writer may commit an older time
SEEN_BATCH = 2000


class DeskMessage(msgspec.Struct):
    action: str
    at: str
    ticket: Any = None
    device: Any = None


def _start_id(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            "Last-Event-ID must be a number (the id of the last event seen).", code="stream.bad_last_event_id"
        ) from None
    if value < 0:
        raise InvalidInput("Last-Event-ID must not be negative.", code="stream.bad_last_event_id")
    return value


@get(
    "/api/desk/stream",
    tags=["desk"],
    summary="Live ticket and device changes (server-sent events)",
    description="Reconnect with the `Last-Event-ID` header (or `?last_event_id=`) to receive every "
    "change since that event. Without it the stream starts from now. Events: `ready` first (its id "
    "is where the stream starts), then `ticket` and `device` changes (id = desk event id), and "
    "`seen` every few seconds (no id) with the devices heard since.",
)
async def desk_stream(request: Request[Any, Any, Any], user: User) -> ServerSentEvent:
    start = _start_id(request)
    resumed = start is not None
    sessionmaker = request.app.state.sessionmaker
    if start is None:
        async with sessionmaker() as session:
            start = int(await session.scalar(select(func.coalesce(func.max(DeskEvent.id), 0))) or 0)
    return ServerSentEvent(_events(request, user, start, resumed=resumed), retry_duration=2000)


class ReadyMessage(msgspec.Struct):
    last_event_id: int  # the stream sends every change after this one
    resumed: bool  # true when the client asked to resume (Last-Event-ID)


class DeviceSeen(msgspec.Struct):
    id: int
    last_seen_at: datetime


class SeenMessage(msgspec.Struct):
    devices: list[DeviceSeen]


class _SeenWatch:
    """Which devices were heard since the last look, each (device, time) sent once."""

    def __init__(self, user: CurrentUser, since: datetime) -> None:
        self.user = user
        self.since = since
        self.sent: dict[int, datetime] = {}

    async def poll(self, session: Any) -> list[DeviceSeen]:
        query = (
            select(Device.id, Device.last_seen_at)
            .where(Device.last_seen_at > self.since - SEEN_OVERLAP)
            .order_by(Device.last_seen_at)
            .limit(SEEN_BATCH)
        )
        if self.user.building_ids is not None:
            query = query.where(Device.building_id.in_(self.user.building_ids))
        fresh = []
        for device_id, seen_at in (await session.execute(query)).all():
            if seen_at is None or self.sent.get(device_id) == seen_at:
                continue
            self.sent[device_id] = seen_at
            fresh.append(DeviceSeen(device_id, seen_at))
            self.since = max(self.since, seen_at)
        horizon = self.since - SEEN_OVERLAP
        self.sent = {k: v for k, v in self.sent.items() if v > horizon}
        return fresh


async def _events(
    request: Request[Any, Any, Any], user: CurrentUser, last: int, *, resumed: bool = False
) -> AsyncIterator[ServerSentEventMessage]:
    app = request.app
    encoder = msgspec.json.Encoder()
    # A real event with an id: EventSource and our fetch reader both keep it as their
    # Last-Event-ID, so even a drop before the first change resumes from here. The comment line
    # before it is for humans and for clients that only wait for the stream to open (bench/).
    ready = encoder.encode(ReadyMessage(last_event_id=last, resumed=resumed)).decode()
    yield ServerSentEventMessage(
        data=ready, event="ready", id=last, comment=f"fieldops desk stream from event {last}"
    )
    seen = _SeenWatch(user, app.state.clock())
    next_seen = time.monotonic() + SEEN_EVERY_S
    async with app.state.changes.subscribe() as wakeups:
        idle = 0.0
        while True:
            if time.monotonic() >= next_seen:
                next_seen = time.monotonic() + SEEN_EVERY_S
                async with app.state.sessionmaker() as session:
                    heard = await seen.poll(session)
                if heard:
                    data = encoder.encode(SeenMessage(heard)).decode()
                    yield ServerSentEventMessage(data=data, event="seen")
            sent = 0
            async with app.state.sessionmaker() as session:
                query = select(DeskEvent).where(DeskEvent.id > last).order_by(DeskEvent.id).limit(BATCH)
                if user.building_ids is not None:
                    query = query.where(DeskEvent.building_id.in_(user.building_ids))
                rows = list((await session.scalars(query)).all())
                ticket_ids = {r.entity_id for r in rows if r.topic == "ticket"}
                device_ids = {r.entity_id for r in rows if r.topic == "device"}
                tickets = await tickets_by_id(session, user, ticket_ids)
                devices = await list_devices_by_id(session, user, device_ids)
            for row in rows:
                last = row.id
                message = DeskMessage(
                    action=row.action,
                    at=row.at.isoformat(),
                    ticket=tickets.get(row.entity_id) if row.topic == "ticket" else None,
                    device=devices.get(row.entity_id) if row.topic == "device" else None,
                )
                data = encoder.encode(message).decode()
                yield ServerSentEventMessage(data=data, event=row.topic, id=row.id)
                sent += 1
            if sent == BATCH:
                continue
            try:
                await asyncio.wait_for(wakeups.get(), timeout=POLL_S)
                idle = 0.0
            except TimeoutError:
                idle += POLL_S
                if idle >= HEARTBEAT_S:
                    idle = 0.0
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
