"""Nothing lost, nothing doubled: SIGKILL the consumer process mid-stream and restart it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from server.db import create_engine, create_sessionmaker
from server.devices.models import DeviceEvent, MeterReading
from server.tickets.models import Ticket
from tests.ingest.conftest import eventually
from tests.support.broker import PrivateMosquitto
from tests.support.publisher import Publisher, event, reading, topic

pytestmark = pytest.mark.broker

TOTAL = 20_000
FORCED = 300  # access.forced events on one door: each one counts once on its ticket


def _traffic(units: list[str]) -> Iterator[tuple[str, dict[str, object]]]:
    t0 = datetime.now(UTC) - timedelta(days=1)
    forced_every = TOTAL // FORCED
    for i in range(TOTAL):
        ts = t0 + timedelta(seconds=i)
        if i % forced_every == 0 and i // forced_every < FORCED:
            yield topic("b2-door-main"), event("access.forced", id=f"forced-{i}", ts=ts)
        elif i % 2:
            unit = units[i % len(units)]
            yield topic(f"{unit}-e", "reading"), reading("electricity", i / 1000, id=f"r-{i}", ts=ts)
        else:
            door = ("b1-door-main", "b1-door-garage", "b2-door-garage")[i % 3]
            yield topic(door), event("access.granted", id=f"g-{i}", ts=ts, data={"card": f"c{i % 97}"})


def _start_ingest(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "server.cli", "ingest"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def test_sigkill_mid_stream_loses_and_doubles_nothing(tmp_path: Path, sqlite_demo_url: str) -> None:
    broker = PrivateMosquitto(tmp_path / "broker")
    broker.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
    env.update(FIELDOPS_DATA_DIR=str(tmp_path / "data"), FIELDOPS_DATABASE_URL=sqlite_demo_url,
               FIELDOPS_MQTT_URL=broker.url, FIELDOPS_MQTT_CLIENT_ID="fieldops-kill-test")
    log = tmp_path / "ingest.log"
    engine = create_engine(sqlite_demo_url, poolclass=NullPool)
    db = create_sessionmaker(engine)

    async def stored() -> int:
        async with db() as session:
            events = await session.scalar(select(func.count()).select_from(DeviceEvent))
            readings = await session.scalar(select(func.count()).select_from(MeterReading))
            return int(events or 0) + int(readings or 0)

    process = _start_ingest(env, log)
    publisher = Publisher(broker.url, inflight=500)
    try:
        # Until the consumer has subscribed once, the broker keeps nothing for it: repeat the
        # sentinel (same id, so stored once) until it lands.
        async def sentinel_stored() -> int:
            publisher.publish(topic("b1-el1"), event("elevator.fault", alarm="raise", id="sentinel",
                                                    data={"code": "E1"}))
            await asyncio.sleep(0.2)
            return await stored()

        await eventually(sentinel_stored, lambda n: n == 1, timeout=30)

        units = [f"b{b}-{f:02d}{n:02d}" for b in (1, 2) for f in range(1, 19) for n in range(1, 5)]
        sender = threading.Thread(target=publisher.publish_many, args=(_traffic(units),))
        sender.start()
        await eventually(stored, lambda n: n >= 4_000, timeout=60)
        process.send_signal(signal.SIGKILL)  # no goodbye: whatever was uncommitted is gone
        process.wait(timeout=10)
        at_kill = await stored()
        assert at_kill < TOTAL + 1, "the consumer finished before it could be killed"
        await asyncio.to_thread(sender.join)
        publisher.flush()

        process = _start_ingest(env, log)
        await eventually(stored, lambda n: n >= TOTAL + 1, timeout=120)
        await asyncio.sleep(1.0)  # a redelivery arriving late must not add anything either
        assert await stored() == TOTAL + 1

        async with db() as session:
            distinct = await session.scalar(select(func.count(func.distinct(DeviceEvent.event_id))))
            events = await session.scalar(select(func.count()).select_from(DeviceEvent))
            forced = (await session.scalars(select(Ticket).where(Ticket.type == "access.forced"))).all()
        assert distinct == events
        assert len(forced) == 1
        assert forced[0].occurrences == FORCED  # each event's rule ran exactly once
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        publisher.close()
        await engine.dispose()
        broker.stop()
    assert "Traceback" not in log.read_text(errors="replace")
