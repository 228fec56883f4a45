"""The upstream side: publish the spool to the central broker, in order, QoS 1.

``UpstreamPublisher`` runs one thread that reads the spool oldest-first and
hands rows to paho. In-flight publishes are gated by a semaphore released in
``on_publish`` (measured.md: a large paho in-flight window is slower — it scans
linearly per ack). A row leaves the spool only when everything up to it is
acknowledged. While the broker is unreachable paho keeps the (at most
``window``) handed-over messages and resends them first on reconnect; the rest
wait in the spool. After a restart the spool is replayed from its first row.

``DeviceWills`` holds one tiny MQTT connection per device whose only job is its
last will — ``{"state":"offline"}`` retained on the device's v1 status topic —
because MQTT allows a single will per connection. A clean bridge shutdown
disconnects them with reason 0x04 ("disconnect with will message") so the
devices are marked offline then too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage, topic_matches_sub
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from device_bridge.model import DeviceIdentity
from device_bridge.mqtt import BrokerUrl, new_client
from device_bridge.spool import SpoolReader
from server.contract.v1 import Channel, StatusPayload, encode

log = logging.getLogger("device_bridge.upstream")

FETCH_ROWS: Final = 500
DELETE_EVERY_SECONDS: Final = 0.05


class UpstreamPublisher:
    """Spool → central broker, one thread, order preserved, QoS 1."""

    def __init__(
        self,
        url: BrokerUrl,
        client_id: str,
        reader: SpoolReader,
        *,
        window: int = 64,
        keepalive: int = 30,
        reconnect_max: float = 10.0,
        on_published: Callable[[int], None] = lambda n: None,
        subscriptions: Iterable[tuple[str, Callable[[MQTTMessage], None]]] = (),
    ) -> None:
        self.url = url
        self.reader = reader
        self.window = window
        self.on_published = on_published
        self._subscriptions = list(subscriptions)
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._slots = threading.Semaphore(window)
        self._acked_mids: deque[int] = deque()
        # Publish order: (seq, mid); acknowledged seqs are removed from the left.
        self._inflight: deque[tuple[int, int]] = deque()
        self._acked: set[int] = set()
        self._cursor = 0
        self.drained = threading.Event()  # set by the publishing thread when all is acked
        self._thread: threading.Thread | None = None
        self.client = new_client(url, client_id)
        self.client.max_inflight_messages_set(window)
        self.client.reconnect_delay_set(1, max(1, int(reconnect_max)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._keepalive = keepalive
        self.last_error = ""

    # --- paho callbacks (network thread) ---------------------------------

    def _on_connect(
        self, client: Client, userdata: Any, flags: ConnectFlags, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self.last_error = str(reason)
            log.error("central broker %s refused the bridge: %s", self.url.redacted(), reason)
            return
        log.info("connected to the central broker %s", self.url.redacted())
        for topic, _ in self._subscriptions:
            client.subscribe(topic, qos=1)
        self.connected.set()
        self._wake.set()

    def _on_disconnect(
        self, client: Client, userdata: Any, flags: DisconnectFlags, reason: ReasonCode, props: Any
    ) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            log.warning(
                "lost the central broker %s (%s): spooling until it is back",
                self.url.redacted(), reason,
            )
        self.connected.clear()

    def _on_publish(
        self, client: Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._acked_mids.append(mid)
        self._slots.release()

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        for topic, callback in self._subscriptions:
            if topic_matches_sub(topic, message.topic):
                try:
                    callback(message)
                except Exception:
                    log.exception("handling upstream message on %s", message.topic)

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        first = self.reader.first_seq()
        self._cursor = first - 1 if first else 0
        self.client.connect_async(
            self.url.host, self.url.port, keepalive=self._keepalive, clean_start=True
        )
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="bridge-upstream", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop publishing; if connected, first wait up to ``drain_seconds`` for the spool to empty."""
        deadline = time.monotonic() + drain_seconds
        self.drained.clear()
        while self.connected.is_set() and time.monotonic() < deadline:
            self._wake.set()
            if self.drained.wait(0.01):
                break
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()
        self.reader.close()

    # --- the publishing thread ---------------------------------------------

    def _run(self) -> None:
        last_delete = time.monotonic()
        while not self._stop.is_set():
            self._settle_acks()
            if not self.connected.is_set():
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            rows = self.reader.fetch(self._cursor, FETCH_ROWS)
            if not rows:
                self._delete_acked()
                if not self._inflight:
                    self.drained.set()
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            for seq, retain, topic, payload in rows:
                while not self._slots.acquire(timeout=0.05):
                    self._settle_acks()
                    if self._stop.is_set():
                        return
                info = self.client.publish(topic, payload, qos=1, retain=bool(retain))
                if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                    # Not taken by paho (queue full or a bad packet): retry from here.
                    self._slots.release()
                    log.warning("publish of spool row %d failed: %s", seq, info.rc)
                    break
                # MQTT_ERR_NO_CONN still queues a QoS 1 message inside paho,
                # which sends it first on reconnect: it is handed over.
                self._inflight.append((seq, info.mid))
                self._cursor = seq
                if len(self._acked_mids) > 32:
                    self._settle_acks()
                if time.monotonic() - last_delete > DELETE_EVERY_SECONDS:
                    self._delete_acked()
                    last_delete = time.monotonic()
                if self._stop.is_set():
                    return
            self._delete_acked()
            last_delete = time.monotonic()

    def _settle_acks(self) -> None:
        acked = self._acked_mids
        while acked:
            self._acked.add(acked.popleft())

    def _delete_acked(self) -> None:
        self._settle_acks()
        through = 0
        count = 0
        inflight = self._inflight
        while inflight and inflight[0][1] in self._acked:
            seq, mid = inflight.popleft()
            self._acked.discard(mid)
            through = seq
            count += 1
        if through:
            self.reader.delete_through(through)
            self.on_published(count)


