"""Read APIs and bad input: filters, pagination, problem details that name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.devices.models import Device
from server.estates.models import Building
from server.tickets.models import Ticket
from tests.conftest import login


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"username": "desk"}', "password"),  # missing field
        ('{"username": 7, "password": "x"}', "username"),  # wrong type
        ('{"username": "", "password": "x"}', "username"),  # fails a constraint
        ('{"username": "desk", "password": "x", "admin": true}', "admin"),  # unknown field
    ],
)
async def test_bad_login_body_names_the_field(
    client: AsyncTestClient[Litestar], body: str, field: str
) -> None:
    response = await client.post("/api/auth/login", content=body,
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == 400
    assert field in problem["detail"]
    assert any(field in str(e.get("field")) or field in str(e.get("message")) for e in problem["errors"])


async def test_malformed_json_is_a_400_not_a_500(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/api/auth/login", content=b'{"username": "desk", "pass',
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


async def test_bad_query_parameters(client: AsyncTestClient[Litestar]) -> None:
    headers = await login(client, "desk")
    for url, field in [("/api/tickets?limit=0", "limit"), ("/api/tickets?limit=abc", "limit"),
                       ("/api/tickets?status=sleeping", "status"), ("/api/units?state=haunted", "state"),
                       ("/api/devices?kind=toaster", "kind"),
                       ("/api/tickets?since=2026-11-26T08:00:00", "since"),
                       ("/api/tickets?since=yesterday", "since")]:
        response = await client.get(url, headers=headers)
        assert response.status_code in (400, 422), url
        assert field in response.text, url
    assert (await client.get("/api/tickets/999999", headers=headers)).status_code == 404


async def test_unit_filters_and_pagination(client: AsyncTestClient[Litestar]) -> None:
    headers = await login(client, "desk")
    everything = (await client.get("/api/units?limit=500", headers=headers)).json()
    assert everything["total"] == 2 * 18 * 4
    vacant = (await client.get("/api/units?state=vacant&building=b2&limit=500", headers=headers)).json()
    assert vacant["total"] > 0
    assert all(u["state"] == "vacant" and u["building"] == "b2" for u in vacant["items"])
    pages = []
    for offset in (0, 50, 100, 150):
        page = (await client.get(f"/api/units?limit=50&offset={offset}", headers=headers)).json()
        pages += [u["slug"] for u in page["items"]]
    assert len(pages) == len(set(pages)) == everything["total"]  # stable order, no overlap


async def test_device_filters(
    client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession]
) -> None:
    async with db() as session, session.begin():
        await session.execute(update(Device).where(Device.slug == "b1-el1")
                              .values(online=True, last_seen_at=datetime.now(UTC)))
    headers = await login(client, "desk")
    elevators = (await client.get("/api/devices?kind=elevator", headers=headers)).json()
    assert sorted(d["slug"] for d in elevators["items"]) == ["b1-el1", "b1-el2", "b2-el1"]
    online = (await client.get("/api/devices?online=true", headers=headers)).json()
    assert [d["slug"] for d in online["items"]] == ["b1-el1"]
    assert online["items"][0]["last_seen_at"] is not None
    meters = (await client.get("/api/devices?unit=b1-1203&kind=meter", headers=headers)).json()
    assert sorted(d["role"] for d in meters["items"]) == ["electricity", "gas", "water"]


async def test_ticket_filters(
    client: AsyncTestClient[Litestar], db: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    async with db() as session, session.begin():
        b1 = await session.scalar(select(Building).where(Building.slug == "b1"))
        b2 = await session.scalar(select(Building).where(Building.slug == "b2"))
        assert b1 is not None
        assert b2 is not None
        session.add_all([
            Ticket(site_id=b1.site_id, building_id=b1.id, kind="alarm", type="elevator.trapped",
                   severity="critical", title="困梯", opened_at=now, updated_at=now),
            Ticket(site_id=b1.site_id, building_id=b2.id, kind="repair", type="leak", status="resolved",
                   title="漏水", opened_at=now - timedelta(days=2), updated_at=now - timedelta(days=2)),
        ])
    headers = await login(client, "desk")
    get = lambda q: client.get(f"/api/tickets?{q}", headers=headers)  # noqa: E731
    assert [t["type"] for t in (await get("kind=alarm")).json()["items"]] == ["elevator.trapped"]
    both = (await get("status=new,resolved")).json()["items"]
    assert [t["type"] for t in both] == ["elevator.trapped", "leak"]
    assert [t["building"] for t in (await get("building=b2")).json()["items"]] == ["b2"]
    since = (now - timedelta(hours=1)).isoformat()
    response = await client.get("/api/tickets", params={"since": since}, headers=headers)
    assert [t["type"] for t in response.json()["items"]] == ["elevator.trapped"]
    ticket = response.json()["items"][0]
    for field in ("kind", "type", "severity", "status", "building", "unit", "device", "opened_at",
                  "acknowledged_at", "on_site_at", "resolved_at", "ack_due_at", "on_site_due_at"):
        assert field in ticket
