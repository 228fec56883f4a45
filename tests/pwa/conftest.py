"""Patrol fixtures: the demo estate with checkpoints, an app with the patrol routes, a clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from server.app import create_app
from server.db import create_engine, create_sessionmaker
from server.patrols.seed import seed_checkpoints
from tests.conftest import make_settings
from tests.pwa.support import with_patrol_routes

# Checkpoints "existed" long before any controlled clock the tests use.
SEEDED_AT = datetime(2025, 1, 1, tzinfo=UTC)


class Clock:
    """The app's clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await seed_checkpoints(session, now=SEEDED_AT)
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def patrol_db_url(demo_database_url: str) -> str:
    seed(demo_database_url)
    return demo_database_url


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def papp(tmp_path: Path, patrol_db_url: str, clock: Clock) -> Litestar:
    return with_patrol_routes(create_app(make_settings(tmp_path, patrol_db_url), clock=clock))


@pytest.fixture
async def pclient(papp: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=papp) as test_client:
        yield test_client


@pytest.fixture
async def pdb(patrol_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(patrol_db_url, poolclass=NullPool)
    yield create_sessionmaker(engine)
    await engine.dispose()
