"""The bridge's TOML config: schema, loading, and errors that name the file and line.

Shape (see ``device_bridge/examples/`` for one commented file per adapter)::

    [bridge]      site, timezone, client_id, spool, spool_max_mb
    [upstream]    url (the central broker), device_wills, card_list_topic …
    [downstream]  url (the estate's local broker where the devices publish)
    [[sources]]   adapter = "zigbee2mqtt" | "tasmota" | "shelly" | "esp_rfid" |
                            "modbus" | "elevator" | "generic", its options, and
      [[sources.devices]]  source (the vendor's name for it) → device, building,
                           kind, unit, quantity: its v1 identity

A bad config never starts a bridge: ``load_config`` raises ``ConfigError``
whose message is ``path:line: what is wrong``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from server.contract.v1 import EVENT_TYPES, SLUG_PATTERN, DeviceKind, Quantity

_SLUG: Final = re.compile(rf"^{SLUG_PATTERN}$")
_PATH_IN_ERROR: Final = re.compile(r" - at `(\$[^`]*)`$")
_UNKNOWN_FIELD: Final = re.compile(r"unknown field `([^`]+)`")

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class ConfigError(ValueError):
    """A config the bridge refuses to start with; str() is ``file:line: message``."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


# --- schema ---------------------------------------------------------------


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class BridgeSection(_Section, kw_only=True):
    site: str
    timezone: str = "Asia/Shanghai"
    client_id: str = ""
    spool: str = ""
    spool_max_mb: PositiveFloat = 256.0
    stats_interval_seconds: PositiveFloat = 60.0


class UpstreamSection(_Section):
    url: str = ""
    keepalive_seconds: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    inflight_window: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 64
    reconnect_max_seconds: PositiveFloat = 10.0
    # One small MQTT connection per device holds that device's last will
    # ("offline", retained): MQTT allows one will per connection.
    device_wills: bool = True
    # Retained card list the server publishes for access decisions at the edge.
    card_list_topic: str = ""


class DownstreamSection(_Section):
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = ""
    keepalive_seconds: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    session_expiry_seconds: Annotated[int, msgspec.Meta(ge=0)] = 7 * 24 * 3600


class DeviceMap(_Section, kw_only=True):
    """One source device and its v1 identity."""

    device: str
    building: str
    kind: DeviceKind
    source: str = ""
    unit: str = ""
    site: str = ""
    quantity: str = ""
    role: str = ""


class ShellyDevice(DeviceMap):
    # Which component carries the energy register; "" = the first of
    # emdata:0, em1data:0, pm1:0, switch:0 that reports one.
    component: str = ""


class EspRfidDevice(DeviceMap):
    door: str = ""


class ModbusDevice(DeviceMap, kw_only=True):
    unit_id: Annotated[int, msgspec.Meta(ge=0, le=255)] = 1
    address: Annotated[int, msgspec.Meta(ge=0, le=65535)]
    table: Literal["holding", "input"] = "holding"
    type: Literal["uint16", "int16", "uint32", "int32", "float32", "uint64", "int64", "float64"] = (
        "float32"
    )
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0


class _Source(_Section, tag_field="adapter"):
    url: str = ""  # a different downstream broker for this source only


class Zigbee2MqttSource(_Source, tag="zigbee2mqtt"):
    base_topic: str = "zigbee2mqtt"
    held_open_seconds: PositiveFloat = 120.0
    devices: list[DeviceMap] = msgspec.field(default_factory=list)


class TasmotaSource(_Source, tag="tasmota"):
    prefix: str = "tele"
    card_list_file: str = ""
    card_list_from_server: bool = False
    devices: list[DeviceMap] = msgspec.field(default_factory=list)


class ShellySource(_Source, tag="shelly"):
    devices: list[ShellyDevice] = msgspec.field(default_factory=list)


class EspRfidSource(_Source, tag="esp_rfid"):
    devices: list[EspRfidDevice] = msgspec.field(default_factory=list)


class ModbusSource(_Source, tag="modbus", kw_only=True):
    host: str
    port: Port = 502
    poll_seconds: PositiveFloat = 60.0
    timeout_seconds: PositiveFloat = 3.0
    retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 1
    report_every_seconds: PositiveFloat = 3600.0
    offline_after_failures: Annotated[int, msgspec.Meta(ge=1)] = 3
    devices: list[ModbusDevice] = msgspec.field(default_factory=list)


