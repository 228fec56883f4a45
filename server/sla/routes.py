"""GET /api/tickets/{id}/sla and GET /api/sla/breaches."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter

from server.deps import DbSession, User
from server.errors import InvalidInput
from server.pagination import Limit, Offset
from server.sla import service
from server.sla.policy import SlaClock
from server.sla.schemas import BreachPage, TicketSla

_CLOCKS = sorted(c.value for c in SlaClock)


class TicketSlaController(Controller):
    path = "/api/tickets/{ticket_id:int}/sla"
    tags = ["sla"]

    @get("/", summary="The ticket's SLA clocks: due, met, breached, announced; its escalations")
    async def ticket_sla(
        self, request: Request, db: DbSession, user: User, ticket_id: FromPath[int]
    ) -> TicketSla:
        # The app's clock, as the lifecycle uses: "time left" agrees with the deadlines.
        return await service.ticket_sla(db, user, ticket_id, request.app.state.clock())


class SlaBreachController(Controller):
    path = "/api/sla"
    tags = ["sla"]

    @get("/breaches", summary="SLA breaches in the caller's buildings, newest deadline first, counted")
    async def breaches(
        self,
        db: DbSession,
        user: User,
        since: Annotated[datetime | None, QueryParameter(
            description="Only breaches whose deadline fell at or after this (ISO 8601 with offset)")] = None,
        building: Annotated[str | None, QueryParameter(description="Building slug, e.g. b1")] = None,
        clock: Annotated[str | None, QueryParameter(description="One of: " + ", ".join(_CLOCKS))] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> BreachPage:
        if since is not None and since.tzinfo is None:
            raise InvalidInput("since needs a UTC offset, e.g. 2026-11-26T08:00:00+08:00",
                               errors=[{"field": "since", "source": "query", "message": "missing offset"}])
        if clock is not None and clock not in _CLOCKS:
            raise InvalidInput(f"clock {clock} is not one of {', '.join(_CLOCKS)}",
                               errors=[{"field": "clock", "source": "query", "message": "unknown value"}])
        return await service.list_breaches(db, user, since=since, building=building, clock=clock,
                                           limit=limit, offset=offset)
