"""Login, tokens, roles and building scope (issue: foundation, point 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.devices.models import Device
from server.estates.models import Building
from server.tickets.models import Ticket
from tests.conftest import login

# Reachable without a token (documented in the README).
PUBLIC_ROUTES = {"/health", "/ready", "/metrics", "/api/auth/login"}


async def test_wrong_password_and_unknown_user_get_401(client: AsyncTestClient[Litestar]) -> None:
    for body in ({"username": "desk", "password": "not-the-password"},
                 {"username": "nobody", "password": "demo-desk"}):
        response = await client.post("/api/auth/login", json=body)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"] == "Wrong username or password."


async def test_login_then_me(client: AsyncTestClient[Litestar]) -> None:
    headers = await login(client, "spec1")
    me = (await client.get("/api/auth/me", headers=headers)).json()
    assert me["username"] == "spec1"
    assert me["roles"] == ["specialist"]
    assert len(me["building_ids"]) == 1


def _token(app: Litestar, user_id: int, *, key: str | None = None, exp: datetime) -> str:
    claims = {"sub": str(user_id), "iat": int((exp - timedelta(hours=1)).timestamp()),
              "exp": int(exp.timestamp())}
    return jwt.encode(claims, key or app.state.settings.signing_key(), algorithm="HS256")


@pytest.mark.parametrize("kind", ["expired", "forged", "malformed", "empty"])
async def test_bad_tokens_get_401(app: Litestar, client: AsyncTestClient[Litestar], kind: str) -> None:
    now = datetime.now(UTC)
    good = _token(app, 1, exp=now + timedelta(hours=1))
    assert (await client.get("/api/tickets", headers={"Authorization": f"Bearer {good}"})
            ).status_code == 200
    header = {
        "expired": f"Bearer {_token(app, 1, exp=now - timedelta(minutes=1))}",
        "forged": f"Bearer {_token(app, 1, key='someone-elses-key', exp=now + timedelta(hours=1))}",
        "malformed": "Bearer not.a.jwt",
        "empty": "Bearer ",
    }[kind]
    response = await client.get("/api/tickets", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["status"] == 401


async def _ticket_in(db: async_sessionmaker[AsyncSession], building_slug: str) -> int:
    async with db() as session, session.begin():
        building = await session.scalar(select(Building).where(Building.slug == building_slug))
        assert building is not None
        device = await session.scalar(select(Device).where(Device.building_id == building.id))
        assert device is not None
        ticket = Ticket(site_id=building.site_id, building_id=building.id, device_id=device.id,
                        kind="alarm", type="elevator.trapped", severity="critical",
                        title=f"test ticket in {building_slug}")
        session.add(ticket)
        await session.flush()
        return ticket.id


async def test_specialist_sees_only_own_building(
    db: async_sessionmaker[AsyncSession], client: AsyncTestClient[Litestar]
) -> None:
    mine = await _ticket_in(db, "b1")
    theirs = await _ticket_in(db, "b2")
    spec1 = await login(client, "spec1")

    assert (await client.get(f"/api/tickets/{mine}", headers=spec1)).status_code == 200
    response = await client.get(f"/api/tickets/{theirs}", headers=spec1)
    assert response.status_code == 404  # not 403: its existence is not disclosed
    listed = {t["id"] for t in (await client.get("/api/tickets", headers=spec1)).json()["items"]}
    assert listed == {mine}
    # Asking for the other building by filter does not widen the scope.
    response = await client.get("/api/tickets?building=b2", headers=spec1)
    assert response.json()["items"] == []
    units = (await client.get("/api/units?limit=500", headers=spec1)).json()
    assert units["total"] == 72
    assert {u["building"] for u in units["items"]} == {"b1"}
    devices = (await client.get("/api/devices?limit=500", headers=spec1)).json()
    assert {d["building"] for d in devices["items"]} == {"b1"}

    desk = await login(client, "desk")
    listed = {t["id"] for t in (await client.get("/api/tickets", headers=desk)).json()["items"]}
    assert listed == {mine, theirs}


def _fill_path(path: str, parameters: list[dict]) -> str:
    """A real-looking value for each path parameter, so the route (not a 404) answers."""
    for parameter in parameters:
        if parameter.get("in") != "path":
            continue
        schema = parameter.get("schema", {})
        value = {"date": "2026-10-01", "uuid": "00000000-0000-4000-8000-000000000000"}.get(
            schema.get("format", ""), "1" if schema.get("type") == "integer" else "xinwaitan")
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


async def test_every_route_refuses_anonymous_except_public(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            concrete = _fill_path(path, operation.get("parameters", []))
            response = await client.request(method.upper(), concrete)
            if path in PUBLIC_ROUTES:
                assert response.status_code != 401, f"{method} {path} should be public"
            else:
                assert response.status_code == 401, f"{method.upper()} {path} answered anonymously"
                checked += 1
    assert checked >= 5  # the schema really listed the protected API


async def test_supervisor_login_is_estate_wide(client: AsyncTestClient[Litestar]) -> None:
    headers = await login(client, "supervisor")
    me = (await client.get("/api/auth/me", headers=headers)).json()
    assert me["building_ids"] is None
