"""GET /api/desk/stream: server-sent events of ticket and device changes.

Fed from the desk_events table, so any server process can serve any desk; the
in-process change bus only makes it prompt. Each event carries the entity's
current state, so replaying one twice is harmless for the desk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import func, select

from server.auth.schemas import CurrentUser
from server.deps import User
from server.devices.service import list_devices_by_id
from server.errors import InvalidInput
from server.tickets.models import DeskEvent
from server.tickets.service import tickets_by_id

POLL_S = 0.5  # other processes' changes arrive within this
HEARTBEAT_S = 15.0
BATCH = 200


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
        raise InvalidInput("Last-Event-ID must be a number (the id of the last event seen).") from None
    if value < 0:
        raise InvalidInput("Last-Event-ID must not be negative.")
    return value


@get(
    "/api/desk/stream",
    tags=["desk"],
    summary="Live ticket and device changes (server-sent events)",
    description="Reconnect with the `Last-Event-ID` header (or `?last_event_id=`) to receive every "
    "change since that event. Without it the stream starts from now.",
)
async def desk_stream(request: Request[Any, Any, Any], user: User) -> ServerSentEvent:
    start = _start_id(request)
    sessionmaker = request.app.state.sessionmaker
    if start is None:
        async with sessionmaker() as session:
            start = int(await session.scalar(select(func.coalesce(func.max(DeskEvent.id), 0))) or 0)
    return ServerSentEvent(_events(request, user, start), retry_duration=2000)


async def _events(
    request: Request[Any, Any, Any], user: CurrentUser, last: int
) -> AsyncIterator[ServerSentEventMessage]:
    app = request.app
    encoder = msgspec.json.Encoder()
    yield ServerSentEventMessage(data=None, comment=f"fieldops desk stream from event {last}")
    async with app.state.changes.subscribe() as wakeups:
        idle = 0.0
        while True:
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
