"""Throw-away PostgreSQL databases for tests (one per test, cloned from a template)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from sqlalchemy.engine import make_url


class PostgresDatabases:
    """Creates databases next to the one in ``admin_url`` and drops them at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        self.created: list[str] = []

    def _dsn(self, database: str | None = None) -> str:
        url = self.admin_url.set(drivername="postgresql", database=database or self.admin_url.database)
        return url.render_as_string(hide_password=False)

    def url_for(self, database: str) -> str:
        return self.admin_url.set(drivername="postgresql+asyncpg", database=database).render_as_string(
            hide_password=False)

    def _run(self, sql: str) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(self._dsn(), timeout=10)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(run())

    def check(self) -> None:
        try:
            self._run("SELECT 1")
        except (OSError, asyncpg.PostgresError) as exc:
            raise OSError(str(exc)) from exc

    def create(self, template: str | None = None) -> str:
        name = f"fieldops_t_{uuid.uuid4().hex[:12]}"
        suffix = f" TEMPLATE {template}" if template else ""
        self._run(f'CREATE DATABASE "{name}"{suffix}')
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self.drop(name)
        self.created.clear()
