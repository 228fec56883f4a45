"""SLA fixtures: the demo estate's ids, tickets made with the ORM, times in the site's zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.auth.models import StaffUser
from server.estates.models import Building, Site
from server.sla.clocks import apply_due_times
from server.tickets.models import Ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time at the demo estate (新外滩, Asia/Shanghai)."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class Estate:
    site_id: int
    b1: int
    b2: int
    staff: dict[str, int]  # username → id


@pytest.fixture
async def estate(db: async_sessionmaker[AsyncSession]) -> Estate:
    async with db() as session:
        site = await session.scalar(select(Site.id).where(Site.slug == "xinwaitan"))
        buildings = {r.slug: r.id for r in await session.execute(select(Building.slug, Building.id))}
        staff = {r.username: r.id for r in await session.execute(select(StaffUser.username, StaffUser.id))}
    assert site is not None
    return Estate(site_id=site, b1=buildings["b1"], b2=buildings["b2"], staff=staff)


async def open_ticket(db: async_sessionmaker[AsyncSession], estate: Estate, opened_at: datetime, *,
                      apply: bool = True, **fields: Any) -> int:
    """Insert a ticket opened at ``opened_at`` (building b1 unless said) and set its due times."""
    values: dict[str, Any] = {"kind": "alarm", "type": "elevator.trapped", "severity": "critical",
                              "title": "困梯 1号梯", "source": "desk", "building_id": estate.b1}
    values.update(fields)
    async with db() as session, session.begin():
        ticket = Ticket(site_id=estate.site_id, opened_at=opened_at, updated_at=opened_at, **values)
        session.add(ticket)
        await session.flush()
        if apply:
            await apply_due_times(session, ticket, opened_at)
        return ticket.id


async def change_ticket(db: async_sessionmaker[AsyncSession], ticket_id: int, **fields: Any) -> None:
    async with db() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        for name, value in fields.items():
            setattr(ticket, name, value)


async def load_ticket(db: async_sessionmaker[AsyncSession], ticket_id: int) -> Ticket:
    async with db() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


@pytest.fixture
def sla_app(app: Any) -> Any:
    """The test app with the calendar and SLA routes (registered here until app.py does it)."""
    from server.calendar.routes import CalendarController
    from server.sla.routes import SlaBreachController, TicketSlaController

    paths = {route.path for route in app.routes}
    for controller, path in ((CalendarController, "/api/calendar/{site_slug:str}/{year:int}"),
                             (TicketSlaController, "/api/tickets/{ticket_id:int}/sla"),
                             (SlaBreachController, "/api/sla/breaches")):
        if path not in paths:
            app.register(controller)
    return app


@pytest.fixture
async def sla_client(sla_app: Any) -> AsyncIterator[Any]:
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=sla_app) as test_client:
        yield test_client
