"""Patrol fixtures: the demo estate with checkpoints, the app with a controlled clock, a live server."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
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
from tests.conftest import IN_CI, make_settings
from tests.support.browser import chromium_available
from tests.support.live_server import LiveServer, live_server

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
    return create_app(make_settings(tmp_path, patrol_db_url), clock=clock)


@pytest.fixture
async def pclient(papp: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=papp) as test_client:
        yield test_client


@pytest.fixture
async def pdb(patrol_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(patrol_db_url, poolclass=NullPool)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def patrol_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database with its checkpoints, as `fieldops demo` leaves it (copied, never changed)."""
    path = tmp_path_factory.mktemp("patrol-template") / "fieldops.db"
    shutil.copyfile(sqlite_template, path)
    seed(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def live(tmp_path: Path, patrol_template: Path) -> Iterator[LiveServer]:
    """`fieldops serve` (with its own broker) on the demo estate with checkpoints."""
    with live_server(tmp_path, patrol_template) as server:
        yield server


@pytest.fixture
def chromium_required() -> None:
    if not chromium_available():
        if IN_CI:
            pytest.fail("chromium is missing; CI must run the browser tests")
        pytest.skip("chromium is not installed (apt-get install chromium)")
