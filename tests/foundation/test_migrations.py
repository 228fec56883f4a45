"""Alembic owns the schema: upgrade, downgrade and no drift, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from server.db import create_engine
from server.migrate import current_head, downgrade, upgrade
from server.models import Base
from tests.support.postgres import PostgresDatabases


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    return postgres.url_for(postgres.create())


def _inspect(url: str, fn):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    return set(_inspect(url, lambda c: inspect(c).get_table_names()))


def test_upgrade_from_empty_then_downgrade_to_base(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    tables = _tables(empty_database_url)
    assert set(Base.metadata.tables) <= tables
    revision = _inspect(empty_database_url,
                        lambda c: MigrationContext.configure(c).get_current_revision())
    assert revision == current_head()

    downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) <= {"alembic_version"}

    upgrade(empty_database_url)  # and back up again: downgrades leave nothing behind
    assert set(Base.metadata.tables) <= _tables(empty_database_url)


def test_models_and_migrations_do_not_drift(empty_database_url: str) -> None:
    upgrade(empty_database_url)

    def diff(conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    assert _inspect(empty_database_url, diff) == []


def test_audit_log_is_append_only(empty_database_url: str) -> None:
    """The database refuses UPDATE and DELETE on ticket_audit."""
    upgrade(empty_database_url)

    async def run() -> list[str]:
        engine = create_engine(empty_database_url)
        refused = []
        try:
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO sites (slug, name, timezone, options, created_at) "
                    "VALUES ('s', 'S', 'Asia/Shanghai', '{}', CURRENT_TIMESTAMP)"))
                await conn.execute(text(
                    "INSERT INTO tickets (site_id, kind, type, severity, status, source, title, "
                    "occurrences, opened_at, updated_at) SELECT id, 'repair', 'x', 'normal', 'new', "
                    "'phone', 't', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM sites"))
                await conn.execute(text(
                    "INSERT INTO ticket_audit (ticket_id, at, actor, client, action, detail) "
                    "SELECT id, CURRENT_TIMESTAMP, 'desk', 'test', 'opened', '{}' FROM tickets"))
            for statement in ("UPDATE ticket_audit SET action = 'forged'", "DELETE FROM ticket_audit"):
                # The driver's own error type differs per backend; the message is ours.
                with pytest.raises(Exception, match="append-only"):
                    async with engine.begin() as conn:
                        await conn.execute(text(statement))
                refused.append(statement.split()[0])
            async with engine.connect() as conn:
                action = (await conn.execute(text("SELECT action FROM ticket_audit"))).scalar_one()
                assert action == "opened"
        finally:
            await engine.dispose()
        return refused

    assert asyncio.run(run()) == ["UPDATE", "DELETE"]
