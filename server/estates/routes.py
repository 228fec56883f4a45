"""GET /api/estate and GET /api/units."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import QueryParameter

from server.deps import DbSession, User
from server.estates import service
from server.estates.schemas import EstateRead, UnitPage
from server.pagination import Limit, Offset


class EstateController(Controller):
    path = "/api/estate"
    tags = ["estate"]

    @get(
        "/",
        summary="The caller's estate: name, time zone and the buildings they may see",
        description="Screens show times in `timezone` and buildings by `name`; a specialist gets only "
        "their own buildings.",
    )
    async def get_estate(self, db: DbSession, user: User) -> EstateRead:
        return await service.get_estate(db, user)


class UnitController(Controller):
    path = "/api/units"
    tags = ["estate"]

    @get("/", summary="Units in the caller's buildings")
    async def list_units(
        self,
        db: DbSession,
        user: User,
        building: Annotated[str | None, QueryParameter(description="Building slug, e.g. b1")] = None,
        unit_state: Annotated[
            Literal["vacant", "occupied", "renovating"] | None,
            QueryParameter(name="state", description="Unit state"),
        ] = None,
        floor: Annotated[int | None, QueryParameter(ge=-20, le=300, description="Floor (below 0: basement)")
                         ] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> UnitPage:
        return await service.list_units(
            db, user, building=building, state=unit_state, floor=floor, limit=limit, offset=offset
        )
