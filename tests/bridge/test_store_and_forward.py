"""Store-and-forward: broker outage, a killed bridge, exactly-once in-order replay; the size bound."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from paho.mqtt.client import MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device_bridge.core import Pipeline
from device_bridge.model import DeviceIdentity
from device_bridge.spool import Spool, SpoolReader
from server.contract.v1 import DeviceKind, EventPayload, Quantity, decode_payload, parse_topic
from tests.bridge.conftest import mqtt_client, publish, unique, wait_until
from tests.support.broker import PrivateMosquitto

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 10_000
DOORS = 4


def outbox_rows(spool: Path) -> int:
    if not spool.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{spool}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # schema not created yet


class BridgeProcess:
    """``python -m device_bridge`` as a child process, killable."""

    def __init__(self, config: Path, upstream_url: str, spool: Path, log: Path) -> None:
        self.args = [sys.executable, "-m", "device_bridge", "--config", str(config),
                     "--mqtt-url", upstream_url, "--spool", str(spool), "--drain-seconds", "0"]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=out,
                                            env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_until(lambda: "bridge ready" in self.log.read_text()[self._log_offset:]
                   or self.process.poll() is not None, 20, "bridge ready")
        assert self.process.poll() is None, self.log.read_text()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[PrivateMosquitto, PrivateMosquitto]]:
    up, down = PrivateMosquitto(tmp_path / "up"), PrivateMosquitto(tmp_path / "down")
    up.start()
    down.start()
    yield up, down
    up.stop()
    down.stop()


def checker_session(broker: PrivateMosquitto, client_id: str, topic: str,
                    received: list[MQTTMessage] | None = None):
    """A persistent-session subscriber (it survives the broker's restart)."""
    client = mqtt_client(client_id)
    subscribed = threading.Event()
    lock = threading.Lock()
    if received is not None:
        def on_message(c, u, message: MQTTMessage) -> None:
            with lock:
                received.append(message)
        client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
    client.subscribe(topic, qos=1)
    client.loop_start()
    wait_until(subscribed.is_set, what="checker subscribed")
    return client


@pytest.mark.broker
@pytest.mark.timeout(120)
def test_10000_events_survive_an_outage_and_a_kill_exactly_once_in_order(
    tmp_path: Path, brokers: tuple[PrivateMosquitto, PrivateMosquitto]
) -> None:
    up, down = brokers
    site = unique("sf")
    checker_id = unique("checker")
    topic = f"fieldops/v1/{site}/#"
    # The checker's session (and its subscription) outlives the broker outage.
    client = checker_session(up, checker_id, topic)
    client.disconnect()
    client.loop_stop()
    up.stop()

    devices = "\n".join(f"""
[[sources.devices]]
source = "rfid-{site}-{n}"
device = "b1-door{n}"
building = "b1"
kind = "access"
""" for n in range(DOORS))
    config = tmp_path / "bridge.toml"
    config.write_text(f"""
[bridge]
site = "{site}"
spool_max_mb = 64

[upstream]
device_wills = false
reconnect_max_seconds = 1

[downstream]
url = "{down.url}"
client_id = "{unique('sf-src')}"

[[sources]]
adapter = "esp_rfid"
{devices}
""")
    spool = tmp_path / "spool.sqlite"
    bridge = BridgeProcess(config, up.url, spool, tmp_path / "bridge.log")
    bridge.start()

    messages = [
        (f"rfid-{site}-{i % DOORS}/send",
         json.dumps({"cmd": "log", "type": "access", "time": 1764116102 + i, "isKnown": "true",
                     "access": "Always", "username": "resident", "uid": f"{i:08d}",
                     "door": f"door{i % DOORS}"}))
        for i in range(TOTAL)
    ]
    producer = threading.Thread(target=publish, args=(down, messages))
    producer.start()
    # Kill the bridge mid-stream, with part of the traffic spooled and part in flight.
    wait_until(lambda: outbox_rows(spool) >= 3000, 60, "3000 rows spooled")
    bridge.kill()
    producer.join(60)
    bridge.start()
    # Everything, once: the redelivered tail is not translated twice.
    wait_until(lambda: outbox_rows(spool) >= TOTAL, 60, f"{TOTAL} rows spooled")
    assert outbox_rows(spool) == TOTAL

    up.start()
    received: list[MQTTMessage] = []
    client = checker_session(up, checker_id, topic, received)
    try:
        wait_until(lambda: len(received) >= TOTAL, 60, f"{TOTAL} messages upstream")
        wait_until(lambda: outbox_rows(spool) == 0, 30, "spool emptied after PUBACKs")
        assert len(received) == TOTAL
        events = [decode_payload(parse_topic(m.topic), m.payload) for m in received]
        assert all(isinstance(e, EventPayload) and e.type == "access.granted" for e in events)
        ids = [(m.topic, e.id) for m, e in zip(received, events, strict=True)]
        assert len(set(ids)) == TOTAL
        assert [e.data["card"] for e in events] == [str(i) for i in range(TOTAL)]
    finally:
        client.disconnect()
        client.loop_stop()
    assert bridge.stop() == 0


def _identity(kind: DeviceKind = DeviceKind.METER) -> DeviceIdentity:
    return DeviceIdentity(site="s", building="b1", kind=kind, device="m1",
                          quantity=Quantity.WATER)


def test_spool_replays_in_order_with_the_same_ids_after_a_restart(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    path = tmp_path / "spool.sqlite"
    spool = Spool(path, 10_000_000)
    pipeline = Pipeline(spool, ZoneInfo("Asia/Shanghai"))
    meter = _identity()
    for value in range(100):
        pipeline.reading(meter, float(value))
    pipeline.flush()
    spool.close()
    first = [row[3] for row in SpoolReader(path, Spool(path, 10_000_000).usage).fetch(0, 1000)]
    again = Spool(path, 10_000_000)
    rows = SpoolReader(path, again.usage).fetch(0, 1000)
    assert [row[3] for row in rows] == first  # same bytes, same ids
    values = [json.loads(row[3])["value"] for row in rows]
    assert values == [float(v) for v in range(100)]
    # The per-device counter continues: no id is ever reused.
    pipeline = Pipeline(again, ZoneInfo("Asia/Shanghai"))
    pipeline.reading(meter, 100.0)
    pipeline.flush()
    ids = [json.loads(r[3])["id"] for r in SpoolReader(path, again.usage).fetch(0, 1000)]
    assert len(ids) == len(set(ids)) == 101
    assert ids[-1].endswith("-101")


def test_a_full_spool_sheds_oldest_readings_first_loudly(tmp_path: Path, caplog) -> None:
    from zoneinfo import ZoneInfo

    spool = Spool(tmp_path / "spool.sqlite", 40_000)
    pipeline = Pipeline(spool, ZoneInfo("Asia/Shanghai"))
    meter = _identity()
    door = DeviceIdentity(site="s", building="b1", kind=DeviceKind.ACCESS, device="d1")
    for i in range(20):
        pipeline.event(door, "access.denied", data={"card": str(i)})
    pipeline.flush()
    with caplog.at_level(logging.ERROR, "device_bridge"):
        for batch in range(20):
            for value in range(50):
                pipeline.reading(meter, float(batch * 50 + value))
            pipeline.flush()
    assert "SPOOL FULL" in caplog.text
    assert pipeline.stats.shed > 0
    assert spool.usage.bytes <= 40_000
    rows = SpoolReader(spool.path, spool.usage).fetch(0, 10_000)
    kinds = [json.loads(r[3]).get("type") for r in rows]
    assert kinds.count("access.denied") == 20  # events kept, old readings shed
    readings = [json.loads(r[3])["value"] for r in rows if "value" in json.loads(r[3])]
    assert readings == sorted(readings)
    assert readings[-1] == 999.0
    assert len(rows) + pipeline.stats.shed == 20 + 1000  # every shed message is counted
    spool.close()
    assert Spool(tmp_path / "spool.sqlite", 40_000).shed_total == pipeline.stats.shed  # persisted
