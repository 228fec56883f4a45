"""A paho QoS 1 publisher for tests: every publish is confirmed by the broker.

`mosquitto_pub -l -q 1` can lose messages and still exit 0 (measured.md), so tests
publish through this, with the in-flight window gated by a semaphore released in
``on_publish``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlparse

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

SHANGHAI = timezone(timedelta(hours=8))
_ids = itertools.count(1)
_encoder = msgspec.json.Encoder()


class Publisher:
    def __init__(self, url: str, *, inflight: int = 200, client_id: str | None = None) -> None:
        parsed = urlparse(url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                   client_id=client_id or f"test-publisher-{next(_ids)}",
                                   protocol=mqtt.MQTTv5)
        self._client.max_inflight_messages_set(inflight)
        self._window = threading.Semaphore(inflight)
        self._pending: set[int] = set()
        self._lock = threading.Lock()
        self._client.on_publish = self._on_publish
        self._client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        self._client.loop_start()
        deadline = time.monotonic() + 10
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise RuntimeError(f"publisher could not connect to {url}")
            time.sleep(0.01)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        with self._lock:
            self._pending.discard(mid)
        self._window.release()

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], *, retain: bool = False) -> None:
        if isinstance(payload, dict):
            payload = _encoder.encode(payload)
        self._window.acquire()
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        with self._lock:
            self._pending.add(info.mid)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish failed: {info.rc}")

    def publish_many(self, messages: Iterable[tuple[str, bytes | str | dict[str, Any]]]) -> int:
        count = 0
        for topic, payload in messages:
            self.publish(topic, payload)
            count += 1
        return count

    def flush(self, timeout: float = 60) -> None:
        """Wait until the broker has acknowledged everything published."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._pending:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._pending)} publishes unacknowledged")
            time.sleep(0.005)

    def close(self) -> None:
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()


def topic(device: str, channel: str = "event", *, kind: str | None = None, building: str | None = None,
          site: str = "xinwaitan") -> str:
    """The v1 topic of a demo-estate device (kind and building guessed from its slug)."""
    building = building or device.split("-", 1)[0]
    if kind is None:
        if "-el" in device:
            kind = "elevator"
        elif device.endswith("-ic") or "-ic-" in device:
            kind = "intercom"
        elif device.endswith(("-w", "-e", "-g")):
            kind = "meter"
        elif "-door-" in device:
            kind = "access"
        else:
            kind = "sensor"
    return f"fieldops/v1/{site}/{building}/{kind}/{device}/{channel}"


def event(type_: str, *, alarm: str | None = None, id: str | None = None,
          ts: datetime | None = None, data: dict[str, Any] | None = None, unit: str | None = None
          ) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id or f"ev-{next(_ids)}",
        "ts": (ts or datetime.now(UTC)).astimezone(SHANGHAI).isoformat(timespec="milliseconds"),
        "type": type_,
        "data": data or {},
    }
    if alarm is not None:
        body["alarm"] = alarm
    if unit is not None:
        body["unit"] = unit
    return body


def reading(quantity: str, value: float, *, id: str | None = None, ts: datetime | None = None,
            unit: str | None = None) -> dict[str, Any]:
    uom = {"water": "m3", "electricity": "kWh", "gas": "m3"}[quantity]
    return {"id": id or f"rd-{next(_ids)}",
            "ts": (ts or datetime.now(UTC)).astimezone(SHANGHAI).isoformat(timespec="milliseconds"),
            "type": "meter.reading", "unit": unit, "quantity": quantity, "value": value, "uom": uom}
