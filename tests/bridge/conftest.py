"""Real-broker fixtures for the bridge: private Mosquittos, a v1 collector, a bridge in a thread.

Each test uses its own site slug (upstream) and its own vendor topics
(downstream) so tests can share the module's brokers.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.client import CallbackAPIVersion, Client, MQTTMessage
from paho.mqtt.enums import MQTTProtocolVersion

from device_bridge.bridge import Bridge
from device_bridge.config import BridgeConfig, parse_config
from server.contract.v1 import decode_payload, parse_topic
from tests.support.broker import PrivateMosquitto, mosquitto_binary

if mosquitto_binary() is None:  # pragma: no cover - depends on the machine
    pytest.skip("mosquitto is not installed", allow_module_level=True)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` until truthy or fail after ``timeout`` seconds (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.005)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def mqtt_client(client_id: str = "") -> Client:
    return Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or unique("t"),
        protocol=MQTTProtocolVersion.MQTTv5,
    )


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    decoded: Any  # a v1 Payload (Status|Event|Reading); Any keeps the tests terse


@dataclass
class Collector:
    """Subscribes upstream and validates everything with the server's own schemas."""

    broker: PrivateMosquitto
    topic_filter: str
    messages: list[Received] = field(default_factory=list)
    invalid: list[tuple[str, bytes, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt_client()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect("127.0.0.1", self.broker.port)
        self.client.subscribe(self.topic_filter, qos=1)
        self.client.loop_start()
        wait_until(self._subscribed.is_set, what="collector subscription")

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        try:
            decoded = decode_payload(parse_topic(message.topic), message.payload)
        except Exception as exc:
            with self._lock:
                self.invalid.append((message.topic, message.payload, repr(exc)))
            return
        with self._lock:
            self.messages.append(Received(message.topic, message.payload, message.retain, decoded))

    def channel(self, channel: str, device: str | None = None) -> list[Received]:
        with self._lock:
            return [
                m
                for m in self.messages
                if m.topic.endswith("/" + channel) and (device is None or f"/{device}/" in m.topic)
            ]

    def events(self, device: str | None = None) -> list[Any]:
        return [m.decoded for m in self.channel("event", device)]

    def wait_events(self, count: int, device: str | None = None, timeout: float = 10.0) -> list[Any]:
        wait_until(lambda: len(self.events(device)) >= count, timeout, f"{count} event(s)")
        return self.events(device)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def downstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMosquitto]:
    broker = PrivateMosquitto(tmp_path_factory.mktemp("downstream"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMosquitto]:
    broker = PrivateMosquitto(tmp_path_factory.mktemp("upstream"))
    broker.start()
    yield broker
    broker.stop()


class RunningBridge:
    """A Bridge in a background thread with its own event loop."""

    def __init__(self, config_text: str | BridgeConfig, upstream_url: str, spool: Path) -> None:
        self.config = (
            parse_config(config_text, "test.toml") if isinstance(config_text, str) else config_text
        )
        self.bridge = Bridge(self.config, upstream_url=upstream_url, spool_path=spool, drain_seconds=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.bridge.run())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def __enter__(self) -> Bridge:
        self.thread.start()
        wait_until(
            lambda: self.bridge.ready.is_set() or not self.thread.is_alive(), 15, "bridge ready"
        )
        if self.error:
            raise self.error
        return self.bridge

    def __exit__(self, *exc: object) -> None:
        self.bridge.request_stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "bridge did not stop"
        if self.error:
            raise self.error


@pytest.fixture
def site() -> str:
    return unique("site")


@pytest.fixture
def collector(upstream: PrivateMosquitto, site: str) -> Iterator[Collector]:
    c = Collector(upstream, f"fieldops/v1/{site}/#")
    yield c
    c.close()


@pytest.fixture
def run_bridge(tmp_path: Path, upstream: PrivateMosquitto) -> Callable[..., Any]:
    def start(config_text: str | BridgeConfig, spool: Path | None = None) -> RunningBridge:
        return RunningBridge(config_text, upstream.url, spool or tmp_path / "spool.sqlite")

    return start


def publish(broker: PrivateMosquitto, messages: list[tuple[str, bytes | str]], *,
            qos: int = 1, retain: bool = False) -> None:
    """Publish vendor messages with a paho client and wait until the broker has them all."""
    client = mqtt_client()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        infos = [
            client.publish(topic, payload.encode() if isinstance(payload, str) else payload,
                           qos=qos, retain=retain)
            for topic, payload in messages
        ]
        for info in infos:
            info.wait_for_publish(timeout=30)
    finally:
        client.disconnect()
        client.loop_stop()
