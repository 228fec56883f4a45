"""/api/move-ins: inspections (recorded through the phone's outbox, /api/patrols/sync), the checklist,
what is due, the unit picker and the signed form as a PDF."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import anyio.to_thread
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter
from sqlalchemy import select

from server.attachments.models import Attachment
from server.deps import DbSession, User
from server.estates.models import Site
from server.movein import service, templates
from server.movein.form import FormData, Lang, image_ids, render_form
from server.movein.schemas import MoveInDueList, MoveInPage, UnitChoicePage
from server.pagination import Limit, Offset


def _now(state: State) -> datetime:
    now: datetime = state.clock()
    return now


class MoveInController(Controller):
    path = "/api/move-ins"
    tags = ["move-ins"]

    @get("/", summary="Move-in inspections in the caller's buildings, newest handover first")
    async def list_inspections(
        self, db: DbSession, user: User,
        building: Annotated[str | None, QueryParameter(description="Building slug, e.g. b1")] = None,
        unit: Annotated[str | None, QueryParameter(description="Unit slug, e.g. b1-1203")] = None,
        stage: Annotated[Literal["handover", "second"] | None, QueryParameter(description="Stage")] = None,
        limit: Limit = 50, offset: Offset = 0,
    ) -> MoveInPage:
        return await service.list_inspections(db, user, building=building, unit=unit, stage=stage,
                                              limit=limit, offset=offset)

    @get("/templates", summary="The current move-in checklist(s): items, sections, meters and tolerances")
    async def templates(self) -> list[dict[str, Any]]:
        return [templates.template_wire(t) for t in templates.current_templates()]

    @get("/due", summary="Second inspections due, then move-ins whose rectifications are still open")
    async def due(self, db: DbSession, user: User, state: State) -> MoveInDueList:
        return await service.due(db, user, _now(state))

    @get("/units", summary="Units in the caller's buildings for the unit picker, vacant first")
    async def units(
        self, db: DbSession, user: User,
        q: Annotated[str | None, QueryParameter(
            description="Part of the unit slug (1203, b1-12) or of the owner's name", max_length=64)] = None,
        building: Annotated[str | None, QueryParameter(description="Building slug, e.g. b1")] = None,
        limit: Limit = 100, offset: Offset = 0,
    ) -> UnitChoicePage:
        return await service.unit_choices(db, user, q=q, building=building, limit=limit, offset=offset)

    @get("/{ref:str}", summary="One inspection (JSON); `{id}.pdf` is its signed form as a PDF",
         description="`GET /api/move-ins/{id}` answers the inspection with its answers, readings (typed "
         "and smart meter values, status), cards and ticket ids. `GET /api/move-ins/{id}.pdf?lang=zh-CN` "
         "(or `lang=en`) answers the signed form (房屋验收表) as application/pdf.")
    async def one(
        self, db: DbSession, user: User, state: State, ref: FromPath[str],
        lang: Annotated[Lang, QueryParameter(description="Language of the PDF form")] = "zh-CN",
    ) -> Response[Any]:
        if ref.lower().endswith(".pdf"):
            return await _pdf(db, user, ref[:-4], lang)
        record = await service.inspection_record(db, user, ref)
        due = await service.due_of(db, user, record.inspection, _now(state))
        return Response(service.inspection_read(record, due))


async def _pdf(db: DbSession, user: User, inspection_id: str, lang: Lang) -> Response[bytes]:
    record = await service.inspection_record(db, user, inspection_id)
    site = await db.get(Site, record.inspection.site_id)
    wanted = image_ids(record)
    images = {a.id: a.data for a in await db.scalars(select(Attachment).where(Attachment.id.in_(wanted)))}
    data = FormData(record=record, site_name=site.name if site else "", images=images,
                    tz=ZoneInfo(site.timezone if site else "Asia/Shanghai"))
    pdf = await anyio.to_thread.run_sync(render_form, data, lang)
    name = f"move-in-{record.unit.slug}-{record.inspection.stage}-{lang}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


MOVE_IN_ROUTES: list[Any] = [MoveInController]
