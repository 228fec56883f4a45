"""GET /api/staff: who can take a ticket, with each one's open load (for dispatch)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter
from sqlalchemy import func, select

from server.auth.guards import requires_role
from server.auth.models import DESK_ROLES, Role, StaffUser, staff_buildings
from server.deps import DbSession
from server.estates.models import Building
from server.tickets.models import ACTIVE_STATUSES, Ticket


class StaffRead(msgspec.Struct):
    id: int
    username: str
    display_name: str
    roles: list[str]
    buildings: list[str]
    open_tickets: int
    # The building's own specialist: the desk's first choice when dispatching.
    suggested: bool = False


class StaffController(Controller):
    path = "/api/staff"
    tags = ["staff"]
    guards = [requires_role(*DESK_ROLES)]

    @get("/", summary="Staff who can take tickets, with their open load; the building's own first")
    async def list_staff(
        self,
        db: DbSession,
        building: Annotated[
            str | None, QueryParameter(description="Suggest this building's specialist")
        ] = None,
    ) -> list[StaffRead]:
        users = list(
            (
                await db.scalars(
                    select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.username)
                )
            ).all()
        )
        scopes: dict[int, list[str]] = {}
        for user_id, slug in await db.execute(
            select(staff_buildings.c.user_id, Building.slug).join(
                Building, Building.id == staff_buildings.c.building_id
            )
        ):
            scopes.setdefault(user_id, []).append(slug)
        loads = dict(
            (
                await db.execute(
                    select(Ticket.assignee_id, func.count())
                    .where(Ticket.status.in_(ACTIVE_STATUSES), Ticket.assignee_id.is_not(None))
                    .group_by(Ticket.assignee_id)
                )
            ).all()
        )
        takers = {Role.SPECIALIST, Role.ENGINEER}
        result = [
            StaffRead(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                roles=list(u.roles),
                buildings=sorted(scopes.get(u.id, [])),
                open_tickets=int(loads.get(u.id, 0)),
                suggested=building is not None
                and building in scopes.get(u.id, [])
                and Role.SPECIALIST in u.roles,
            )
            for u in users
            if set(u.roles) & takers
        ]
        return sorted(result, key=lambda s: (not s.suggested, s.open_tickets, s.username))
