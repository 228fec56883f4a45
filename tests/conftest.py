"""Shared fixtures: migrated databases (SQLite and PostgreSQL), apps and logged-in clients."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from server.app import create_app
from server.db import create_engine, create_sessionmaker
from server.demo.estate import load_demo_estate
from server.migrate import upgrade
from server.settings import Settings
from tests.support.postgres import PostgresDatabases

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _load_demo(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await load_demo_estate(session)
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """Throw-away PostgreSQL databases; skipped locally without a server, fatal in CI."""
    url = os.environ.get("FIELDOPS_TEST_POSTGRES_URL")
    if not url:
        if IN_CI:
            pytest.fail("FIELDOPS_TEST_POSTGRES_URL is not set; CI must test PostgreSQL")
        pytest.skip("FIELDOPS_TEST_POSTGRES_URL is not set")
    databases = PostgresDatabases(url)
    try:
        databases.check()
    except OSError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {url} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the demo estate, copied for each test that wants one."""
    path = tmp_path_factory.mktemp("template") / "fieldops.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    _load_demo(url)
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresDatabases) -> str:
    name = postgres.create()
    url = postgres.url_for(name)
    upgrade(url)
    _load_demo(url)
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at head with the demo estate loaded, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "fieldops.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    template_name: str = request.getfixturevalue("postgres_template")
    return postgres.url_for(postgres.create(template=template_name))


@pytest.fixture
def sqlite_demo_url(sqlite_template: Path, tmp_path: Path) -> str:
    """The demo database on SQLite only, for tests about behaviour rather than backends."""
    target = tmp_path / "fieldops.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


def make_settings(tmp_path: Path, database_url: str, **changes: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url,
                    secret_key="test-signing-key-" + uuid.uuid4().hex, ingest=False, **changes)


@pytest.fixture
async def db(demo_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's own engine (the app runs in another event loop in the test client)."""
    engine = create_engine(demo_database_url, poolclass=NullPool)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def app(tmp_path: Path, demo_database_url: str) -> Litestar:
    return create_app(make_settings(tmp_path, demo_database_url))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def login(client: AsyncTestClient[Litestar], username: str, password: str | None = None
                ) -> dict[str, str]:
    """Log in as a demo user and return the Authorization header."""
    response = await client.post("/api/auth/login",
                                 json={"username": username, "password": password or f"demo-{username}"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