class ElevatorSource(_Source, tag="elevator"):
    topic: str = "elevator/+/status"
    id_field: str = "regCode"
    # Vendor fault code → a condition name of device_bridge.adapters.elevator.
    fault_codes: dict[str, str] = msgspec.field(default_factory=dict)
    devices: list[DeviceMap] = msgspec.field(default_factory=list)


class GenericRule(_Section, kw_only=True):
    """Turn one kind of vendor JSON message into one v1 event, reading or status."""

    type: str  # a v1 event type, "meter.reading" or "status"
    match: dict[str, str | int | bool] = msgspec.field(default_factory=dict)
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    constants: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)
    maps: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    alarm: str = ""  # path of a boolean: true = raise, false = clear
    ts: str = ""
    value: str = ""  # readings
    scale: float = 1.0
    state: str = ""  # status: path whose (mapped) value is online/offline


class GenericSource(_Source, tag="generic", kw_only=True):
    topic: str
    device_field: str = ""
    device_topic_level: int = -1
    rules: list[GenericRule] = msgspec.field(default_factory=list)
    devices: list[DeviceMap] = msgspec.field(default_factory=list)


Source = (
    Zigbee2MqttSource
    | TasmotaSource
    | ShellySource
    | EspRfidSource
    | ModbusSource
    | ElevatorSource
    | GenericSource
)


class BridgeConfig(_Section):
    bridge: BridgeSection
    upstream: UpstreamSection = msgspec.field(default_factory=UpstreamSection)
    downstream: DownstreamSection = msgspec.field(default_factory=DownstreamSection)
    sources: list[Source] = msgspec.field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bridge.timezone)


# Which kinds each adapter can translate to (a mismatch is a config error).
ADAPTER_KINDS: Final[dict[str, frozenset[DeviceKind]]] = {
    "zigbee2mqtt": frozenset({DeviceKind.SENSOR, DeviceKind.ACCESS, DeviceKind.METER}),
    "tasmota": frozenset({DeviceKind.METER, DeviceKind.ACCESS}),
    "shelly": frozenset({DeviceKind.METER}),
    "esp_rfid": frozenset({DeviceKind.ACCESS}),
    "modbus": frozenset({DeviceKind.METER}),
    "elevator": frozenset({DeviceKind.ELEVATOR}),
    "generic": frozenset(DeviceKind),
}


# --- locating a path in the TOML text ------------------------------------


