"""A running consumer against a private Mosquitto and the demo estate on SQLite."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from server.db import create_engine, create_sessionmaker
from server.ingest.runner import Ingest
from server.observability.metrics import Metrics
from server.rules.table import RuleTable, load_rules
from server.tickets.changes import ChangeBus
from server.tickets.models import Ticket
from tests.conftest import make_settings
from tests.support.broker import PrivateMosquitto
from tests.support.publisher import Publisher

T = TypeVar("T")


class FakeClock:
    """The consumer's clock, moved by the test (timed rules without sleeping)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def eventually(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool] = bool,
                     timeout: float = 15.0) -> T:  # noqa: ASYNC109 - a deadline for polling, not a cancel
    """Poll ``probe`` until ``check`` holds; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.02)


@dataclass
class Harness:
    broker: PrivateMosquitto
    db: async_sessionmaker[AsyncSession]
    ingest: Ingest
    clock: FakeClock
    publisher: Publisher

    async def scalar(self, statement: Any) -> Any:
        async with self.db() as session:
            return await session.scalar(statement)

    async def tickets(self, **filters: Any) -> list[Ticket]:
        async with self.db() as session:
            query = select(Ticket).filter_by(**filters).order_by(Ticket.id)
            return list((await session.scalars(query)).all())

    async def count(self, model: Any, *criteria: Any) -> int:
        return int(await self.scalar(select(func.count()).select_from(model).where(*criteria)) or 0)

    async def settled(self) -> None:
        """Wait until the consumer has committed everything the broker has delivered."""
        self.publisher.flush()
        assert self.ingest.consumer is not None
        assert self.ingest.transport is not None
        transport, consumer = self.ingest.transport, self.ingest.consumer

        async def idle() -> tuple[int, int, int]:
            before = consumer.committed
            await asyncio.sleep(0.15)
            return transport.buffered, consumer.in_hand, consumer.committed - before

        await eventually(idle, lambda v: v == (0, 0, 0), timeout=60)

    async def sweep(self) -> None:
        assert self.ingest.consumer is not None
        await self.ingest.consumer.sweep()


@pytest.fixture
def rules() -> RuleTable:
    return load_rules()


@pytest.fixture
async def h(tmp_path: Path, sqlite_demo_url: str, rules: RuleTable) -> AsyncIterator[Harness]:
    broker = PrivateMosquitto(tmp_path / "broker")
    broker.start()
    engine = create_engine(sqlite_demo_url, poolclass=NullPool)
    db = create_sessionmaker(engine)
    settings = make_settings(tmp_path, sqlite_demo_url, mqtt_url=broker.url,
                             mqtt_client_id=f"fieldops-test-{uuid.uuid4().hex[:8]}")
    clock = FakeClock()
    ingest = Ingest(settings, create_sessionmaker(create_engine(sqlite_demo_url)), Metrics(), ChangeBus(),
                    rules=rules, clock=clock)
    await ingest.start()
    assert ingest.transport is not None
    transport = ingest.transport

    async def subscribed() -> bool:
        return transport.subscribed

    await eventually(subscribed)
    publisher = Publisher(broker.url)
    try:
        yield Harness(broker, db, ingest, clock, publisher)
    finally:
        publisher.close()
        await ingest.stop()
        await ingest.sessionmaker.kw["bind"].dispose()
        await engine.dispose()
        broker.stop()
