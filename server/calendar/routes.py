"""GET /api/calendar/{site}/{year}; PUT and DELETE /api/calendar/{site}/days/{day} (admin, supervisor)."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Request, delete, get, put
from litestar.params import FromPath, JSONBody

from server.auth.guards import requires_role
from server.auth.models import Role
from server.calendar import overrides
from server.calendar.schemas import CalendarDayUpdate, CalendarYear
from server.deps import DbSession, User
from server.errors import InvalidInput

# Who may change what counts as a working day: it moves every complaint deadline.
EDITORS = (Role.ADMIN, Role.SUPERVISOR)


class CalendarController(Controller):
    path = "/api/calendar/{site_slug:str}"
    tags = ["calendar"]

    @get("/{year:int}", summary="A year's non-ordinary days at a site: holidays, 调休, overrides")
    async def year(self, db: DbSession, site_slug: FromPath[str], year: FromPath[int]) -> CalendarYear:
        if not 1900 <= year <= 2200:
            raise InvalidInput(f"year {year} is out of range",
                               errors=[{"field": "year", "source": "path", "message": "1900–2200"}])
        return await overrides.year_view(db, site_slug, year)

    @put("/days/{day:date}", guards=[requires_role(*EDITORS)], status_code=200,
         summary="Make a day working or not at the site (over the official schedule)")
    async def set_day(self, request: Request, db: DbSession, user: User, site_slug: FromPath[str],
                      day: FromPath[date], data: JSONBody[CalendarDayUpdate]) -> CalendarYear:
        await overrides.set_day(db, site_slug, day, is_working=data.is_working, note=data.note,
                                editor_id=user.id, now=request.app.state.clock())
        return await overrides.year_view(db, site_slug, day.year)

    @delete("/days/{day:date}", guards=[requires_role(*EDITORS)], status_code=204,
            summary="Drop the site's override of a day")
    async def drop_day(self, db: DbSession, user: User, site_slug: FromPath[str], day: FromPath[date]
                       ) -> None:
        await overrides.drop_day(db, site_slug, day, editor_id=user.id)
