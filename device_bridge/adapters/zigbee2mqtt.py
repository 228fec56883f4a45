"""Zigbee2MQTT: leak, smoke and door-contact sensors through a Zigbee coordinator.

Vendor shapes (Zigbee2MQTT docs, "MQTT topics and messages" and each device's
"Exposes"):

- ``zigbee2mqtt/<friendly_name>`` — the device state as JSON, e.g. an Aqara
  SJCGQ11LM leak sensor::

      {"battery":97,"battery_low":false,"device_temperature":24,
       "linkquality":132,"power_outage_count":3,"voltage":3005,"water_leak":true}

  a Heiman smoke sensor ``{"smoke":true,"battery_low":false,"tamper":false}``,
  an Aqara MCCGQ11LM door contact ``{"contact":false,"battery":100}``
  (``contact: false`` = open).
- ``zigbee2mqtt/<friendly_name>/availability`` — ``{"state":"online"}`` (the
  default since Zigbee2MQTT 2.0) or plain ``online`` / ``offline`` (the legacy
  payload).

Translation:

- ``water_leak`` → ``sensor.water_leak`` raise/clear (``meter.leak`` for a
  device mapped as a meter); ``smoke`` → ``sensor.smoke``;
- ``contact: false`` on an access device held past ``held_open_seconds`` →
  ``access.held_open`` raise, cleared when it closes;
- ``tamper`` false→true → ``<kind>.tamper`` (one-off);
- ``battery_low`` → ``sensor.battery_low`` raise/clear;
- availability → v1 ``status``.

Zigbee2MQTT republishes the full state on every report: only transitions
produce events, and the last known state is kept in the spool across restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from device_bridge.adapters.base import Adapter
from device_bridge.model import DeviceIdentity, Ignored, Reject, as_bool, decode_json
from server.contract.v1 import DeviceKind

_ALARMS: dict[str, dict[DeviceKind, str]] = {
    "water_leak": {DeviceKind.SENSOR: "sensor.water_leak", DeviceKind.METER: "meter.leak"},
    "smoke": {DeviceKind.SENSOR: "sensor.smoke"},
    "battery_low": {DeviceKind.SENSOR: "sensor.battery_low"},
}
_BRIDGE_TOPICS = ("bridge", "bridge/")


class Zigbee2Mqtt(Adapter):
    name: ClassVar[str] = "zigbee2mqtt"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.base = self.source.base_topic.rstrip("/")
        self.held_open = timedelta(seconds=self.source.held_open_seconds)

    def subscriptions(self) -> list[str]:
        return [f"{self.base}/#"]

    def handle(self, topic: str, payload: bytes) -> None:
        rest = topic[len(self.base) + 1 :]
        if rest == "bridge" or rest.startswith("bridge/"):
            raise Ignored  # Zigbee2MQTT's own state, logs and device list
        if rest.endswith(("/set", "/get")) or "/set/" in rest:
            raise Ignored  # commands from other clients, not device reports
        if rest.endswith("/availability"):
            self._availability(self.device(rest[: -len("/availability")]), payload)
            return
        identity = self.device(rest)
        state = decode_json(payload)
        if not isinstance(state, dict):
            raise Reject("malformed_json", "a Zigbee2MQTT state is a JSON object")
        self._state(identity, state)

    def _availability(self, identity: DeviceIdentity, payload: bytes) -> None:
        text = payload.strip()
        if text.startswith(b"{"):
            value = decode_json(text)
            state = value.get("state") if isinstance(value, dict) else None
        else:
            state = text.decode("utf-8", "replace")
        if state not in ("online", "offline"):
            raise Reject("bad_value", f"availability {state!r}: expected online or offline")
        self.pipeline.status(identity, state)

    def _state(self, identity: DeviceIdentity, state: dict[str, Any]) -> None:
        now = self.pipeline.now()
        for field, types in _ALARMS.items():
            if field not in state:
                continue
            value = as_bool(state[field])
            if value is None:
                raise Reject("bad_value", f"{field}={state[field]!r} is not a boolean")
            event_type = types.get(identity.kind)
            if event_type is not None:
                self.pipeline.condition(identity, event_type, value, ts=now)
        if "tamper" in state:
            tamper = as_bool(state["tamper"])
            if tamper is None:
                raise Reject("bad_value", f"tamper={state['tamper']!r} is not a boolean")
            seen = self.pipeline.state(f"z2m/{identity.key}")
            if tamper and not seen.get("tamper") and identity.has_type(f"{identity.kind}.tamper"):
                self.pipeline.event(identity, f"{identity.kind}.tamper", ts=now)
            if bool(seen.get("tamper")) != tamper:
                seen["tamper"] = tamper
                self.pipeline.save_state(f"z2m/{identity.key}")
        if "contact" in state and identity.kind is DeviceKind.ACCESS:
            contact = as_bool(state["contact"])
            if contact is None:
                raise Reject("bad_value", f"contact={state['contact']!r} is not a boolean")
            self._contact(identity, closed=contact, now=now)

    def _contact(self, identity: DeviceIdentity, *, closed: bool, now: datetime) -> None:
        key = f"z2m/{identity.key}"
        door = self.pipeline.state(key)
        if closed:
            if "opened_at" in door:
                del door["opened_at"]
                self.pipeline.save_state(key)
            self.pipeline.condition(identity, "access.held_open", False, ts=now)
            return
        if "opened_at" not in door:
            door["opened_at"] = now.isoformat()
            self.pipeline.save_state(key)
            self._arm(identity, now)

    def _arm(self, identity: DeviceIdentity, opened_at: datetime) -> None:
        due = opened_at + self.held_open
        delay = (due - self.pipeline.now()).total_seconds()
        self.pipeline.call_later(delay, lambda: self._check_held(identity, opened_at))

    def _check_held(self, identity: DeviceIdentity, opened_at: datetime) -> None:
        door = self.pipeline.state(f"z2m/{identity.key}")
        if door.get("opened_at") != opened_at.isoformat():
            return  # closed (and maybe reopened) since: that opening has its own timer
        self.pipeline.condition(
            identity,
            "access.held_open",
            True,
            data={"opened_at": opened_at.isoformat(), "threshold_s": self.held_open.total_seconds()},
            ts=opened_at + self.held_open,
        )

    def restore(self) -> None:
        for identity in self.devices.values():
            if identity.kind is not DeviceKind.ACCESS:
                continue
            opened = self.pipeline.state(f"z2m/{identity.key}").get("opened_at")
            if opened:
                self._arm(identity, datetime.fromisoformat(opened))
