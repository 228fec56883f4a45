"""GET /api/devices."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from server.deps import DbSession, User
from server.devices import service
from server.devices.schemas import DevicePage
from server.pagination import Limit, Offset


class DeviceController(Controller):
    path = "/api/devices"
    tags = ["devices"]

    @get("/", summary="Devices in the caller's buildings, with their online state")
    async def list_devices(
        self,
        db: DbSession,
        user: User,
        building: Annotated[str | None, QueryParameter(description="Building slug, e.g. b1")] = None,
        kind: FromQuery[Literal["elevator", "intercom", "meter", "access", "sensor"] | None] = None,
        online: FromQuery[bool | None] = None,
        unit: Annotated[str | None, QueryParameter(description="Unit slug, e.g. b1-1203")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> DevicePage:
        return await service.list_devices(db, user, building=building, kind=kind, online=online,
                                          unit=unit, limit=limit, offset=offset)
