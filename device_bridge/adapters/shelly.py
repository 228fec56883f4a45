"""Shelly Gen2+ (Plus/Pro/Gen3/Gen4): energy meters and metering switches over MQTT.

Vendor shapes (Shelly Gen2 API docs: "Notifications", "MQTT", components
``EMData``, ``EM1Data``, ``Switch``, ``PM1``), ``<prefix>`` being the device's
MQTT topic prefix (default its id, e.g. ``shellypro3em-0cb815fcaff4``):

- ``<prefix>/events/rpc`` — JSON-RPC notifications (``rpc_ntf``)::

      {"src":"shellypro3em-0cb815fcaff4","dst":"shellypro3em-0cb815fcaff4/events",
       "method":"NotifyStatus","params":{"ts":1764116102.43,
       "emdata:0":{"id":0,"total_act":1532871.22,"total_act_ret":0.0}}}

      {"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events",
       "method":"NotifyStatus","params":{"ts":1764116102.43,
       "switch:0":{"id":0,"aenergy":{"total":48211.907,"by_minute":[0,0,0],
       "minute_ts":1764116100}}}}

  ``NotifyFullStatus`` carries every component the same way; ``NotifyEvent``
  is ignored.
- ``<prefix>/status/<component:id>`` — the whole component status
  (``status_ntf``), e.g. ``shellyplus1pm-…/status/switch:0`` →
  ``{"id":0,"source":"init","output":true,"apower":412.3,"voltage":229.1,
  "aenergy":{"total":48211.907,"by_minute":[…],"minute_ts":1764116100}}``.
- ``<prefix>/online`` — retained ``true`` / ``false`` (the device's will).

Energy registers are in Wh: ``emdata:N.total_act``, ``em1data:N.total_act_energy``,
``switch:N.aenergy.total``, ``pm1:N.aenergy.total`` → a v1 electricity
``reading`` in kWh. ``em:N``/``em1:N`` carry only power, no register.
Notifications often carry only what changed: no register, no reading.
"""

from __future__ import annotations

from typing import Any, ClassVar

from device_bridge.adapters.base import Adapter
from device_bridge.model import DeviceIdentity, Ignored, Reject, decode_object, parse_vendor_time

# Component type → path of its cumulative energy register (Wh), in preference order.
_REGISTERS: dict[str, tuple[str, ...]] = {
    "emdata": ("total_act",),
    "em1data": ("total_act_energy",),
    "pm1": ("aenergy", "total"),
    "switch": ("aenergy", "total"),
}


class Shelly(Adapter):
    name: ClassVar[str] = "shelly"

    def subscriptions(self) -> list[str]:
        topics = ["+/events/rpc"]  # also catches devices not in the config
        for prefix in self.devices:
            topics += [f"{prefix}/events/rpc", f"{prefix}/status/+", f"{prefix}/online"]
        return topics

    def handle(self, topic: str, payload: bytes) -> None:
        if topic.endswith("/events/rpc"):
            identity = self.device(topic[: -len("/events/rpc")])
            message = decode_object(payload)
            method = message.get("method")
            if method == "NotifyEvent":
                raise Ignored
            if method not in ("NotifyStatus", "NotifyFullStatus"):
                raise Reject("bad_value", f"method {method!r}")
            params = message.get("params")
            if not isinstance(params, dict):
                raise Reject("missing_field", "params")
            self._components(identity, params, params.get("ts"))
            return
        if topic.endswith("/online"):
            identity = self.device(topic[: -len("/online")])
            state = payload.strip().lower()
            if state not in (b"true", b"false"):
                raise Reject("bad_value", f"online {payload[:20]!r}: expected true or false")
            self.pipeline.status(identity, "online" if state == b"true" else "offline")
            return
        prefix, _, component = topic.rpartition("/status/")
        identity = self.device(prefix)
        status = decode_object(payload)
        self._components(identity, {component: status}, None)

    def _components(self, identity: DeviceIdentity, params: dict[str, Any], ts_value: Any) -> None:
        wanted = self.settings[identity.key].component
        found: float | None = None
        for name, status in params.items():
            if name == "ts" or not isinstance(status, dict):
                continue
            if wanted and name != wanted:
                continue
            path = _REGISTERS.get(name.split(":", 1)[0])
            if path is None:
                continue
            value: Any = status
            for step in path:
                value = value.get(step) if isinstance(value, dict) else None
            if value is None:
                continue  # a partial notification without the register
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise Reject("bad_value", f"{name} energy register {value!r}")
            found = float(value)
            break
        if found is None:
            raise Ignored
        ts = parse_vendor_time(ts_value, self.pipeline.tz) or self.pipeline.now()
        self.pipeline.reading(identity, round(found / 1000.0, 6), ts=ts)