@dataclass
class _Located:
    lines: dict[tuple[str | int, ...], int]

    def line_for(self, path: tuple[str | int, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _split_dotted(text: str) -> list[str]:
    parts: list[str] = []
    for raw in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', text.strip()):
        parts.append(raw.strip().strip("\"'"))
    return [p for p in parts if p]


def locate_keys(text: str) -> _Located:
    """Map each key and table of a TOML text to its 1-based line.

    Paths use list indices for arrays of tables (``("sources", 1, "devices", 0,
    "kind")``), matching the ``$.sources[1].devices[0].kind`` paths msgspec
    reports. Multi-line arrays and strings are skipped as values.
    """
    located: dict[tuple[str | int, ...], int] = {}
    aot_index: dict[tuple[str, ...], int] = {}
    current: tuple[str | int, ...] = ()

    def resolve(names: list[str]) -> tuple[str | int, ...]:
        path: list[str | int] = []
        for i, name in enumerate(names):
            path.append(name)
            prefix = tuple(names[: i + 1])
            if prefix in aot_index:
                path.append(aot_index[prefix])
        return tuple(path)

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            names = _split_dotted(line[2 : line.index("]]")])
            key = tuple(names)
            aot_index[key] = aot_index.get(key, -1) + 1
            for deeper in [k for k in aot_index if len(k) > len(key) and k[: len(key)] == key]:
                del aot_index[deeper]
            current = resolve(names)
            located.setdefault(current, number)
            continue
        if line.startswith("["):
            current = resolve(_split_dotted(line[1 : line.index("]")]))
            located.setdefault(current, number)
            continue
        if "=" not in line:
            continue
        key_text, value = line.split("=", 1)
        path = current + tuple(_split_dotted(key_text))
        located.setdefault(path, number)
        value = value.strip()
        for inline in re.findall(r"([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=", value):
            located.setdefault((*path, inline.strip('"')), number)
        # Skip the continuation lines of multi-line values.
        if value.startswith(('"""', "'''")):
            quote = value[:3]
            if value.count(quote) < 2:
                while i < len(lines) and quote not in lines[i]:
                    i += 1
                i += 1
        elif value.startswith("["):
            depth = _bracket_depth(value)
            while depth > 0 and i < len(lines):
                depth += _bracket_depth(lines[i])
                i += 1
    return _Located(located)


def _bracket_depth(text: str) -> int:
    stripped = re.sub(r'"[^"]*"|\'[^\']*\'', "", text.split("#", 1)[0])
    return stripped.count("[") - stripped.count("]")


def _parse_error_path(text: str) -> tuple[str | int, ...]:
    path: list[str | int] = []
    for name, index in re.findall(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]", text.removeprefix("$")):
        path.append(int(index) if index else name)
    return tuple(path)


# --- loading --------------------------------------------------------------


def load_config(path: str | Path) -> BridgeConfig:
    """Read, type-check and cross-check a bridge config, or raise ConfigError."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, None, f"cannot read: {exc.strerror or exc}") from None
    config = parse_config(text, file)
    base = Path(path).resolve().parent
    for source in config.sources:
        # Files named in the config are relative to the config, not to the cwd.
        if isinstance(source, TasmotaSource) and source.card_list_file:
            card_file = Path(source.card_list_file)
            if not card_file.is_absolute():
                source.card_list_file = str(base / card_file)
    return config


def parse_config(text: str, file: str = "<config>") -> BridgeConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(match.group(1)) if match else None
        raise ConfigError(file, line, f"TOML syntax: {exc}") from None
    located = locate_keys(text)
    try:
        config = msgspec.convert(raw, BridgeConfig)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path: tuple[str | int, ...] = ()
        found = _PATH_IN_ERROR.search(message)
        if found:
            path = _parse_error_path(found.group(1))
            message = message[: found.start()]
        unknown = _UNKNOWN_FIELD.search(message)
        if unknown:
            path = (*path, unknown.group(1))
            message = f"unknown key `{unknown.group(1)}` (a typo?)"
        where = ".".join(str(p) for p in path)
        detail = f"{where}: {message}" if where else message
        raise ConfigError(file, located.line_for(path), detail) from None
    _check(config, located, file)
    return config


def _check(config: BridgeConfig, located: _Located, file: str) -> None:
    """Cross-field rules msgspec types cannot say."""

    def fail(path: tuple[str | int, ...], message: str) -> None:
        where = ".".join(str(p) for p in path)
        raise ConfigError(file, located.line_for(path), f"{where}: {message}")

    if not _SLUG.match(config.bridge.site):
        fail(("bridge", "site"), f"{config.bridge.site!r} is not a slug ({SLUG_PATTERN})")
    try:
        ZoneInfo(config.bridge.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(("bridge", "timezone"), f"unknown time zone {config.bridge.timezone!r}")
    if not config.sources:
        fail(("bridge",), "no [[sources]]: a bridge with nothing to translate")
    for url_path, url in (
        (("upstream", "url"), config.upstream.url),
        (("downstream", "url"), config.downstream.url),
    ):
        if url:
            _check_url(url, lambda message, p=url_path: fail(p, message))

    seen: dict[tuple[str, str], tuple[str | int, ...]] = {}
    for s_index, source in enumerate(config.sources):
        adapter = type(source).__struct_config__.tag
        base: tuple[str | int, ...] = ("sources", s_index)
        if source.url:
            _check_url(source.url, lambda message, p=(*base, "url"): fail(p, message))
        if not source.devices:
            fail(base, f"adapter {adapter!r} maps no [[sources.devices]]")
        kinds = ADAPTER_KINDS[str(adapter)]
        for d_index, device in enumerate(source.devices):
            here = (*base, "devices", d_index)
            site = device.site or config.bridge.site
            for name, value in (("device", device.device), ("building", device.building)):
                if not _SLUG.match(value):
                    fail((*here, name), f"{value!r} is not a slug ({SLUG_PATTERN})")
            if device.site and not _SLUG.match(device.site):
                fail((*here, "site"), f"{device.site!r} is not a slug")
            if device.unit and not _SLUG.match(device.unit):
                fail((*here, "unit"), f"{device.unit!r} is not a unit slug (or \"\")")
            if device.kind not in kinds:
                allowed = ", ".join(sorted(k.value for k in kinds))
                fail((*here, "kind"), f"adapter {adapter!r} translates {allowed}, not {device.kind}")
            if device.quantity:
                try:
                    Quantity(device.quantity)
                except ValueError:
                    fail((*here, "quantity"), f"{device.quantity!r}: water, electricity or gas")
            if device.kind is DeviceKind.METER and adapter in ("tasmota", "shelly", "modbus"):
                if adapter in ("tasmota", "shelly") and device.quantity not in ("", "electricity"):
                    fail((*here, "quantity"), f"{adapter} energy monitors measure electricity")
                if adapter == "modbus" and not device.quantity:
                    fail((*here, "quantity"), "a Modbus meter needs quantity = water|electricity|gas")
            if adapter not in ("modbus",) and not device.source:
                fail(here, "needs `source`: the vendor's name for this device")
            key = (site, device.device)
            if key in seen:
                first = located.line_for(seen[key])
                fail((*here, "device"), f"device {device.device!r} is mapped twice (first at line {first})")
            seen[key] = (*here, "device")
        if isinstance(source, TasmotaSource):
            wiegand = any(d.kind is DeviceKind.ACCESS for d in source.devices)
            if wiegand and not (source.card_list_file or source.card_list_from_server):
                fail(
                    base,
                    "Tasmota Wiegand readers need a card list (card_list_file or "
                    "card_list_from_server = true) to decide access.granted/denied",
                )
        if isinstance(source, ElevatorSource):
            from device_bridge.adapters.elevator import CONDITIONS

            for code, name in source.fault_codes.items():
                if name not in CONDITIONS:
                    known = ", ".join(sorted(CONDITIONS))
                    fail((*base, "fault_codes", code), f"{name!r} is not one of: {known}")
        if isinstance(source, GenericSource):
            if not source.rules:
                fail(base, "a generic source needs at least one [[sources.rules]]")
            if not source.device_field and source.device_topic_level < 0:
                fail(base, "say where the device id is: device_field or device_topic_level")
            kinds_here = {d.kind for d in source.devices}
            if any(rule.type == "meter.reading" for rule in source.rules):
                for d_index, device in enumerate(source.devices):
                    if device.kind is DeviceKind.METER and not device.quantity:
                        fail(
                            (*base, "devices", d_index, "quantity"),
                            "a meter read by a meter.reading rule needs quantity",
                        )
            for r_index, rule in enumerate(source.rules):
                rule_path = (*base, "rules", r_index)
                if rule.type in ("meter.reading", "status"):
                    if rule.type == "meter.reading" and not rule.value:
                        fail((*rule_path, "type"), "a meter.reading rule needs `value`")
                    if rule.type == "status" and not rule.state:
                        fail((*rule_path, "type"), "a status rule needs `state`")
                    continue
                prefix = rule.type.split(".", 1)[0]
                try:
                    kind = DeviceKind(prefix)
                except ValueError:
                    fail((*rule_path, "type"), f"unknown v1 event type {rule.type!r}")
                if rule.type not in EVENT_TYPES[kind]:
                    fail((*rule_path, "type"), f"unknown v1 event type {rule.type!r}")
                if kind not in kinds_here:
                    fail((*rule_path, "type"), f"no {kind} device in this source for {rule.type}")
                if EVENT_TYPES[kind][rule.type] and not rule.alarm:
                    fail((*rule_path, "alarm"), f"{rule.type} is a condition: say which field raises it")


def _check_url(url: str, fail: Any) -> None:
    from device_bridge.mqtt import BrokerUrl

    try:
        BrokerUrl.parse(url)
    except ValueError as exc:
        fail(str(exc))


def identity_site(config: BridgeConfig, device: DeviceMap) -> str:
    return device.site or config.bridge.site


def default_spool_path(config: BridgeConfig, config_path: str | Path | None) -> Path:
    """``[bridge] spool``, relative to the config file; default beside it."""
    base = Path(config_path).resolve().parent if config_path else Path.cwd()
    if config.bridge.spool:
        spool = Path(config.bridge.spool)
        return spool if spool.is_absolute() else base / spool
    return base / f"fieldops-bridge-{config.bridge.site}.spool.sqlite"
