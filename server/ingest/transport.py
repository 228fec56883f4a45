"""The server's MQTT connection: a persistent QoS 1 session that acknowledges only on request.

paho-mqtt runs its network loop in its own thread. That thread only appends
each PUBLISH to a ``collections.deque``; the asyncio consumer polls the deque
every couple of milliseconds (``wait_for_messages``), takes a batch
(``drain``), commits it, and only then calls ``ack`` so that the PUBACKs leave.
Waking the event loop once per message (``call_soon_threadsafe``) halved
throughput when measured (shared/measured.md); polling a deque did not.

Delivery guarantees, and how they are kept:

* Nothing is acknowledged before the consumer says so (``manual_ack=True``).
  Whatever was not acknowledged when the connection drops or the process dies
  is sent again by the broker from the persistent session (MQTT 5: clean start
  off with a session expiry; MQTT 3.1.1: clean session off).
* A packet id (``mid``) means something only on the connection it came in on.
  Every message carries the connection *generation* it arrived on; ``ack``
  silently skips messages from an earlier connection, so a PUBACK can never
  acknowledge a different message that reuses the id on the new connection.
  Those messages stay in the buffer and are still handed to the consumer (the
  broker may have lost its session, so they might not come again); when they
  do come again, the consumer's ``(device, id)`` deduplication ignores them.
* Back-pressure instead of loss: for MQTT 5 the ``ReceiveMaximum`` connect
  property bounds how many unacknowledged messages the broker sends us; in
  addition (and for MQTT 3.1.1, where the broker's ``max_inflight_messages``
  is the only bound) the network thread stops reading while the buffer holds
  ``max_buffered`` messages.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from server.ingest.mqtt_url import MqttUrl

log = logging.getLogger(__name__)

Protocol = Literal["v5", "v311"]

# How many unacknowledged messages the broker may have in flight to us (MQTT 5).
# Acks leave only after a commit, so this window must cover a few commit batches
# or the stream stalls while a batch is committed; see docs/mosquitto.md for the
# measurement behind the figure. Mosquitto's max_inflight_messages does not cap it
# for MQTT 5 clients.
DEFAULT_RECEIVE_MAXIMUM = 2000
# How often wait_for_messages looks at the deque; a few ms keeps the batch latency low
# without waking the event loop per message.
POLL_INTERVAL_S = 0.002
# MQTT 5 DISCONNECT reason: another connection logged in with our client id.
_SESSION_TAKEN_OVER = 0x8E
# How long the network thread sleeps between checks while the buffer is full.
_BACKPRESSURE_WAIT_S = 0.01
STOP_FLUSH_S = 5.0  # how long stop() waits for the queued PUBACKs and the DISCONNECT to go out
# Unsubscribed (never subscribed) on stop: its UNSUBACK proves the broker has read our PUBACKs.
STOP_BARRIER_FILTER = "fieldops/_stop_barrier"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One PUBLISH as received. ``generation`` identifies the connection it came in on."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    retain: bool
    received_monotonic: float
    generation: int = 0
    dup: bool = False


class _Client(mqtt.Client):
    """paho's client, remembering why the last connection attempt failed (paho drops it)."""

    last_connect_error: str | None = None

    def reconnect(self) -> MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as exc:  # refused, DNS, TLS (ssl.SSLError is an OSError) ...
            self.last_connect_error = f"{type(exc).__name__}: {exc}"
            raise