class DeviceWills:
    """One will-holding MQTT connection per device (MQTT has one will per connection)."""

    def __init__(
        self,
        url: BrokerUrl,
        client_id: str,
        devices: Iterable[DeviceIdentity],
        *,
        keepalive: int = 30,
        reconnect_max: float = 10.0,
        on_connected: Callable[[DeviceIdentity], None] = lambda identity: None,
    ) -> None:
        self.clients: list[Client] = []
        offline = encode(StatusPayload(state="offline"))
        for identity in devices:
            client = new_client(url, f"{client_id}-will-{identity.site}-{identity.device}"[:128])
            # A (re)connect means the previous connection's will may have fired:
            # the device's known status must be said again.
            client.on_connect = self._connected_callback(identity, on_connected)
            client.will_set(identity.topic(Channel.STATUS), offline, qos=1, retain=True)
            client.reconnect_delay_set(1, max(1, int(reconnect_max)))
            client.connect_async(url.host, url.port, keepalive=keepalive, clean_start=True)
            self.clients.append(client)

    @staticmethod
    def _connected_callback(
        identity: DeviceIdentity, on_connected: Callable[[DeviceIdentity], None]
    ) -> Callable[..., None]:
        def connected(client: Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
            if not reason.is_failure:
                on_connected(identity)

        return connected

    def start(self) -> None:
        for client in self.clients:
            client.loop_start()

    def stop(self, *, fire: bool) -> None:
        """Disconnect; with ``fire`` the broker publishes each will (reason 0x04)."""
        reason = ReasonCode(PacketTypes.DISCONNECT, identifier=0x04 if fire else 0x00)
        props = Properties(PacketTypes.DISCONNECT)
        for client in self.clients:
            client.disconnect(reasoncode=reason, properties=props)
        for client in self.clients:
            client.loop_stop()
