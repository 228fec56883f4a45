"""A generic JSON mapper for intercom and access vendors without an adapter of their own.

The config says where the device id is (``device_field``, a dotted path into
the JSON, or ``device_topic_level``, a 0-based level of the topic) and lists
rules; the first rule whose ``match`` holds translates the message::

    [[sources.rules]]
    match = { event = "call" }               # field path = value (all must hold)
    type = "intercom.call"                   # a v1 event type, "meter.reading" or "status"
    fields = { call_id = "callId", phase = "state", to = "target", from_unit = "room" }
    maps = { phase = { ring = "ringing", talk = "answered", hangup = "ended" } }
    constants = { }                          # fixed data values
    ts = "time"                              # ISO (offset or site-local), Unix s or ms
    alarm = ""                               # conditions: a boolean path, true = raise

For example a door station publishing on ``intercom/b1-ds1/event``::

    {"event":"call","callId":"c-88121","state":"ring","target":"center",
     "room":"1203","time":1764116102}

becomes ``intercom.call`` with ``data`` ``{"call_id":"c-88121","phase":"ringing",
"to":"center","from_unit":"1203"}``. Readings take ``value`` (× ``scale``);
status rules take ``state`` mapped to ``online``/``offline``. A message no rule
matches is counted as ignored; one that matches but lacks a field is rejected.
"""

from __future__ import annotations

from typing import Any, ClassVar

from device_bridge.adapters.base import Adapter
from device_bridge.model import Ignored, Reject, as_bool, decode_object, dig, parse_vendor_time
from server.contract.v1 import EVENT_TYPES, DeviceKind


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return as_bool(actual) is expected
    return actual is not None and str(actual) == str(expected)


class Generic(Adapter):
    name: ClassVar[str] = "generic"

    def subscriptions(self) -> list[str]:
        return [self.source.topic]

    def handle(self, topic: str, payload: bytes) -> None:
        message = decode_object(payload)
        source = self.source
        if source.device_field:
            vendor_id = dig(message, source.device_field)
        else:
            levels = topic.split("/")
            level = source.device_topic_level
            vendor_id = levels[level] if level < len(levels) else None
        if vendor_id in (None, ""):
            raise Reject("missing_field", source.device_field or f"topic level {source.device_topic_level}")
        identity = self.device(str(vendor_id))
        for rule in source.rules:
            if all(_same(dig(message, path), value) for path, value in rule.match.items()):
                break
        else:
            raise Ignored
        ts = parse_vendor_time(dig(message, rule.ts), self.pipeline.tz) if rule.ts else None
        ts = ts or self.pipeline.now()

        def value_of(name: str, path: str) -> Any:
            raw = dig(message, path)
            if raw is None:
                raise Reject("missing_field", path)
            mapping = rule.maps.get(name)
            if mapping is not None:
                mapped = mapping.get(str(raw).lower() if isinstance(raw, bool) else str(raw))
                if mapped is None:
                    raise Reject("bad_value", f"{path}={raw!r} is not in maps.{name}")
                return mapped
            return raw

        if rule.type == "status":
            state = value_of("state", rule.state)
            if state not in ("online", "offline"):
                raise Reject("bad_value", f"status {state!r}: map it to online/offline")
            self.pipeline.status(identity, state, ts=ts)
            return
        if rule.type == "meter.reading":
            raw = value_of("value", rule.value)
            try:
                value = float(raw) * rule.scale
            except (TypeError, ValueError):
                raise Reject("bad_value", f"{rule.value}={raw!r} is not a number") from None
            self.pipeline.reading(identity, value, ts=ts)
            return
        if not identity.has_type(rule.type):
            raise Reject("bad_value", f"{rule.type} does not apply to a {identity.kind} device")
        data: dict[str, Any] = dict(rule.constants)
        for name, path in rule.fields.items():
            data[name] = value_of(name, path)
        kind = DeviceKind(rule.type.split(".", 1)[0])
        if EVENT_TYPES[kind][rule.type]:
            active = as_bool(value_of("alarm", rule.alarm))
            if active is None:
                raise Reject("bad_value", f"{rule.alarm} is not a boolean")
            self.pipeline.condition(identity, rule.type, active, data=data, ts=ts)
            return
        self.pipeline.event(identity, rule.type, data=data, ts=ts)
