"""The bridge's local-broker client stops without losing a PUBACK it already queued."""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import pytest

from device_bridge.core import Inbound
from device_bridge.downstream import SourceClient
from device_bridge.mqtt import BrokerUrl
from tests.bridge.conftest import publish, unique, wait_until
from tests.support.broker import PrivateMosquitto

pytestmark = pytest.mark.broker


def _client(broker: PrivateMosquitto, client_id: str, inbox: deque[Inbound]) -> SourceClient:
    client = SourceClient(BrokerUrl.parse(broker.url), client_id, inbox)
    client.add_filter("zigbee2mqtt/#")
    client.start()
    wait_until(client.subscribed.is_set, what="subscribed")
    return client


def test_messages_acknowledged_before_stop_are_not_redelivered_while_more_arrive(tmp_path: Path) -> None:
    broker = PrivateMosquitto(tmp_path / "local")
    broker.start()
    try:
        client_id = unique("src")
        inbox: deque[Inbound] = deque()
        first = _client(broker, client_id, inbox)
        publish(broker, [(f"zigbee2mqtt/sensor{n % 5}", f"k-{n}") for n in range(200)])
        wait_until(lambda: len(inbox) >= 200, what="200 messages")
        got = [inbox.popleft() for _ in range(200)]
        # More keeps arriving while the bridge stops (the estate does not pause for it).
        flood = threading.Thread(
            target=publish, args=(broker, [(f"zigbee2mqtt/sensor{n % 5}", f"more-{n}") for n in range(400)])
        )
        flood.start()
        time.sleep(0.05)
        for message in got:  # as after the spool commit
            message.client.ack(message.mid, message.qos)
        first.stop()
        flood.join()

        again: deque[Inbound] = deque()
        second = _client(broker, client_id, again)
        publish(broker, [("zigbee2mqtt/sentinel", "sentinel")])
        wait_until(lambda: any(m.payload == b"sentinel" for m in again), what="the sentinel")
        second.stop()
        redelivered = [m.payload for m in again if m.payload.startswith(b"k-")]
        assert redelivered == []
        assert any(m.payload.startswith(b"more-") for m in again), "the unacknowledged flood comes back"
    finally:
        broker.stop()
