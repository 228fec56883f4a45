"""Who sees a ticket: the estate-wide roles every one; the others the tickets of the buildings they
cover, and any ticket assigned to them. Engineering (工程部) covers no building of its own but takes
repairs in all of them: a dispatched engineer must see, and act on, what the desk sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_

from server.auth.schemas import CurrentUser
from server.tickets.models import Ticket


def visible(query: Any, user: CurrentUser) -> Any:
    """``query`` (over Ticket) limited to what ``user`` may see; scope lives in the query."""
    if user.building_ids is None:
        return query
    return query.where(or_(Ticket.building_id.in_(user.building_ids), Ticket.assignee_id == user.id))


def may_see(user: CurrentUser, ticket: Ticket) -> bool:
    return user.may_see_building(ticket.building_id) or ticket.assignee_id == user.id
