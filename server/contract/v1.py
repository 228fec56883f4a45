"""The MQTT v1 device contract (DESIGN.md): topics and payload schemas.

Both the server and ``device_bridge`` import this module; it imports nothing else
from the server. Extend it, never break it: new fields get defaults, unknown
fields are ignored, types never change (msgspec schema-evolution rules).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

import msgspec

TOPIC_ROOT: Final = "fieldops/v1"
SUBSCRIPTION: Final = f"{TOPIC_ROOT}/#"
MAX_PAYLOAD_BYTES: Final = 64 * 1024

SLUG_PATTERN: Final = r"[a-z0-9][a-z0-9_-]{0,63}"
_SLUG = re.compile(rf"^{SLUG_PATTERN}$")

Slug = Annotated[str, msgspec.Meta(pattern=f"^{SLUG_PATTERN}$")]
EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# A device timestamp must carry its offset: the server stores UTC (DESIGN.md).
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class DeviceKind(StrEnum):
    ELEVATOR = "elevator"
    INTERCOM = "intercom"
    METER = "meter"
    ACCESS = "access"
    SENSOR = "sensor"


class Channel(StrEnum):
    EVENT = "event"
    READING = "reading"
    STATUS = "status"


class Quantity(StrEnum):
    WATER = "water"
    ELECTRICITY = "electricity"
    GAS = "gas"


UNIT_OF_MEASURE: Final[dict[Quantity, str]] = {
    Quantity.WATER: "m3",
    Quantity.ELECTRICITY: "kWh",
    Quantity.GAS: "m3",
}

# Event types per kind; True marks a condition that is raised and cleared
# (``alarm`` required), False a one-off event (``alarm`` must be absent).
EVENT_TYPES: Final[dict[DeviceKind, dict[str, bool]]] = {
    DeviceKind.ELEVATOR: {
        "elevator.trapped": True,
        "elevator.fault": True,
        "elevator.out_of_service": True,
        "elevator.door_open_outside_zone": True,
        "elevator.power_loss": True,
    },
    DeviceKind.INTERCOM: {
        "intercom.call": False,
        "intercom.fault": True,
        "intercom.tamper": False,
    },
    DeviceKind.METER: {
        "meter.leak": True,
        "meter.tamper": False,
        "meter.low_balance": False,
    },
    DeviceKind.ACCESS: {
        "access.granted": False,
        "access.denied": False,
        "access.card": False,  # a swipe reported without a decision (e.g. a Wiegand reader)
        "access.forced": False,
        "access.held_open": True,
        "access.tamper": False,
    },
    DeviceKind.SENSOR: {
        "sensor.water_leak": True,
        "sensor.smoke": True,
        "sensor.battery_low": True,
        "sensor.tamper": False,
    },
}


class Topic(msgspec.Struct, frozen=True):
    """A parsed v1 topic."""

    site: str
    building: str
    kind: DeviceKind
    device: str
    channel: Channel

    def __str__(self) -> str:
        return topic_for(self.site, self.building, self.kind, self.device, self.channel)


class ContractError(ValueError):
    """A message that breaks the v1 contract; ``reason`` is a stable short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def topic_for(
    site: str, building: str, kind: DeviceKind | str, device: str, channel: Channel | str
) -> str:
    return f"{TOPIC_ROOT}/{site}/{building}/{kind}/{device}/{channel}"


def parse_topic(topic: str) -> Topic:
    """Split a v1 topic into its parts or raise ContractError('bad_topic')."""
    parts = topic.split("/")
    if len(parts) != 7 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise ContractError(
            "bad_topic", f"not fieldops/v1/site/building/kind/device/channel: {topic[:200]!r}"
        )
    site, building, kind, device, channel = parts[2:]
    for name, value in (("site", site), ("building", building), ("device", device)):
        if not _SLUG.match(value):
            raise ContractError("bad_topic", f"{name} {value[:80]!r} is not a slug")
    try:
        parsed_kind = DeviceKind(kind)
    except ValueError:
        raise ContractError("unknown_kind", f"kind {kind[:80]!r}") from None
    try:
        parsed_channel = Channel(channel)
    except ValueError:
        raise ContractError("bad_topic", f"channel {channel[:80]!r}") from None
    return Topic(site, building, parsed_kind, device, parsed_channel)


# --- payloads ---------------------------------------------------------------


class StatusPayload(msgspec.Struct, frozen=True):
    state: Literal["online", "offline"]
    ts: AwareDatetime | None = None


