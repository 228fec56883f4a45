"""A device coming back online while the sweeper looks for offline ones: no offline ticket stays open.

PostgreSQL only: there the sweeper and a batch run in parallel transactions (SQLite has one
writer, so the two cannot interleave).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import msgspec
import pytest
from sqlalchemy import select, update

from server.db import create_engine, create_sessionmaker
from server.devices.models import Device
from server.ingest.batch import BatchWriter
from server.ingest.directory import DeviceDirectory
from server.rules.engine import RuleEngine, offline_key
from server.rules.table import load_rules
from server.tickets.models import Ticket
from tests.support.publisher import topic

pytestmark = pytest.mark.postgres


@dataclass
class _Message:
    topic: str
    payload: bytes


@pytest.fixture
def pg_demo_url(request: pytest.FixtureRequest) -> str:
    postgres = request.getfixturevalue("postgres")
    return str(postgres.url_for(postgres.create(template=request.getfixturevalue("postgres_template"))))


async def test_back_online_during_the_offline_sweep_leaves_no_open_offline_ticket(pg_demo_url: str) -> None:
    engine = create_engine(pg_demo_url)
    db = create_sessionmaker(engine)
    now = datetime.now(UTC)
    async with db() as session, session.begin():
        device_id = await session.scalar(select(Device.id).where(Device.slug == "b1-el1"))
        await session.execute(update(Device).where(Device.id == device_id)
                              .values(online=False, status_changed_at=now - timedelta(hours=1)))
    rules = RuleEngine(load_rules())
    directory = DeviceDirectory()
    writer = BatchWriter(rules, directory, lambda: now)
    online = _Message(topic("b1-el1", "status"),
                      msgspec.json.encode({"state": "online", "ts": now.isoformat()}))

    async def sweep() -> None:
        async with db() as session, session.begin():
            await rules.sweep(session, now, [], partial(directory.by_id, session))

    try:
        batch = db()
        await batch.begin()
        await writer.write(batch, [online])
        # The device's "online" is written but not yet committed when the sweeper looks.
        sweeper = asyncio.create_task(sweep())
        await asyncio.sleep(0.5)
        await batch.commit()
        await batch.close()
        await asyncio.wait_for(sweeper, 10)

        async with db() as session:
            device = await session.get(Device, device_id)
            assert device is not None
            assert device.online
            active = await session.scalar(select(Ticket).where(Ticket.active_key == offline_key(device_id)))
        assert active is None, "the device is back online, so its offline ticket is no longer active"
    finally:
        await engine.dispose()
