"""Ingestion speed, measured in one run on this machine (issue: MQTT v1 ingestion).

Prints (a) a bare paho subscriber's receive rate (the ceiling), (b) fieldops'
persisted rate (QoS 1, committed, end to end), (c) b/a, (d) publish → ticket
committed latency p50/p99 for elevator.trapped while 2,000 ev/s of other traffic
flows, (e) the consumer process's peak RSS.

    .venv/bin/python bench/ingest.py [--events 200000] [--samples 200]

It starts its own Mosquitto (the documented settings) and a fresh SQLite file,
and runs `fieldops ingest` as a separate process, as in production.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.broker import PrivateMosquitto  # noqa: E402

UNITS = [f"b{b}-{f:02d}{n:02d}" for b in (1, 2) for f in range(1, 19) for n in range(1, 5)]
DOORS = ["b1-door-main", "b1-door-garage", "b2-door-main", "b2-door-garage"]


def _traffic(count: int, tag: str) -> list[tuple[str, bytes]]:
    """Realistic v1 traffic for the demo estate: readings, card swipes, intercom calls."""
    import msgspec

    from server.demo.estate import plan_estate
    from tests.support.publisher import event, reading, topic

    vacant = {u.slug for u in plan_estate().units if u.state == "vacant"}
    registers: dict[str, float] = {}
    rng = random.Random(count)
    out = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.6:
            unit = rng.choice(UNITS)
            quantity = rng.choice(["water", "electricity", "gas"])
            meter = f"{unit}-{quantity[0]}"
            # Registers only rise, and not at all in vacant units (nobody lives there).
            registers[meter] = registers.get(meter, 100.0) + (0 if unit in vacant else rng.random() / 100)
            body = reading(quantity, round(registers[meter], 3), id=f"{tag}-{i}", unit=unit)
            out.append((topic(meter, "reading"), msgspec.json.encode(body)))
        elif roll < 0.95:
            body = event("access.granted", id=f"{tag}-{i}", data={"card": f"{rng.randrange(10**8):08d}"})
            out.append((topic(rng.choice(DOORS)), msgspec.json.encode(body)))
        else:
            body = event(
                "intercom.call",
                id=f"{tag}-{i}",
                data={"call_id": f"{tag}-c{i}", "phase": "ringing", "to": "b1-0101"},
            )
            out.append((topic("b1-ic-door"), msgspec.json.encode(body)))
    return out


def _publish(url: str, count: int, tag: str, rate: float, started: mp.Value, stop: mp.Event) -> None:  # type: ignore[type-arg]
    from tests.support.publisher import Publisher

    messages = _traffic(count, tag)
    publisher = Publisher(url, inflight=200, client_id=f"bench-pub-{tag}")
    started.value = time.monotonic()
    begin = time.monotonic()
    for i, (t, payload) in enumerate(messages):
        if stop.is_set():
            break
        if rate > 0:
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        publisher.publish(t, payload)
    publisher.close()


def _bare_subscriber(url: str, count: int, done_at: mp.Value, ready: mp.Event) -> None:  # type: ignore[type-arg]
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    port = int(url.rsplit(":", 1)[1])
    received = [0]
    finished = threading.Event()

    def on_message(*_: object) -> None:
        received[0] += 1
        if received[0] >= count:
            done_at.value = time.monotonic()
            finished.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *_: ready.set()
    client.on_connect = lambda c, *_: c.subscribe("fieldops/v1/#", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    finished.wait(600)
    client.disconnect()
    client.loop_stop()


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - our table names


def _prepare(tmp: Path) -> tuple[Path, str]:
    import asyncio

    from server.db import create_engine, create_sessionmaker
    from server.demo.estate import load_demo_estate
    from server.migrate import upgrade

    db = tmp / "bench.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url)

    async def load() -> None:
        engine = create_engine(url)
        async with create_sessionmaker(engine)() as session, session.begin():
            await load_demo_estate(session)
        await engine.dispose()

    asyncio.run(load())
    return db, url


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=200, help="elevator.trapped latency samples")
    parser.add_argument("--background", type=float, default=2000, help="other traffic during latency, ev/s")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="fieldops-bench-") as tmp_name:
        tmp = Path(tmp_name)
        broker = PrivateMosquitto(tmp / "broker")
        broker.start()
        db, url = _prepare(tmp)
        try:
            # (a) the ceiling: a bare paho subscriber that only counts.
            done_at, started, ready, stop = ctx.Value("d", 0.0), ctx.Value("d", 0.0), ctx.Event(), ctx.Event()
            bare = ctx.Process(target=_bare_subscriber, args=(broker.url, args.events, done_at, ready))
            bare.start()
            ready.wait(30)
            pub = ctx.Process(target=_publish, args=(broker.url, args.events, "a", 0, started, stop))
            pub.start()
            pub.join()
            bare.join()
            ceiling = args.events / (done_at.value - started.value)

            # (b) fieldops persisting the same kind of traffic, acknowledged after commit.
            env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
            env.update(
                FIELDOPS_DATABASE_URL=url,
                FIELDOPS_MQTT_URL=broker.url,
                FIELDOPS_DATA_DIR=str(tmp / "data"),
                FIELDOPS_MQTT_CLIENT_ID="bench-fieldops",
                FIELDOPS_LOG_LEVEL="WARNING",
            )
            ingest = subprocess.Popen([sys.executable, "-m", "server.cli", "ingest"], env=env, cwd=ROOT)
            _wait_consumer_up(broker.url, db)
            base = _count(db, "device_events") + _count(db, "meter_readings")
            started.value = 0.0
            pub = ctx.Process(target=_publish, args=(broker.url, args.events, "b", 0, started, stop))
            pub.start()
            while _count(db, "device_events") + _count(db, "meter_readings") - base < args.events:
                time.sleep(0.05)
            persisted = args.events / (time.monotonic() - started.value)
            pub.join()

            # (d) trapped-alarm latency under background traffic.
            latencies = _latency(ctx, broker.url, db, args.samples, args.background)
            rss = _peak_rss_mb(ingest.pid)
            ingest.terminate()
            ingest.wait(30)
        finally:
            broker.stop()
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    print(f"events per run                         {args.events:>10,}")
    print(f"(a) bare paho subscriber (ceiling)     {ceiling:>10,.0f} msg/s")
    print(f"(b) fieldops persisted, QoS 1          {persisted:>10,.0f} events/s")
    print(f"(c) ratio b/a                          {persisted / ceiling:>10.2f}   (target >= 0.5)")
    print(
        f"(d) trapped publish→ticket p50         {p50:>10.1f} ms   ({len(latencies)} samples, "
        f"{args.background:,.0f} ev/s background)"
    )
    print(f"    trapped publish→ticket p99         {p99:>10.1f} ms   (target <= 100)")
    print(f"(e) consumer peak RSS                  {rss:>10.1f} MB   (target <= 200)")


def _wait_consumer_up(url: str, db: Path) -> None:
    from tests.support.publisher import Publisher, event, topic

    publisher = Publisher(url, client_id="bench-sentinel")
    deadline = time.monotonic() + 60
    while _count(db, "device_events") == 0:
        publisher.publish(
            topic("b1-el2"), event("elevator.fault", alarm="raise", id="bench-sentinel", data={"code": "E1"})
        )
        time.sleep(0.2)
        if time.monotonic() > deadline:
            raise RuntimeError("the consumer did not start")
    publisher.close()


def _latency(
    ctx: mp.context.SpawnContext, url: str, db: Path, samples: int, background: float
) -> list[float]:
    from tests.support.publisher import Publisher, event, topic

    started, stop = ctx.Value("d", 0.0), ctx.Event()
    noise = ctx.Process(
        target=_publish, args=(url, int(background * (samples / 10 + 30)), "bg", background, started, stop)
    )
    noise.start()
    time.sleep(2)  # let the background traffic settle
    publisher = Publisher(url, client_id="bench-trapped")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)

    def occurrences() -> int:
        row = conn.execute(
            "SELECT occurrences FROM tickets WHERE type = 'elevator.trapped' AND active_key IS NOT NULL"
        ).fetchone()
        return int(row[0]) if row else 0

    latencies = []
    for i in range(samples):
        before = occurrences()
        sent = time.monotonic()
        publisher.publish(
            topic("b1-el1"), event("elevator.trapped", alarm="raise", id=f"lat-{i}", data={"floor": 9})
        )
        while occurrences() == before:
            time.sleep(0.0005)
            if time.monotonic() - sent > 10:
                raise RuntimeError("a trapped alarm was not committed within 10 s")
        latencies.append((time.monotonic() - sent) * 1000)
        time.sleep(0.1)
    stop.set()
    noise.join(30)
    publisher.close()
    conn.close()
    return latencies


if __name__ == "__main__":
    main()
