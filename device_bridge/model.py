"""What adapters produce and what they raise: identities, rejects, vendor-time parsing.

Adapters never build v1 payloads themselves: they call the pipeline
(``device_bridge.core.Pipeline``), which assigns stable ids, validates against
the v1 contract and spools. This module holds the small shared vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

import msgspec

from server.contract.v1 import (
    EVENT_TYPES,
    Channel,
    DeviceKind,
    Quantity,
    Topic,
    topic_for,
)

# Device clocks before this are unset (esp8266 without NTP starts at 1970).
_EARLIEST_PLAUSIBLE: Final = datetime(2015, 1, 1, tzinfo=UTC)
_json_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """A source device's v1 identity, as mapped in the bridge config."""

    site: str
    building: str
    kind: DeviceKind
    device: str
    unit: str | None = None
    quantity: Quantity | None = None
    role: str = ""
    source: str = ""
    topics: dict[Channel, Topic] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for channel in Channel:
            self.topics[channel] = Topic(self.site, self.building, self.kind, self.device, channel)

    @property
    def key(self) -> str:
        """Unique within a bridge: ids are unique per device (DESIGN.md)."""
        return f"{self.site}/{self.device}"

    def topic(self, channel: Channel) -> str:
        return topic_for(self.site, self.building, self.kind, self.device, channel)

    def has_type(self, event_type: str) -> bool:
        return event_type in EVENT_TYPES[self.kind]


class Reject(Exception):
    """A vendor message the adapter cannot translate; counted and logged, never raised further.

    ``reason`` is a short stable code (``malformed_json``, ``missing_field``,
    ``unknown_device``, ``bad_value`` …) used as the counter label.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Ignored(Exception):
    """A well-formed vendor message that has no v1 meaning (bridge logs, keypad keys …)."""


def decode_json(payload: bytes) -> Any:
    try:
        return _json_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise Reject("malformed_json", str(exc)) from None


def decode_object(payload: bytes) -> dict[str, Any]:
    value = decode_json(payload)
    if not isinstance(value, dict):
        raise Reject("malformed_json", f"expected a JSON object, got {type(value).__name__}")
    return value


def parse_vendor_time(value: Any, tz: tzinfo) -> datetime | None:
    """A vendor timestamp as an aware datetime, or None when absent or implausible.

    Accepts ISO 8601 with or without offset (naive = the site's local time, as
    Tasmota and most Chinese terminals report), ``YYYY-MM-DD HH:MM:SS``, and
    Unix seconds or milliseconds.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    result: datetime
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000.0
        try:
            result = datetime.fromtimestamp(seconds, tz)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_vendor_time(int(text), tz)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        result = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
        result = result.astimezone(tz)
    else:
        return None
    if result < _EARLIEST_PLAUSIBLE or result > datetime.now(tz) + timedelta(days=2):
        return None
    return result


def dig(obj: Any, path: str) -> Any:
    """``obj`` at a dotted path (``a.b.0.c``); None when any step is missing."""
    current = obj
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def as_bool(value: Any) -> bool | None:
    """Vendor booleans: true/false, 1/0, "true"/"false", "ON"/"OFF"; None if not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "on", "yes"):
            return True
        if lowered in ("false", "0", "off", "no"):
            return False
    return None
