"""Database plumbing: the one declarative Base, portable column types, the engine."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, SessionTransactionOrigin
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic can alter them on SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Row ids are 32-bit integers (PostgreSQL `integer`). A larger number names nothing, but
# asyncpg refuses to even send it and the request would end in a 500: inputs that carry an
# id are bounded by this (server/ids.py checks path ids; write schemas use DbId).
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL.

    SQLite has no time zone type; storing naive UTC and re-attaching UTC on the
    way out keeps comparisons right (DESIGN.md: UTC in the store).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON everywhere, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def upsert_insert(session: AsyncSession) -> Any:
    """The dialect's ``insert`` that knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if database_url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_async_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


WRITE_LOCK = {"write_lock": True}  # sessionmaker(info=WRITE_LOCK): see _sqlite_write_lock_up_front


class UnitOfWorkSession(Session):
    """The ORM session every part of the server uses (see ``_sqlite_write_lock_up_front``)."""


@event.listens_for(UnitOfWorkSession, "after_begin")
def _sqlite_write_lock_up_front(
    session: Session, transaction: SessionTransaction, connection: Any
) -> None:
    """On SQLite, a session opened with ``WRITE_LOCK`` takes the write lock at once.

    A deferred transaction that has read (a savepoint starts one) cannot upgrade to a
    write once another connection has committed: SQLite fails at once with "database
    is locked", without waiting for busy_timeout. BEGIN IMMEDIATE waits instead.
    Opt-in (``write_session`` below), for units of work that will write: write requests,
    the ingest batch, the push sender's claim and record. When every ``begin()`` took the
    lock, the read-mostly loops (SLA clocks, sweeps) queued too and the alarm path's tail
    doubled (measured with bench/alarm_path.py).
    """
    if connection.dialect.name != "sqlite" or not session.info.get("write_lock"):
        return
    if transaction.origin is SessionTransactionOrigin.BEGIN:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=UnitOfWorkSession)


# One SQLite writer at a time per process and event loop, in arrival order.
_WRITER_GATES: weakref.WeakKeyDictionary[Any, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _writer_gate(sessionmaker: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return None
    per_loop = _WRITER_GATES.setdefault(bind.sync_engine, {})
    loop = asyncio.get_running_loop()
    gate = per_loop.get(loop)
    if gate is None:  # not setdefault: every ingest batch passes here, and a Lock is not free
        gate = per_loop[loop] = asyncio.Lock()
    return gate


@contextlib.asynccontextmanager
async def write_session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work that will write: committed at the end, rolled back on error.

    On SQLite it first queues behind this process's other writers (an asyncio lock),
    then takes the database's write lock (BEGIN IMMEDIATE, see above). Without the queue,
    writers wait in SQLite's busy handler, which sleeps in steps of up to 100 ms however
    soon the lock is free: a desk's dispatch behind the ingest batches waited for nothing.
    Never nest two of these in one task: the queue is not re-entrant.
    """
    gate = _writer_gate(sessionmaker)
    async with (
        gate or contextlib.nullcontext(),
        sessionmaker(info=dict(WRITE_LOCK)) as session,
        session.begin(),
    ):
        yield session


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends cleanly, roll back otherwise."""
    async with sessionmaker() as session, session.begin():
        yield session