# omit_defaults: a one-off event is sent without "alarm", as the contract says.
class EventPayload(msgspec.Struct, frozen=True, omit_defaults=True):
    id: EventId
    ts: AwareDatetime
    type: Annotated[str, msgspec.Meta(min_length=3, max_length=64)]
    alarm: Literal["raise", "clear"] | None = None
    unit: Slug | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class ReadingPayload(msgspec.Struct, frozen=True):
    id: EventId
    ts: AwareDatetime
    quantity: Quantity
    value: Annotated[float, msgspec.Meta(ge=0)]
    uom: str
    type: Literal["meter.reading"] = "meter.reading"
    unit: Slug | None = None


# Typed views of ``data`` for the event types whose rules read it.
class IntercomCallData(msgspec.Struct, frozen=True):
    call_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    phase: Literal["ringing", "answered", "ended"]
    to: str = "desk"
    from_unit: str | None = None


class ElevatorFaultData(msgspec.Struct, frozen=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class AccessCardData(msgspec.Struct, frozen=True):
    card: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    door: str | None = None


DATA_SCHEMAS: Final[dict[str, type[msgspec.Struct]]] = {
    "intercom.call": IntercomCallData,
    "elevator.fault": ElevatorFaultData,
    "access.granted": AccessCardData,
    "access.denied": AccessCardData,
    "access.card": AccessCardData,
}

_status_decoder = msgspec.json.Decoder(StatusPayload)
_event_decoder = msgspec.json.Decoder(EventPayload)
_reading_decoder = msgspec.json.Decoder(ReadingPayload)
_encoder = msgspec.json.Encoder()

Payload = StatusPayload | EventPayload | ReadingPayload
_KIND_VALUES: Final = frozenset(k.value for k in DeviceKind)


def decode_payload(topic: Topic, payload: bytes) -> Payload:
    """Decode and check one message against its topic, or raise ContractError.

    Reasons: ``oversize``, ``malformed_json``, ``schema`` (wrong or missing
    fields), ``unknown_type``, ``topic_mismatch`` (type or unit not of this
    device's kind), ``alarm_flag`` (raise/clear on a one-off type or missing on
    a condition).
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError("oversize", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        if topic.channel is Channel.STATUS:
            return _status_decoder.decode(payload)
        if topic.channel is Channel.READING:
            reading = _reading_decoder.decode(payload)
            if topic.kind is not DeviceKind.METER:
                raise ContractError("topic_mismatch", f"reading on a {topic.kind} topic")
            if reading.uom != UNIT_OF_MEASURE[reading.quantity]:
                raise ContractError(
                    "schema",
                    f"uom {reading.uom!r} for {reading.quantity}, "
                    f"expected {UNIT_OF_MEASURE[reading.quantity]!r}",
                )
            return reading
        event = _event_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        # msgspec raises ValidationError (a DecodeError) for schema problems.
        reason = "schema" if isinstance(exc, msgspec.ValidationError) else "malformed_json"
        raise ContractError(reason, str(exc)) from None
    check_event(topic.kind, event)
    return event


def check_event(kind: DeviceKind, event: EventPayload) -> None:
    """Rules a decoded event must meet beyond its field types."""
    prefix = event.type.split(".", 1)[0]
    if prefix != kind.value:
        if prefix in _KIND_VALUES:
            raise ContractError("topic_mismatch", f"{event.type} on a {kind} topic")
        raise ContractError("unknown_type", event.type)
    is_condition = EVENT_TYPES[kind].get(event.type)
    if is_condition is None:
        raise ContractError("unknown_type", event.type)
    if is_condition and event.alarm is None:
        raise ContractError("alarm_flag", f"{event.type} needs alarm raise or clear")
    if not is_condition and event.alarm is not None:
        raise ContractError("alarm_flag", f"{event.type} is a one-off event; alarm must be absent")
    schema = DATA_SCHEMAS.get(event.type)
    if schema is not None:
        try:
            msgspec.convert(event.data, schema)
        except msgspec.ValidationError as exc:
            raise ContractError("schema", f"data: {exc}") from None


def event_data(event: EventPayload, schema: type[msgspec.Struct]) -> Any:
    """The event's ``data`` as its typed Struct (call after decode_payload)."""
    return msgspec.convert(event.data, schema)


def encode(payload: Payload) -> bytes:
    return _encoder.encode(payload)
