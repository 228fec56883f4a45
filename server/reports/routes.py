"""GET /api/reports/daily-clearing and /api/reports/complaints: JSON, CSV or XLSX."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter

from server.auth.guards import requires_role
from server.auth.models import DESK_ROLES, Role
from server.deps import DbSession, User
from server.errors import InvalidInput, NotFound
from server.reports import export, service

Format = Annotated[Literal["json", "csv", "xlsx"], QueryParameter(description="json, csv or xlsx")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body: bytes, media_type: str, filename: str) -> Response[bytes]:
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]
    guards = [requires_role(*DESK_ROLES, Role.SPECIALIST)]

    @get("/daily-clearing", summary="日清日审: every open request with its limits, overdue first")
    async def daily_clearing(
        self,
        request: Request[Any, Any, Any],
        db: DbSession,
        user: User,
        building: Annotated[str | None, QueryParameter(description="Building slug")] = None,
        format: Format = "json",
    ) -> Any:
        try:
            report = await service.daily_clearing(db, user, request.app.state.clock(), building)
        except LookupError:
            raise NotFound("No estate is loaded.") from None
        tz = ZoneInfo((await service.site_of(db)).timezone)
        if format == "csv":
            return _download(
                export.to_csv(report.rows, export.CLEARING_COLUMNS, tz),
                "text/csv; charset=utf-8",
                f"daily-clearing-{report.day}.csv",
            )
        if format == "xlsx":
            return _download(export.clearing_xlsx(report, tz), XLSX, f"daily-clearing-{report.day}.xlsx")
        return report

    @get("/complaints", summary="投诉记录汇总表: the month's complaints per class, department and building")
    async def complaints(
        self,
        db: DbSession,
        user: User,
        month: Annotated[str, QueryParameter(description="YYYY-MM", pattern=r"^\d{4}-\d{2}$")],
        format: Format = "json",
    ) -> Any:
        try:
            report = await service.complaint_summary(db, user, month)
        except LookupError:
            raise NotFound("No estate is loaded.") from None
        except ValueError as exc:
            raise InvalidInput.at("month", str(exc), source="query") from None
        tz = ZoneInfo((await service.site_of(db)).timezone)
        if format == "csv":
            return _download(
                export.to_csv(report.rows, export.SUMMARY_COLUMNS, tz),
                "text/csv; charset=utf-8",
                f"complaints-{month}.csv",
            )
        if format == "xlsx":
            return _download(export.summary_xlsx(report, tz), XLSX, f"complaints-{month}.xlsx")
        return report
