"""Elevator monitoring terminals (电梯物联网监测终端) reporting JSON status with fault codes.

China requires remote monitoring on new and modernised lifts; GB/T 24476
("Internet of things for lifts, escalators and moving walks") fixes the data
items a terminal collects — car position and door-zone, door state, running,
service mode — and the faults and events it reports: passenger trapped (困人,
at a floor or between floors), stopped outside the door zone (门区外停梯),
door open while running (运行中开门), overspeed (超速), over-travel top/bottom
(冲顶/蹲底), power loss (停电), out of service (停止服务). The standard does
not fix an MQTT payload and vendors number faults differently, so the bridge
reads this common JSON status shape and maps vendor codes through
``fault_codes`` in the config::

    topic elevator/<terminal>/status
    {"regCode":"31103301002018060001","time":"2026-11-26 08:15:02",
     "floor":12,"doorZone":0,"doorOpen":0,"running":0,"direction":0,
     "serviceMode":"normal","faults":["01"]}

``regCode`` is the lift's 20-digit registration code (GB/T 24476 clause 7);
the device is found by ``id_field`` (default ``regCode``) or, failing that, by
the ``+`` level of the topic. ``faults`` lists every fault active now (codes
as strings or numbers, or objects with a ``code``); every status message is a
full snapshot.

Translation: a code that appears raises its condition, a code that goes
clears it (the server keeps one condition per device and type, so several
``elevator.fault`` codes share one: each new code is a raise carrying its
code, the clear comes when the last code has gone) — ``elevator.trapped`` (``data.floor``, ``data.position``
``at_floor``/``between_floors`` from ``doorZone`` when the code does not say),
``elevator.door_open_outside_zone``, ``elevator.power_loss``,
``elevator.out_of_service``, and ``elevator.fault`` with ``data.code`` for the
rest (unknown vendor codes included, as ``data.code`` = the raw code).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from device_bridge.adapters.base import Adapter
from device_bridge.model import DeviceIdentity, Reject, as_bool, decode_object, parse_vendor_time

# Condition name → (v1 event type, extra data). Condition names are what
# ``fault_codes`` maps vendor codes to.
CONDITIONS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "trapped": ("elevator.trapped", {}),
    "trapped_at_floor": ("elevator.trapped", {"position": "at_floor"}),
    "trapped_between_floors": ("elevator.trapped", {"position": "between_floors"}),
    "door_open_while_running": ("elevator.door_open_outside_zone", {"while": "running"}),
    "door_open_outside_zone": ("elevator.door_open_outside_zone", {}),
    "stopped_outside_door_zone": ("elevator.fault", {"code": "stopped_outside_door_zone"}),
    "overspeed": ("elevator.fault", {"code": "overspeed"}),
    "overtravel_top": ("elevator.fault", {"code": "overtravel_top"}),
    "overtravel_bottom": ("elevator.fault", {"code": "overtravel_bottom"}),
    "safety_circuit_open": ("elevator.fault", {"code": "safety_circuit_open"}),
    "power_loss": ("elevator.power_loss", {}),
    "out_of_service": ("elevator.out_of_service", {}),
}

# The bridge's default numbering, for terminals configured to it; map your
# terminal's own table with ``fault_codes`` (those entries take precedence).
DEFAULT_FAULT_CODES: Final[dict[str, str]] = {
    "01": "trapped",
    "02": "door_open_while_running",
    "03": "overspeed",
    "04": "overtravel_top",
    "05": "overtravel_bottom",
    "06": "stopped_outside_door_zone",
    "07": "power_loss",
    "08": "out_of_service",
    "09": "safety_circuit_open",
    **{name: name for name in CONDITIONS},
}


class Elevator(Adapter):
    name: ClassVar[str] = "elevator"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.codes = {**DEFAULT_FAULT_CODES, **self.source.fault_codes}
        self._wild = [i for i, level in enumerate(self.source.topic.split("/")) if level == "+"]

    def subscriptions(self) -> list[str]:
        return [self.source.topic]

    def handle(self, topic: str, payload: bytes) -> None:
        message = decode_object(payload)
        vendor_id = message.get(self.source.id_field)
        if vendor_id in (None, ""):
            levels = topic.split("/")
            vendor_id = "/".join(levels[i] for i in self._wild if i < len(levels))
        identity = self.device(str(vendor_id))
        if "faults" not in message:
            raise Reject("missing_field", "faults")
        faults = message["faults"]
        if isinstance(faults, str):
            faults = [f for f in faults.replace(";", ",").split(",") if f.strip()]
        if not isinstance(faults, list):
            raise Reject("bad_value", f"faults={faults!r} is not a list")
        ts = parse_vendor_time(message.get("time") or message.get("ts"), self.pipeline.tz)
        ts = ts or self.pipeline.now()
        floor = message.get("floor")
        door_zone = as_bool(message.get("doorZone"))
        wanted: dict[str, tuple[str, dict[str, Any]]] = {}
        for item in faults:
            raw = item.get("code") if isinstance(item, dict) else item
            if raw is None or isinstance(raw, bool) or raw == "":
                raise Reject("bad_value", f"fault {item!r} has no code")
            code = str(raw).strip()
            name = self.codes.get(code) or self.codes.get(code.zfill(2))
            if name is None:
                event_type, data = "elevator.fault", dict[str, Any](code=code)
            else:
                event_type, extra = CONDITIONS[name]
                data = dict[str, Any](extra)
                if event_type == "elevator.trapped" and "position" not in data and door_zone is not None:
                    data["position"] = "at_floor" if door_zone else "between_floors"
            if isinstance(floor, int) and not isinstance(floor, bool):
                data["floor"] = floor
            data.setdefault("vendor_code", code)
            key = data["code"] if event_type == "elevator.fault" else ""
            wanted[f"{event_type}#{key}" if key else event_type] = (event_type, data)
        self._apply(identity, wanted, ts)

    def _apply(
        self, identity: DeviceIdentity, wanted: dict[str, tuple[str, dict[str, Any]]], ts: Any
    ) -> None:
        # The server keeps one condition per (device, type): several fault codes
        # share one elevator.fault. A new code is a repeated raise (with its
        # code); the clear is sent when the last code of the type has gone.
        wanted_types = {event_type for event_type, _ in wanted.values()}
        for name in self.pipeline.active_conditions(identity):
            if name in wanted:
                continue
            event_type, _, key = name.partition("#")
            if event_type in wanted_types:
                self.pipeline.forget_condition(identity, event_type, key)
                continue
            data = {"code": key} if key else {}
            self.pipeline.condition(identity, event_type, False, key=key, data=data, ts=ts)
            wanted_types.add(event_type)  # one clear per type: other codes are just forgotten
        for name, (event_type, data) in wanted.items():
            key = name.partition("#")[2]
            self.pipeline.condition(identity, event_type, True, key=key, data=data, ts=ts)