class MqttTransport:
    """A persistent MQTT session subscribed to the device stream, acked after commit.

    Thread model: paho's network thread runs the callbacks and fills the buffer;
    one consumer (in asyncio or any single thread) calls ``drain``,
    ``wait_for_messages`` and ``ack``. ``start``/``stop`` are called by the owner.
    """

    def __init__(
        self,
        url: MqttUrl,
        *,
        client_id: str,
        subscription: str = "fieldops/v1/#",
        share_group: str | None = None,
        protocol: Protocol = "v5",
        session_expiry_s: int = 7 * 24 * 3600,
        max_buffered: int = 50_000,
        keepalive: int = 30,
        receive_maximum: int = DEFAULT_RECEIVE_MAXIMUM,
        reconnect_min_delay_s: int = 1,
        reconnect_max_delay_s: int = 30,
    ) -> None:
        if not client_id:
            # An empty id gets a random one from the broker: the session would be lost.
            raise ValueError("client_id is required for a persistent session")
        if protocol not in ("v5", "v311"):
            raise ValueError(f"protocol must be 'v5' or 'v311', not {protocol!r}")
        if share_group is not None and (
            not share_group or any(ch in share_group for ch in "/+#")
        ):
            raise ValueError(f"invalid share group {share_group!r}: no '/', '+' or '#'")
        if max_buffered < 1:
            raise ValueError("max_buffered must be at least 1")
        if not 1 <= receive_maximum <= 65535:
            raise ValueError("receive_maximum must be within 1..65535")
        if not 0 <= session_expiry_s <= 0xFFFFFFFF:
            raise ValueError("session_expiry_s must be within 0..4294967295")
        self.url = url
        self.client_id = client_id
        self.protocol: Protocol = protocol
        self.subscription = subscription
        self.share_group = share_group
        self.topic_filter = (
            f"$share/{share_group}/{subscription}" if share_group else subscription
        )
        self.session_expiry_s = session_expiry_s
        self.max_buffered = max_buffered
        self.keepalive = keepalive
        self.receive_maximum = receive_maximum
        self._reconnect_delays = (reconnect_min_delay_s, reconnect_max_delay_s)

        self._buffer: collections.deque[InboundMessage] = collections.deque()
        # Guards the connection state below and makes "check generation, queue PUBACK"
        # atomic against a disconnect (see ack()).
        self._lock = threading.Lock()
        self._disconnected = threading.Event()  # set by on_disconnect: the DISCONNECT went out
        self._barrier_passed = threading.Event()  # set by the UNSUBACK of stop()'s barrier
        self._barrier_mid: int | None = None
        self._room = threading.Condition(threading.Lock())
        self._producer_waiting = False
        self._client: _Client | None = None
        self._stopping = False
        self._left_group = False
        self._refused = False
        self._generation = 0
        self._session_up = False
        self._subscribed = False
        self._connect_count = 0
        self._session_present: bool | None = None
        self._state_since = time.monotonic()

        self.reconnect_count = 0
        """Successful connections after the first one."""
        self.last_error: str | None = None
        """Why the last connection failed or ended; ``None`` until something goes wrong."""
        self.acked = 0
        """PUBACKs queued since start (for metrics)."""
        self.stale_ack_skips = 0
        """Acks skipped because the message came in on an earlier connection."""
        self.backpressure_waits = 0
        """Times the network thread paused because the buffer was full."""

    # ------------------------------------------------------------------ state
    @property
    def connected(self) -> bool:
        """True while the MQTT session with the broker is up."""
        return self._session_up

    @property
    def subscribed(self) -> bool:
        """True once the broker granted the subscription on the current connection."""
        return self._subscribed

    @property
    def buffered(self) -> int:
        """Messages received and not yet drained."""
        return len(self._buffer)

    @property
    def generation(self) -> int:
        """Changes on every connect and disconnect; equal to ``msg.generation`` while ackable."""
        return self._generation

    @property
    def session_present(self) -> bool | None:
        """What the broker said in the last CONNACK (``None`` before the first)."""
        return self._session_present

    def status(self) -> dict[str, Any]:
        """A snapshot for ``/ready`` and logs (no password)."""
        return {
            "broker": self.url.redacted(),
            "client_id": self.client_id,
            "protocol": self.protocol,
            "subscription": self.topic_filter,
            "connected": self._session_up,
            "subscribed": self._subscribed,
            "session_present": self._session_present,
            "seconds_in_state": round(time.monotonic() - self._state_since, 3),
            "reconnect_count": self.reconnect_count,
            "last_error": self.last_error,
            "buffered": len(self._buffer),
        }

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Connect in paho's network thread and keep reconnecting (capped backoff) until stop().

        Returns at once; the first connection may fail and is retried like any other.
        """
        if self._client is not None:
            raise RuntimeError("transport already started")
        self._stopping = False
        self._left_group = False
        if self.protocol == "v5":
            client = _Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            client = _Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        if self.url.username is not None:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            client.tls_set(ca_certs=self.url.ca_file)
        client.reconnect_delay_set(*self._reconnect_delays)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        if self.protocol == "v5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            props.ReceiveMaximum = self.receive_maximum
            # clean_start=False: resume the session and get what was queued meanwhile.
            client.connect_async(
                self.url.host, self.url.port, self.keepalive, clean_start=False, properties=props
            )
        else:
            client.connect_async(self.url.host, self.url.port, self.keepalive)
        self._client = client
        log.info(
            "MQTT connecting to %s as %r (%s, %s)",
            self.url.redacted(), self.client_id, self.protocol, self.topic_filter,
        )
        client.loop_start()

    def stop(self, *, end_session: bool = False) -> None:
        """Disconnect cleanly (queued PUBACKs go out first) and stop the network thread.

        Normally the broker keeps the session and sends anything not acknowledged
        next time. ``end_session=True`` (MQTT 5) asks the broker to delete the session:
        for a process leaving a share group for good, after ``leave_group()`` and a
        final drain-and-ack, so the broker stops queueing its share (see docs/mosquitto.md).
        """
        client = self._client
        if client is None:
            return
        self._stopping = True
        with self._room:
            self._room.notify_all()  # a network thread waiting for room must see _stopping
        with self._lock:
            connected = self._session_up
        if connected:
            self._wait_for_broker_to_read_acks(client)
        self._disconnected.clear()
        if end_session and self.protocol == "v5":
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
            client.disconnect(properties=props)
        else:
            if end_session:
                log.warning("MQTT 3.1.1 cannot end a session on disconnect; the broker keeps it")
            client.disconnect()
        # paho's loop_stop() does not flush, so wait until the DISCONNECT has been written.
        if connected and not self._disconnected.wait(STOP_FLUSH_S):
            log.warning("MQTT DISCONNECT not sent within %.0f s; unsent PUBACKs will be redelivered",
                        STOP_FLUSH_S)
        client.loop_stop()
        with self._lock:
            self._session_up = False
            self._subscribed = False
            self._generation += 1
        self._client = None
        log.info("MQTT transport stopped (%d messages left unacknowledged in the buffer)",
                 len(self._buffer))

    def _wait_for_broker_to_read_acks(self, client: _Client) -> None:
        """Round-trip an UNSUBSCRIBE so the broker has read every PUBACK before we close.

        Writing the PUBACKs is not enough. paho closes the socket right after the
        DISCONNECT; if a message the broker sent meanwhile is still unread, the kernel
        answers the close with a reset and throws away what it had not yet sent, and the
        broker redelivers messages we committed (tests/ingest/test_transport.py floods
        the connection while stopping to show it). The broker handles a connection's
        packets in order, so the UNSUBACK comes after it has processed our PUBACKs.
        """
        self._barrier_passed.clear()
        with self._lock:
            rc, mid = client.unsubscribe(STOP_BARRIER_FILTER)
            self._barrier_mid = mid
        if rc != mqtt.MQTT_ERR_SUCCESS:
            return
        if not self._barrier_passed.wait(STOP_FLUSH_S):
            log.warning("MQTT broker did not answer within %.0f s while stopping; "
                        "acknowledged messages may be redelivered", STOP_FLUSH_S)

    async def leave_group(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109 - a bound, not a cancel
        """Unsubscribe so the broker routes nothing more to this session; True once confirmed.

        For a process leaving a shared subscription for good: a member that just
        disconnects keeps its persistent session, and Mosquitto goes on queueing its
        share of the stream for it (measured). Keep draining and acking until
        ``buffered`` is 0, then ``stop(end_session=True)``.
        """
        client = self._client
        if client is None:
            return False
        self._left_group = True  # and do not subscribe again on a reconnect
        client.unsubscribe(self.topic_filter)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # Polled: the UNSUBACK arrives in paho's thread, which cannot set an asyncio.Event cheaply.
        while self._subscribed and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(POLL_INTERVAL_S)
        return not self._subscribed

    # -------------------------------------------------------------- consuming
    def drain(self, max_messages: int) -> list[InboundMessage]:
        """Take up to ``max_messages`` buffered messages, oldest first, without blocking."""
        buffer = self._buffer
        count = min(max_messages, len(buffer))
        batch = [buffer.popleft() for _ in range(count)]
        if count and self._producer_waiting:
            with self._room:
                self._room.notify()
        return batch

    async def wait_for_messages(self, timeout: float) -> None:  # noqa: ASYNC109 - batch window
        """Return as soon as something is buffered, or after ``timeout`` seconds.

        Polls every ~2 ms rather than being woken per message (see module docstring).
        """
        if self._buffer:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._buffer:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(POLL_INTERVAL_S, remaining))

    def ack(self, messages: Iterable[InboundMessage]) -> int:
        """Send PUBACKs for messages the consumer has committed; return how many were sent.

        Messages from an earlier connection (or after stop) are skipped silently:
        their packet ids are void and the broker sends them again.
        """
        client = self._client
        sent = 0
        skipped = 0
        # Held across the queueing so a disconnect cannot slip in between the check and
        # the PUBACK: paho clears unsent packets on reconnect, and on_disconnect (which
        # takes this lock) runs before that, so no PUBACK of ours reaches a new connection.
        with self._lock:
            live = self._session_up and client is not None
            generation = self._generation
            for msg in messages:
                if msg.qos == 0:
                    continue
                if not live or msg.generation != generation:
                    skipped += 1
                    continue
                client.ack(msg.mid, msg.qos)  # type: ignore[union-attr]  # live implies client
                sent += 1
            self.acked += sent
            self.stale_ack_skips += skipped
        if skipped:
            log.debug("skipped %d acks from an earlier connection", skipped)
        return sent

    # -------------------------------------------------- paho thread callbacks
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            # paho closes the socket and retries with backoff.
            self.last_error = f"connection refused by broker: {reason_code}"
            self._refused = True
            log.warning("MQTT %s refused the connection: %s", self.url.redacted(), reason_code)
            return
        with self._lock:
            self._generation += 1
            self._session_up = True
            self._subscribed = False
            self._state_since = time.monotonic()
        self._connect_count += 1
        if self._connect_count > 1:
            self.reconnect_count += 1
        self._session_present = bool(flags.session_present)
        if self._connect_count > 1 and not flags.session_present:
            # The broker lost or expired our session: whatever it had queued for us is gone.
            log.warning(
                "MQTT reconnected to %s but the broker had no session for %r: messages "
                "published while we were away may be lost (session expired or broker lost state)",
                self.url.redacted(), self.client_id,
            )
        else:
            log.info(
                "MQTT connected to %s as %r (session present: %s, reconnects: %d)",
                self.url.redacted(), self.client_id, flags.session_present, self.reconnect_count,
            )
        if self._left_group:
            return
        if self.protocol == "v5":
            # Retained messages only when the subscription is new: resuming a session must
            # not replay every retained device status on each reconnect.
            options = SubscribeOptions(
                qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
            )
            client.subscribe(self.topic_filter, options=options)
        else:
            client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            self.last_error = f"subscription to {self.topic_filter} refused: {failed[0]}"
            log.error("MQTT broker refused subscription %s: %s", self.topic_filter, failed[0])
            return
        self._subscribed = True
        log.info("MQTT subscribed to %s (granted QoS %s)", self.topic_filter,
                 ",".join(str(rc.value) for rc in reason_codes))

    def _on_unsubscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._lock:
            barrier = mid == self._barrier_mid
        if barrier:
            self._barrier_passed.set()
            return
        self._subscribed = False
        log.info("MQTT unsubscribed from %s", self.topic_filter)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            was_up = self._session_up
            self._session_up = False
            self._subscribed = False
            # Void the packet ids of this connection before paho can reconnect.
            self._generation += 1
            self._state_since = time.monotonic()
        if self._stopping:
            self._disconnected.set()
            return
        if reason_code.value == _SESSION_TAKEN_OVER:
            log.error(
                "MQTT broker handed our session to another connection with client id %r: "
                "every server process needs its own FIELDOPS_MQTT_CLIENT_ID", self.client_id,
            )
        if not was_up and self._refused:
            self._refused = False
            return  # keep the refusal's reason, not paho's follow-up "protocol error"
        self.last_error = f"disconnected: {reason_code}" + (
            " (by the broker)" if flags.is_disconnect_packet_from_server else ""
        )
        if was_up:
            log.warning(
                "MQTT lost connection to %s: %s; reconnecting with backoff (%d buffered, "
                "unacknowledged messages will be redelivered)",
                self.url.redacted(), self.last_error, len(self._buffer),
            )

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        reason = getattr(client, "last_connect_error", None) or "connection failed"
        self.last_error = f"cannot connect: {reason}"
        log.warning("MQTT cannot connect to %s: %s; retrying with backoff",
                    self.url.redacted(), reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Runs for every message in paho's thread: keep it to an append.
        try:
            topic = message.topic
        except UnicodeDecodeError:  # kept so the consumer can dead-letter it, never dropped
            topic = message._topic.decode("utf-8", "backslashreplace")
        payload = message.payload
        self._buffer.append(
            InboundMessage(
                topic,
                payload if type(payload) is bytes else bytes(payload),
                message.mid,
                message.qos,
                bool(message.retain),
                message.timestamp,  # paho sets it from time.monotonic()
                self._generation,  # written only by this thread
                bool(message.dup),
            )
        )
        if len(self._buffer) >= self.max_buffered:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        """Stop reading from the socket until the consumer has drained below the limit."""
        self.backpressure_waits += 1
        with self._room:
            self._producer_waiting = True
            try:
                while len(self._buffer) >= self.max_buffered and not self._stopping:
                    self._room.wait(_BACKPRESSURE_WAIT_S)
            finally:
                self._producer_waiting = False
