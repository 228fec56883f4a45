"""/api/patrols: checkpoints, templates, today's list, the outbox sync, tag sheets, reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.security.jwt import JWTAuth, Token

from server.auth.models import DESK_ROLES
from server.auth.schemas import CurrentUser
from server.deps import DbSession, User, client_label
from server.errors import Forbidden, InvalidInput
from server.patrols import schedule, service, sheets, templates
from server.patrols.schemas import (
    BuildingReport,
    CheckpointDetail,
    CheckpointRead,
    ComplianceReport,
    DeviceSyncRead,
    SyncBatch,
    SyncResult,
    TodayList,
    TokenRefresh,
)
from server.patrols.sync import sync_batch
from server.patrols.tags import tag_key
from server.tickets.publish import after_commit


def _key(state: State) -> bytes:
    key: bytes | None = state.get("patrol_tag_key")
    if key is None:
        key = tag_key(state.settings.signing_key())
        state.patrol_tag_key = key
    return key


def _now(state: State) -> datetime:
    now: datetime = state.clock()
    return now


class PatrolController(Controller):
    path = "/api/patrols"
    tags = ["patrols"]

    @get("/checkpoints", summary="Checkpoints in the caller's buildings, with their tag content")
    async def checkpoints(self, db: DbSession, user: User, state: State,
                          building: FromQuery[str | None] = None) -> list[CheckpointRead]:
        return await service.list_checkpoints(db, user, _key(state), building)

    @get("/checkpoints/{checkpoint_id:int}", summary="One checkpoint with live hints (devices, hours)")
    async def checkpoint(self, db: DbSession, user: User, state: State,
                         checkpoint_id: FromPath[int]) -> CheckpointDetail:
        return await service.checkpoint_detail(db, user, _key(state), checkpoint_id, _now(state))

    @get("/templates", summary="The current version of every checklist template")
    async def templates(self) -> list[dict[str, Any]]:
        return [service.template_wire(t) for t in templates.current_templates()]

    @get("/today", summary="What is due and overdue in the caller's buildings")
    async def today(self, db: DbSession, user: User, state: State) -> TodayList:
        now = _now(state)
        return TodayList(now=now, items=await schedule.today(db, user.building_ids, now))

    @post("/sync", status_code=200, summary="Replay outbox items in order (idempotent by client UUID)")
    async def sync(self, db: DbSession, user: User, state: State, data: JSONBody[SyncBatch],
                   request: Request[Any, Any, Any]) -> Response[SyncResult]:
        client = f"pwa:{data.device_id}" if client_label(request) == "api" else client_label(request)
        outcome = await sync_batch(db, user, data, _now(state), _key(state), client)
        for ticket in outcome.tickets:
            after_commit(request, ticket)
        # A failure still commits the items before it: the phone drops those and keeps the rest.
        return Response(outcome.result, status_code=outcome.status)

    @get("/devices", summary="Phones and their last sync (stale ones flagged)")
    async def devices(self, db: DbSession, user: User, state: State) -> list[DeviceSyncRead]:
        _oversight(user)
        return await service.device_syncs(db, _now(state))

    @get("/report", summary="Per building: specialists' patrols, missed patrols, plausibility flags")
    async def report(
        self, db: DbSession, user: User, state: State, building: FromQuery[str],
        since: Annotated[datetime | None, QueryParameter(description="ISO 8601 with offset")] = None,
        until: Annotated[datetime | None, QueryParameter(description="ISO 8601 with offset")] = None,
    ) -> BuildingReport:
        _oversight(user)
        now = _now(state)
        until = until or now
        since = since or until - timedelta(days=30)
        if since.tzinfo is None or until.tzinfo is None:
            raise InvalidInput.at("since", "since and until need a UTC offset.", "no offset", "query")
        found = await service.building_in_scope(db, user, building)
        return await service.building_report(db, found, since, until, now)

    @get("/compliance", summary="Supervisor's page: due, done and missed patrols per building and specialist")
    async def compliance(
        self, db: DbSession, user: User, state: State, building: FromQuery[str | None] = None,
        month: Annotated[str | None, QueryParameter(description="YYYY-MM (site time); default this month",
                                                    pattern=r"^\d{4}-\d{2}$")] = None,
        first: Annotated[date | None, QueryParameter(description="first local day of a range")] = None,
        last: Annotated[date | None, QueryParameter(description="last local day, included")] = None,
    ) -> ComplianceReport:
        _oversight(user)
        now = _now(state)
        since, until = await service.compliance_range(db, now, month, first, last)
        return await service.compliance_report(db, user, since, until, now, building)

    @get("/buildings/{building:str}/tags.svg", summary="A4 tag sheet page (SVG)", media_type="image/svg+xml")
    async def sheet_svg(self, db: DbSession, user: User, state: State, building: FromPath[str],
                        page: Annotated[int, QueryParameter(ge=1)] = 1) -> Response[str]:
        found = await service.building_in_scope(db, user, building)
        labels = await service.tag_labels(db, found, _key(state))
        pages = sheets.page_count(labels)
        if page > pages:
            raise InvalidInput.at("page", f"The sheet has {pages} pages.", "beyond the last", "query")
        return Response(sheets.sheet_svg(labels, found.name, page), media_type="image/svg+xml",
                        headers={"X-Total-Pages": str(pages)})

    @get("/buildings/{building:str}/tags.html", summary="Every tag sheet page, printable",
         media_type="text/html")
    async def sheet_html(self, db: DbSession, user: User, state: State,
                         building: FromPath[str]) -> Response[str]:
        found = await service.building_in_scope(db, user, building)
        labels = await service.tag_labels(db, found, _key(state))
        return Response(sheets.sheet_html(labels, found.name), media_type="text/html")

    @post("/token", status_code=200, summary="A fresh token for a still-valid one (the app stays logged in)")
    async def refresh(self, request: Request[CurrentUser, Token, Any], state: State) -> TokenRefresh:
        jwt_auth: JWTAuth[CurrentUser, Token] = state.jwt_auth
        ttl = jwt_auth.default_token_expiration
        token = jwt_auth.create_token(identifier=str(request.user.id), token_expiration=ttl)
        return TokenRefresh(token=token, expires_in=int(ttl.total_seconds()))


def _oversight(user: CurrentUser) -> None:
    if not user.has_role(*DESK_ROLES):
        raise Forbidden("Only the desk, supervisors and managers see this.")


PATROL_ROUTES: list[Any] = [PatrolController]
