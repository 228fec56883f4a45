"""Move-in fixtures: an app on the demo estate (SQLite and PostgreSQL) with a settable clock."""

from __future__ import annotations

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
from tests.conftest import make_settings
from tests.pwa.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def mapp(tmp_path: Path, demo_database_url: str, clock: Clock) -> Litestar:
    return create_app(make_settings(tmp_path, demo_database_url), clock=clock)


@pytest.fixture
async def mclient(mapp: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=mapp) as test_client:
        yield test_client


@pytest.fixture
async def mdb(demo_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(demo_database_url, poolclass=NullPool)
    yield create_sessionmaker(engine)
    await engine.dispose()


# The ingest harness (a private Mosquitto and the consumer on the SQLite demo estate), reused.
from tests.ingest.conftest import h, rules  # noqa: E402, F401
