"""GET /api/tickets and GET /api/tickets/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from server.auth.schemas import CurrentUser
from server.deps import DbSession, User, client_label
from server.errors import InvalidInput
from server.ids import in_range
from server.pagination import Limit, Offset
from server.tickets import lifecycle, service
from server.tickets.models import TicketKind, TicketStatus
from server.tickets.publish import after_commit
from server.tickets.schemas import TicketDetail, TicketPage
from server.tickets.schemas_write import TicketAction, TicketCreate

_STATUSES = {s.value for s in TicketStatus}
_KINDS = {k.value for k in TicketKind}


def _assignee(raw: str | None, user: CurrentUser) -> int | None:
    if raw is None:
        return None
    if raw == "me":
        return user.id
    if raw.isdigit() and in_range(int(raw)):
        return int(raw)
    raise InvalidInput.at("assignee", "Use `me` or a staff user id.", "bad assignee", source="query")


def _csv(raw: str | None, allowed: set[str], name: str) -> list[str] | None:
    if not raw:
        return None
    values = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InvalidInput(
            f"{name} {', '.join(bad)} is not one of {', '.join(sorted(allowed))}",
            code="validation.field",
            errors=[{"field": name, "source": "query", "message": "unknown value"}],
        )
    return values


class TicketController(Controller):
    path = "/api/tickets"
    tags = ["tickets"]

    @get("/", summary="Tickets in the caller's buildings, newest first")
    async def list_tickets(
        self,
        db: DbSession,
        user: User,
        status: Annotated[
            str | None, QueryParameter(description="Comma-separated: " + ", ".join(sorted(_STATUSES)))
        ] = None,
        kind: Annotated[
            str | None, QueryParameter(description="Comma-separated: " + ", ".join(sorted(_KINDS)))
        ] = None,
        building: Annotated[str | None, QueryParameter(description="Building slug, e.g. b1")] = None,
        assignee: Annotated[
            str | None, QueryParameter(description="`me` (the phone's dispatch inbox) or a staff user id")
        ] = None,
        since: Annotated[
            datetime | None,
            QueryParameter(description="Only tickets changed at or after this time (ISO 8601 with offset)"),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> TicketPage:
        if since is not None and since.tzinfo is None:
            raise InvalidInput(
                "since needs a UTC offset, e.g. 2026-11-26T08:00:00+08:00",
                code="validation.field",
                errors=[{"field": "since", "source": "query", "message": "missing offset"}],
            )
        return await service.list_tickets(
            db,
            user,
            status=_csv(status, _STATUSES, "status"),
            kind=_csv(kind, _KINDS, "kind"),
            building=building,
            since=since,
            limit=limit,
            offset=offset,
            assignee_id=_assignee(assignee, user),
        )

    @get("/{ticket_id:int}", summary="One ticket with its audit trail")
    async def get_ticket(self, db: DbSession, user: User, ticket_id: FromPath[int]) -> TicketDetail:
        return await service.get_ticket(db, user, ticket_id)

    @post("/", summary="Open a repair, complaint or help request (the caller is its first receiver)")
    async def create(
        self, request: Request[Any, Any, Any], db: DbSession, user: User, data: JSONBody[TicketCreate]
    ) -> Response[TicketDetail]:
        now = request.app.state.clock()
        outcome = await lifecycle.create_ticket(db, lifecycle.Actor(user, client_label(request)), data, now)
        after_commit(request, outcome)
        detail = await service.get_ticket(db, user, outcome.ticket_id)
        return Response(detail, status_code=200 if outcome.replayed else 201)

    @post(
        "/{ticket_id:int}/actions",
        status_code=200,
        summary="Take a step: acknowledge, dispatch, arrive, resolve, follow_up, postpone …",
    )
    async def act(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        user: User,
        ticket_id: FromPath[int],
        data: JSONBody[TicketAction],
    ) -> TicketDetail:
        now = request.app.state.clock()
        outcome = await lifecycle.act(db, lifecycle.Actor(user, client_label(request)), ticket_id, data, now)
        after_commit(request, outcome)
        return await service.get_ticket(db, user, outcome.ticket_id)
