"""The downstream side: the estate's local broker, where Zigbee2MQTT, Tasmota & co. publish.

A persistent MQTT 5 session (clean start off, session expiry) with manual
acknowledgement: a QoS 1 message is acknowledged only after its translation is
committed to the spool, so the local broker redelivers whatever a killed
bridge had not made durable. The paho callback only appends to a deque
(conventions: the callback only enqueues); MQTT 5 Receive Maximum bounds how
much the broker sends unacknowledged — back-pressure instead of loss.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Final

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from device_bridge.core import Inbound
from device_bridge.mqtt import BrokerUrl, new_client

log = logging.getLogger("device_bridge.downstream")

RECEIVE_MAXIMUM: Final = 2000
STOP_WAIT_S: Final = 5.0
# Unsubscribed (never subscribed) on stop: its UNSUBACK proves the broker has read our PUBACKs.
STOP_BARRIER_FILTER: Final = "fieldops-bridge/_stop_barrier"


class SourceClient:
    """One connection to a local broker, subscribed for every adapter that reads from it."""

    def __init__(
        self,
        url: BrokerUrl,
        client_id: str,
        inbox: deque[Inbound],
        *,
        keepalive: int = 30,
        session_expiry: int = 7 * 24 * 3600,
    ) -> None:
        self.url = url
        self.inbox = inbox
        self.filters: list[str] = []
        self.subscribed = threading.Event()
        self._pending_suback: set[int] = set()
        self._keepalive = keepalive
        self._session_expiry = session_expiry
        self._stopping = False
        self._barrier_mid: int | None = None
        self._barrier_lock = threading.Lock()  # the UNSUBACK may come before unsubscribe() returns
        self._barrier_passed = threading.Event()
        self._disconnected = threading.Event()
        self.client = new_client(url, client_id, manual_ack=True)
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe
        self.client.on_message = self._on_message

    def add_filter(self, topic_filter: str) -> None:
        if topic_filter not in self.filters:
            self.filters.append(topic_filter)

    def subscriptions(self) -> list[str]:
        """The filters minus those another filter already covers.

        Overlapping subscriptions make the broker deliver one copy per match
        (measured with Mosquitto 2): the same device report would be translated twice.
        """
        return [
            f for f in self.filters
            if not any(other != f and covers(other, f) for other in self.filters)
        ]

    def _on_connect(
        self, client: Client, userdata: Any, flags: ConnectFlags, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("local broker %s refused the bridge: %s", self.url.redacted(), reason)
            return
        log.info(
            "connected to the local broker %s (session present: %s)",
            self.url.redacted(), flags.session_present,
        )
        if self.filters:
            _result, mid = client.subscribe([(f, 1) for f in self.subscriptions()])
            if mid is not None:
                self._pending_suback.add(mid)

    def _on_subscribe(
        self, client: Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("local broker refused subscriptions %s: %s", self.filters, failed)
        self._pending_suback.discard(mid)
        if not self._pending_suback:
            self.subscribed.set()

    def _on_unsubscribe(
        self, client: Client, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        with self._barrier_lock:
            if mid == self._barrier_mid:
                self._barrier_passed.set()

    def _on_disconnect(
        self, client: Client, userdata: Any, flags: DisconnectFlags, reason: ReasonCode, props: Any
    ) -> None:
        self.subscribed.clear()
        if self._stopping:
            self._disconnected.set()
            return
        log.warning("lost the local broker %s (%s); reconnecting", self.url.redacted(), reason)

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        self.inbox.append(
            Inbound(client, message.topic, bytes(message.payload), message.mid, message.qos, message.dup)
        )

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(
            self.url.host,
            self.url.port,
            keepalive=self._keepalive,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect without losing a PUBACK already queued, so committed messages are not
        redelivered (the spool's fingerprints would absorb them, at a cost).

        paho's loop_stop() does not flush, and paho closes the socket right after the
        DISCONNECT: with inbound data still unread the kernel resets the connection and
        drops what it had not sent. An UNSUBACK round trip first proves the broker has
        read our PUBACKs (it handles a connection's packets in order); see
        docs/mosquitto.md and server/ingest/transport.py.
        """
        self._stopping = True
        if self.client.is_connected():
            self._barrier_passed.clear()
            self._disconnected.clear()
            with self._barrier_lock:
                _rc, self._barrier_mid = self.client.unsubscribe(STOP_BARRIER_FILTER)
            if not self._barrier_passed.wait(STOP_WAIT_S):
                log.warning("local broker did not answer while stopping; committed messages "
                            "may be redelivered (the spool skips them)")
            self.client.disconnect()
            self._disconnected.wait(STOP_WAIT_S)
        else:
            self.client.disconnect()
        self.client.loop_stop()


def covers(general: str, specific: str) -> bool:
    """Whether every topic matching ``specific`` also matches ``general``."""
    g, s = general.split("/"), specific.split("/")
    for i, level in enumerate(g):
        if level == "#":
            return True
        if i >= len(s):
            return False
        if level == "+":
            if s[i] == "#":
                return False
            continue
        if level != s[i]:
            return False
    return len(g) == len(s)
