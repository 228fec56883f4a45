"""The pipeline between adapters and the spool: ids, validation, state, batching, counters.

Adapters call ``event`` / ``condition`` / ``reading`` / ``status``; the
pipeline gives each message a stable id (``<device>-<spool epoch>-<n>``, the
counter persisted with the batch that used it), validates it with the server's
own v1 decoder, and commits the batch to the spool in one transaction together
with the adapters' state. Only then are the source messages acknowledged to the
local broker (manual PUBACK), so a kill at any point loses nothing.

Everything here runs on the bridge's asyncio thread; paho network threads only
append to a deque (measured.md: a deque drained every few ms is the fast path).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Final

import msgspec
from paho.mqtt.client import Client, topic_matches_sub

from device_bridge.model import DeviceIdentity, Ignored, Reject
from device_bridge.spool import (
    CHANNEL_EVENT,
    CHANNEL_READING,
    CHANNEL_STATUS,
    OutRow,
    Spool,
)
from server.contract.v1 import (
    UNIT_OF_MEASURE,
    Channel,
    ContractError,
    EventPayload,
    Quantity,
    ReadingPayload,
    StatusPayload,
    decode_payload,
    encode,
)

log = logging.getLogger("device_bridge")

BATCH_MAX: Final = 2000
IDLE_SLEEP: Final = 0.003
_state_encoder = msgspec.json.Encoder()
_state_decoder = msgspec.json.Decoder(dict[str, Any])


@dataclass(slots=True)
class Inbound:
    """A source MQTT message as the paho thread hands it over."""

    client: Client
    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool


class RejectLog:
    """Every reject is counted; only the first few per reason and interval are logged in full."""

    PER_INTERVAL: Final = 20

    def __init__(self) -> None:
        self.logged: Counter[tuple[str, str]] = Counter()

    def log(self, adapter: str, reason: str, topic: str, payload: bytes, detail: str) -> None:
        key = (adapter, reason)
        self.logged[key] += 1
        if self.logged[key] <= self.PER_INTERVAL:
            log.warning(
                "rejected %s message on %r: %s %s; payload %r",
                adapter, topic, reason, detail, payload[:200],
            )
        elif self.logged[key] == self.PER_INTERVAL + 1:
            log.warning("more %s/%s rejects this interval: counting only", adapter, reason)

    def reset(self) -> None:
        self.logged.clear()


@dataclass
class Stats:
    received: int = 0
    translated: int = 0
    duplicates: int = 0
    published: int = 0
    shed: int = 0

    def __post_init__(self) -> None:
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.ignored: Counter[str] = Counter()

    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        rejects = ", ".join(f"{a}/{r}={n}" for (a, r), n in sorted(self.rejected.items())) or "none"
        return (
            f"received={self.received} translated={self.translated} "
            f"published={self.published} duplicates_skipped={self.duplicates} "
            f"ignored={sum(self.ignored.values())} shed={self.shed} rejected: {rejects}"
        )


class Route:
    """Which adapters want a topic (paho filter match, cached per topic)."""

    def __init__(self) -> None:
        self._filters: list[tuple[str, Any]] = []
        self._cache: dict[str, list[Any]] = {}

    def add(self, topic_filter: str, adapter: Any) -> None:
        self._filters.append((topic_filter, adapter))
        self._cache.clear()

    def adapters_for(self, topic: str) -> list[Any]:
        found = self._cache.get(topic)
        if found is None:
            found = []
            for topic_filter, adapter in self._filters:
                if adapter not in found and topic_matches_sub(topic_filter, topic):
                    found.append(adapter)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[topic] = found
        return found


class Pipeline:
    """Ids, validation, adapter state and batched spool commits; one per bridge."""

    def __init__(self, spool: Spool, tz: tzinfo, stats: Stats | None = None) -> None:
        self.spool = spool
        self.tz = tz
        self.stats = stats or Stats()
        self.rejects = RejectLog()
        self.routes: dict[int, Route] = {}
        self.on_commit: Callable[[], None] = lambda: None
        self._rows: list[OutRow] = []
        self._sequences = spool.load_sequences()
        self._dirty_sequences: dict[str, int] = {}
        self._states: dict[str, dict[str, Any]] = {
            key: _state_decoder.decode(value) for key, value in spool.load_states().items()
        }
        self._dirty_states: set[str] = set()
        self._fingerprints: list[int] = []
        self._batch_fingerprints: set[int] = set()
        self._acks: list[tuple[Client, int, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    # --- what adapters call ---------------------------------------------

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def event(
        self,
        identity: DeviceIdentity,
        event_type: str,
        *,
        alarm: str | None = None,
        data: dict[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> None:
        payload = EventPayload(
            id=self._next_id(identity),
            ts=ts or self.now(),
            type=event_type,
            alarm=alarm,  # type: ignore[arg-type]  # checked by decode_payload below
            unit=identity.unit,
            data=data or {},
        )
        self._add(identity, Channel.EVENT, CHANNEL_EVENT, encode(payload), retain=False)

    def condition(
        self,
        identity: DeviceIdentity,
        event_type: str,
        active: bool,
        *,
        key: str = "",
        data: dict[str, Any] | None = None,
        ts: datetime | None = None,
    ) -> bool:
        """Raise on a false→true transition, clear on true→false; the state survives restarts."""
        state = self.state(f"cond/{identity.key}")
        name = f"{event_type}#{key}" if key else event_type
        if bool(state.get(name, False)) == active:
            return False
        if active:
            state[name] = True
        else:
            state.pop(name, None)
        self.save_state(f"cond/{identity.key}")
        self.event(identity, event_type, alarm="raise" if active else "clear", data=data, ts=ts)
        return True

    def forget_condition(self, identity: DeviceIdentity, event_type: str, key: str = "") -> None:
        """Drop a raised condition without sending a clear (another key keeps the type raised)."""
        state = self.state(f"cond/{identity.key}")
        if state.pop(f"{event_type}#{key}" if key else event_type, None) is not None:
            self.save_state(f"cond/{identity.key}")

    def active_conditions(self, identity: DeviceIdentity) -> list[str]:
        return sorted(self.state(f"cond/{identity.key}"))

    def reading(self, identity: DeviceIdentity, value: float, *, ts: datetime | None = None) -> None:
        quantity = identity.quantity or Quantity.ELECTRICITY
        payload = ReadingPayload(
            id=self._next_id(identity),
            ts=ts or self.now(),
            quantity=quantity,
            value=value,
            uom=UNIT_OF_MEASURE[quantity],
            unit=identity.unit,
        )
        self._add(identity, Channel.READING, CHANNEL_READING, encode(payload), retain=False)

    def status(self, identity: DeviceIdentity, state: str, *, ts: datetime | None = None) -> None:
        """Device online/offline (retained upstream); repeated states are not re-sent."""
        known = self.state(f"status/{identity.key}")
        if known.get("state") == state:
            return
        known["state"] = state
        self.save_state(f"status/{identity.key}")
        payload = StatusPayload(state=state, ts=ts or self.now())  # type: ignore[arg-type]
        self._add(identity, Channel.STATUS, CHANNEL_STATUS, encode(payload), retain=True)

    def repeat_status(self, identity: DeviceIdentity) -> None:
        """Send the device's last known status again (its will may have said offline)."""
        known = self.state(f"status/{identity.key}").get("state")
        if known is None:
            return
        payload = StatusPayload(state=known, ts=self.now())
        self._add(identity, Channel.STATUS, CHANNEL_STATUS, encode(payload), retain=True)
        self.flush()

    def state(self, key: str) -> dict[str, Any]:
        """A persisted dict for adapter state; call ``save_state`` after changing it."""
        found = self._states.get(key)
        if found is None:
            found = self._states[key] = {}
        return found

    def save_state(self, key: str) -> None:
        self._dirty_states.add(key)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the pipeline's loop after ``delay`` s; its output is committed."""
        loop = self._loop or asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            try:
                callback()
            except Exception:
                log.exception("timer callback failed")
            self.flush()

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    # --- internals ---------------------------------------------------------

    def _next_id(self, identity: DeviceIdentity) -> str:
        key = identity.key
        seq = self._sequences.get(key, 0) + 1
        self._sequences[key] = seq
        self._dirty_sequences[key] = seq
        return f"{identity.device}-{self.spool.epoch}-{seq}"

    def _add(
        self, identity: DeviceIdentity, channel: Channel, code: int, payload: bytes, *, retain: bool
    ) -> None:
        topic = identity.topics[channel]
        try:
            # The server's own decoder: what the bridge spools is valid v1 by construction.
            decode_payload(topic, payload)
        except ContractError as exc:
            raise Reject(f"contract_{exc.reason}", exc.detail) from None
        self._rows.append((code, 1 if retain else 0, str(topic), payload))

    def handle(self, adapter: Any, topic: str, payload: bytes) -> None:
        """Give one source message to one adapter; rejects are counted, never raised."""
        mark = len(self._rows)
        try:
            adapter.handle(topic, payload)
        except Reject as exc:
            del self._rows[mark:]
            self.reject(adapter.name, exc.reason, topic, payload, exc.detail)
        except Ignored:
            self.stats.ignored[adapter.name] += 1
        except Exception as exc:
            del self._rows[mark:]
            log.exception("adapter %s failed on %r", adapter.name, topic)
            self.reject(adapter.name, "adapter_error", topic, payload, repr(exc))

    def route_for(self, client: Client) -> Route:
        """The topic → adapters routing of one source connection."""
        return self.routes.setdefault(id(client), Route())

    def reject(self, adapter: str, reason: str, topic: str, payload: bytes, detail: str) -> None:
        self.stats.rejected[(adapter, reason)] += 1
        self.rejects.log(adapter, reason, topic, payload, detail)

    def process(self, message: Inbound) -> None:
        """Route one source message (called for each item drained from the inbox)."""
        self.stats.received += 1
        if message.qos > 0:
            fingerprint = _fingerprint(message.topic, message.payload)
            # A DUP redelivery of a message whose batch was committed before
            # a kill: acknowledge it, translate nothing.
            if message.dup and (
                fingerprint in self._batch_fingerprints or self.spool.seen(fingerprint)
            ):
                self.stats.duplicates += 1
                self._acks.append((message.client, message.mid, message.qos))
                return
            self._fingerprints.append(fingerprint)
            self._batch_fingerprints.add(fingerprint)
            self._acks.append((message.client, message.mid, message.qos))
        route = self.routes.get(id(message.client))
        adapters = route.adapters_for(message.topic) if route is not None else []
        if not adapters:
            self.reject("bridge", "no_adapter", message.topic, message.payload, "no source wants it")
            return
        for adapter in adapters:
            self.handle(adapter, message.topic, message.payload)

    def flush(self) -> None:
        """Commit what is pending, then acknowledge its source messages."""
        if not (self._rows or self._dirty_states or self._fingerprints or self._acks):
            return
        rows, self._rows = self._rows, []
        states = {
            key: _state_encoder.encode(self._states.get(key, {})) for key in self._dirty_states
        }
        self._dirty_states = set()
        sequences, self._dirty_sequences = self._dirty_sequences, {}
        fingerprints, self._fingerprints = self._fingerprints, []
        self._batch_fingerprints = set()
        shed = self.spool.commit(rows, sequences, states, fingerprints)
        self.stats.translated += len(rows)
        if shed is not None:
            self.stats.shed = shed.total_rows
            log.error(
                "SPOOL FULL (%s, %d bytes max): shed %d oldest message(s) (%d bytes) "
                "to take new ones; %d shed in total — the central broker has been "
                "unreachable for too long or the bound is too small",
                self.spool.path, self.spool.max_bytes, shed.rows, shed.bytes, shed.total_rows,
            )
        acks, self._acks = self._acks, []
        for client, mid, qos in acks:
            client.ack(mid, qos)
        if rows:
            self.on_commit()

    async def run(self, inbox: deque[Inbound], stop: asyncio.Event) -> None:
        """Drain the inbox in batches until ``stop`` is set, then flush."""
        self._loop = asyncio.get_running_loop()
        popleft = inbox.popleft
        while not stop.is_set():
            if not inbox:
                self.flush()
                await asyncio.sleep(IDLE_SLEEP)
                continue
            started = time.monotonic()
            for _ in range(min(len(inbox), BATCH_MAX)):
                self.process(popleft())
                if time.monotonic() - started > 0.05:
                    break
            self.flush()
            await asyncio.sleep(0)
        self.flush()
        for handle in list(self._timers):
            handle.cancel()


def _fingerprint(topic: str, payload: bytes) -> int:
    digest = hashlib.blake2b(topic.encode() + b"\0" + payload, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
