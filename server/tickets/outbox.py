"""Ticket steps taken on the phone (the dispatch inbox), and requests a specialist takes in
person (a resident stops them on the stairs), replayed through the phone's outbox.

The outbox item's UUID becomes the write's client id and its device time the write's
device time, so a replay through the outbox or a retry through the tickets API is the
same write, answered once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from server.ids import DbId
from server.tickets import lifecycle
from server.tickets.schemas_write import TicketAction, TicketCreate

if TYPE_CHECKING:
    from server.patrols.schemas import SyncItem
    from server.patrols.sync import SyncContext


class TicketActionPayload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    ticket_id: DbId
    action: TicketAction


async def act_from_outbox(ctx: SyncContext, item: SyncItem) -> tuple[dict[str, Any], list[lifecycle.Outcome]]:
    from server.patrols.sync import decode_payload

    payload = decode_payload(item.payload, TicketActionPayload)
    action = msgspec.structs.replace(
        payload.action, client_action_id=item.id, device_time=payload.action.device_time or item.device_time
    )
    outcome = await lifecycle.act(
        ctx.session, lifecycle.Actor(ctx.user, ctx.client), payload.ticket_id, action, ctx.now
    )
    return {"ticket_id": outcome.ticket_id, "action": outcome.action}, [outcome]


async def create_from_outbox(
    ctx: SyncContext, item: SyncItem
) -> tuple[dict[str, Any], list[lifecycle.Outcome]]:
    """A request taken in person: the specialist is its first receiver (首问责任), the desk dispatches."""
    from server.patrols.sync import decode_payload

    payload = decode_payload(item.payload, TicketCreate)
    data = msgspec.structs.replace(payload, client_action_id=item.id,
                                   device_time=payload.device_time or item.device_time)
    outcome = await lifecycle.create_ticket(ctx.session, lifecycle.Actor(ctx.user, ctx.client), data, ctx.now)
    return {"ticket_id": outcome.ticket_id}, [outcome]
