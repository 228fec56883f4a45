"""VAPID keys: made once, stored, the same across restarts and racing processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.app import create_app
from server.push.keys import b64url_decode, ensure_vapid_key
from server.push.models import VapidKey
from tests.conftest import login, make_settings
from tests.push.conftest import with_push_routes


async def test_key_is_generated_once_and_survives_app_restarts(tmp_path: Path, demo_database_url: str
                                                               ) -> None:
    seen = []
    for run in range(2):  # two app lifetimes on the same database
        app = with_push_routes(create_app(make_settings(tmp_path / str(run), demo_database_url)))
        async with AsyncTestClient(app=app) as client:
            headers = await login(client, "spec1")
            response = await client.get("/api/push/vapid-public-key", headers=headers)
            assert response.status_code == 200, response.text
            seen.append(response.json()["public_key"])
    assert seen[0] == seen[1]
    point = b64url_decode(seen[0])
    assert len(point) == 65
    assert point[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


async def test_racing_processes_agree_on_one_key(db: async_sessionmaker[AsyncSession]) -> None:
    async def one() -> str:
        async with db() as session, session.begin():
            return (await ensure_vapid_key(session)).public_key

    keys = await asyncio.gather(*(one() for _ in range(5)))
    assert len(set(keys)) == 1
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(VapidKey)) == 1


async def test_public_key_matches_the_private_key(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session, session.begin():
        pair = await ensure_vapid_key(session)
    derived = pair.private_key.public_key().public_numbers()
    stored = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(pair.public_key)).public_numbers()
    assert derived == stored
    assert pair.subject.startswith("mailto:")
    assert not pair.subject.startswith("mailto:mailto:")


async def test_anonymous_may_not_read_the_key(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    with_push_routes(client.app)
    response = await client.get("/api/push/vapid-public-key")
    assert response.status_code == 401
