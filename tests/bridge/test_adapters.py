"""Tasmota, Shelly Gen2, esp-rfid, elevator terminal and generic-mapper shapes → v1.

Each test publishes the vendor's own message shapes with paho to a real
broker and checks what the bridge emits upstream, validated by the server's
msgspec schemas (the collector decodes everything with ``decode_payload``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.contract.v1 import ReadingPayload
from tests.bridge.conftest import Collector, publish, unique, wait_until

pytestmark = pytest.mark.broker


def head(site: str, downstream_url: str, wills: bool = False) -> str:
    return f"""
[bridge]
site = "{site}"

[upstream]
device_wills = {"true" if wills else "false"}

[downstream]
url = "{downstream_url}"
client_id = "{unique('src')}"
"""


def test_tasmota_energy_lwt_and_wiegand(downstream, collector: Collector, site, run_bridge,
                                         tmp_path: Path) -> None:
    plug, reader = unique("tasmota_plug"), unique("tasmota_rfid")
    cards = tmp_path / "cards.txt"
    cards.write_text("# residents\n7748328\n0004302741\n")
    text = head(site, downstream.url) + f"""
[[sources]]
adapter = "tasmota"
card_list_file = "{cards}"

[[sources.devices]]
source = "{plug}"
device = "b1-1203-em"
building = "b1"
kind = "meter"
unit = "b1-1203"
quantity = "electricity"

[[sources.devices]]
source = "{reader}"
device = "b1-door1"
building = "b1"
kind = "access"
role = "main_door"
"""
    with run_bridge(text) as bridge:
        publish(downstream, [
            (f"tele/{plug}/LWT", "Online"),
            (f"tele/{plug}/SENSOR", json.dumps({
                "Time": "2026-11-26T08:15:02",
                "ENERGY": {"TotalStartTime": "2025-03-01T10:00:00", "Total": 1532.871,
                           "Yesterday": 6.21, "Today": 2.114, "Power": 412, "ApparentPower": 430,
                           "ReactivePower": 121, "Factor": 0.96, "Voltage": 229, "Current": 1.874}})),
            (f"tele/{reader}/SENSOR", json.dumps({"Time": "2026-11-26T08:16:00",
                                                  "Wiegand": {"UID": 7748328, "Size": 26}})),
            (f"tele/{reader}/SENSOR", json.dumps({"Time": "2026-11-26T08:16:05",
                                                  "Wiegand": {"UID": "41A795h", "Size": 34}})),
            (f"tele/{reader}/SENSOR", json.dumps({"Time": "2026-11-26T08:16:09",
                                                  "Wiegand": {"UID": 5, "Size": 4}})),  # keypad
            (f"tele/{reader}/SENSOR", json.dumps({"Time": "2026-11-26T08:16:10",
                                                  "Wiegand": {"UID": 1234567, "Size": 26}})),
            (f"tele/{plug}/SENSOR", json.dumps({"Time": "2026-11-26T08:20:02", "ENERGY": {}})),
            (f"tele/{plug}/LWT", "Offline"),
        ])
        readings = wait_until(lambda: collector.channel("reading"), what="reading")
        reading = readings[0].decoded
        assert isinstance(reading, ReadingPayload)
        assert (reading.quantity, reading.value, reading.uom, reading.unit) == (
            "electricity", 1532.871, "kWh", "b1-1203")
        # Tasmota's Time has no offset: it is the site's local time.
        assert reading.ts == datetime(2026, 11, 26, 0, 15, 2, tzinfo=UTC)
        assert readings[0].topic == f"fieldops/v1/{site}/b1/meter/b1-1203-em/reading"
        events = collector.wait_events(3, "b1-door1")
        assert [(e.type, e.data["card"]) for e in events] == [
            ("access.granted", "7748328"),
            ("access.granted", "4302741"),  # 41A795h: SetOption123 hex form
            ("access.denied", "1234567"),
        ]
        assert all(e.data["door"] == "main_door" for e in events)
        wait_until(lambda: [m for m in collector.channel("status") if m.decoded.state == "offline"],
                   what="LWT Offline")
        wait_until(lambda: bridge.stats.rejected[("tasmota", "missing_field")] == 1, what="reject")
        assert bridge.stats.ignored["tasmota"] == 1
    assert not collector.invalid


def test_tasmota_card_list_from_the_server(downstream, upstream, collector: Collector, site,
                                           run_bridge) -> None:
    reader = unique("tasmota_rfid")
    publish(upstream, [(f"fieldops/cards/v1/{site}", json.dumps({"cards": ["99"]}))], retain=True)
    text = head(site, downstream.url) + f"""
[[sources]]
adapter = "tasmota"
card_list_from_server = true

[[sources.devices]]
source = "{reader}"
device = "b2-door1"
building = "b2"
kind = "access"
"""
    with run_bridge(text) as bridge:
        wait_until(lambda: bridge.cards is not None and bridge.cards.loaded, what="card list")
        publish(downstream, [
            (f"tele/{reader}/SENSOR", json.dumps({"Wiegand": {"UID": 99, "Size": 26}})),
            (f"tele/{reader}/SENSOR", json.dumps({"Wiegand": {"UID": 98, "Size": 26}})),
        ])
        events = collector.wait_events(2)
        assert [e.type for e in events] == ["access.granted", "access.denied"]
    publish(upstream, [(f"fieldops/cards/v1/{site}", b"")], retain=True)


def test_shelly_gen2_notify_status_and_status_topics(downstream, collector: Collector, site,
                                                     run_bridge) -> None:
    em, plug = unique("shellypro3em"), unique("shellyplus1pm")
    text = head(site, downstream.url) + f"""
[[sources]]
adapter = "shelly"

[[sources.devices]]
source = "{em}"
device = "b1-em-main"
building = "b1"
kind = "meter"
quantity = "electricity"

[[sources.devices]]
source = "{plug}"
device = "b1-1203-pump"
building = "b1"
kind = "meter"
unit = "b1-1203"
"""
    with run_bridge(text) as bridge:
        publish(downstream, [
            (f"{em}/online", "true"),
            (f"{em}/events/rpc", json.dumps({
                "src": em, "dst": f"{em}/events", "method": "NotifyStatus",
                "params": {"ts": 1764116102.43,
                           "emdata:0": {"id": 0, "total_act": 1532871.22, "total_act_ret": 0.0}}})),
            # A partial notification (power changed) carries no register: nothing to send.
            (f"{em}/events/rpc", json.dumps({
                "src": em, "dst": f"{em}/events", "method": "NotifyStatus",
                "params": {"ts": 1764116103.0, "em:0": {"id": 0, "total_act_power": 812.4}}})),
            (f"{plug}/events/rpc", json.dumps({
                "src": plug, "dst": f"{plug}/events", "method": "NotifyStatus",
                "params": {"ts": 1764116104.0, "switch:0": {
                    "id": 0, "aenergy": {"total": 48211.907, "by_minute": [0, 0, 0],
                                         "minute_ts": 1764116100}}}})),
            (f"{plug}/status/switch:0", json.dumps({
                "id": 0, "source": "init", "output": True, "apower": 412.3, "voltage": 229.1,
                "aenergy": {"total": 48300.0, "by_minute": [1, 2, 3], "minute_ts": 1764116160}})),
            (f"{plug}/events/rpc", json.dumps({
                "src": plug, "dst": f"{plug}/events", "method": "NotifyEvent",
                "params": {"ts": 1764116105.0,
                           "events": [{"component": "input:0", "event": "single_push"}]}})),
            ("shellyplus1-unknown/events/rpc", json.dumps({"method": "NotifyStatus", "params": {}})),
            (f"{em}/online", "false"),
        ])
        wait_until(lambda: len(collector.channel("reading")) == 3, what="3 readings")
        values = [(m.topic.split("/")[5], m.decoded.value) for m in collector.channel("reading")]
        assert values == [("b1-em-main", 1532.87122), ("b1-1203-pump", 48.211907),
                          ("b1-1203-pump", 48.3)]
        first = collector.channel("reading")[0].decoded
        assert first.ts == datetime.fromtimestamp(1764116102.43, UTC)
        assert first.uom == "kWh"
        states = wait_until(lambda: [m.decoded.state for m in collector.channel("status")]
                            if len(collector.channel("status")) == 2 else None, what="statuses")
        assert states == ["online", "offline"]
        wait_until(lambda: bridge.stats.rejected[("shelly", "unknown_device")] == 1, what="unknown")
        assert bridge.stats.ignored["shelly"] == 2


def test_esp_rfid_access_log(downstream, collector: Collector, site, run_bridge) -> None:
    topic = unique("esprfid")
    text = head(site, downstream.url) + f"""
[[sources]]
adapter = "esp_rfid"

[[sources.devices]]
source = "{topic}"
device = "b1-door2"
building = "b1"
kind = "access"
door = "garage"
"""
    at = 1764116102
    with run_bridge(text) as bridge:
        publish(downstream, [
            (f"{topic}/send", json.dumps({"type": "heartbeat", "time": at, "uptime": 1000})),
            (f"{topic}/send", json.dumps({"cmd": "log", "type": "access", "time": at,
                                          "isKnown": "true", "access": "Always",
                                          "username": "Zhang Wei", "uid": "a3f09b12",
                                          "door": "b1-garage"})),
            (topic, json.dumps({"type": "access", "time": at + 1, "isKnown": "true",
                                "access": "Admin", "username": "Admin", "uid": "11223344"})),
            (f"{topic}/send", json.dumps({"cmd": "log", "type": "access", "time": at + 2,
                                          "isKnown": "false", "access": "Denied",
                                          "username": "Unknown", "uid": "deadbeef"})),
            (f"{topic}/send", json.dumps({"cmd": "log", "type": "access", "time": at + 3,
                                          "isKnown": "true", "access": "Expired",
                                          "username": "Li Na", "uid": "55667788"})),
            (f"{topic}/send", json.dumps({"cmd": "log", "type": "access", "time": at,
                                          "isKnown": "true", "access": "Always"})),  # no uid
            (f"{topic}/send", b"\xff\xfe not json"),
        ])
        events = collector.wait_events(4)
        assert [(e.type, e.data["card"], e.data["door"]) for e in events] == [
            ("access.granted", "a3f09b12", "b1-garage"),
            ("access.granted", "11223344", "garage"),
            ("access.denied", "deadbeef", "garage"),
            ("access.denied", "55667788", "garage"),
        ]
        assert events[3].data["reason"] == "Expired"
        assert all("username" not in e.data for e in events)  # personal data stays at the edge
        assert events[0].ts == datetime.fromtimestamp(at, UTC)
        wait_until(lambda: bridge.stats.rejected_total() == 2, what="2 rejects")
        assert bridge.stats.rejected[("esp_rfid", "missing_field")] == 1
        assert bridge.stats.rejected[("esp_rfid", "malformed_json")] == 1
        assert collector.channel("status")[0].decoded.state == "online"


def test_elevator_terminal_fault_codes_raise_and_clear(downstream, collector: Collector, site,
                                                       run_bridge) -> None:
    prefix = unique("lift")
    text = head(site, downstream.url) + f"""
[[sources]]
adapter = "elevator"
topic = "{prefix}/+/status"

[sources.fault_codes]
"E30" = "trapped_between_floors"
"E31" = "door_open_while_running"

[[sources.devices]]
source = "31103301002018060001"
device = "b1-el1"
building = "b1"
kind = "elevator"

[[sources.devices]]
source = "T-0002"
device = "b1-el2"
building = "b1"
kind = "elevator"
"""

    def status(faults: list, floor: int = 12, zone: int = 0, reg: str | None = "31103301002018060001",
               terminal: str = "T-0001") -> tuple[str, str]:
        body = {"time": "2026-11-26 08:15:02", "floor": floor, "doorZone": zone, "doorOpen": 0,
                "running": 0, "direction": 0, "serviceMode": "normal", "faults": faults}
        if reg:
            body["regCode"] = reg
        return f"{prefix}/{terminal}/status", json.dumps(body)

    with run_bridge(text) as bridge:
        publish(downstream, [
            status([]),
            status(["01"], zone=0),                     # trapped, between floors (door zone off)
            status(["01", "03"]),                       # + overspeed
            status([{"code": "03"}, {"code": "07"}]),   # trapped cleared, power loss raised
            status("E31,99"),                            # vendor code + unknown code
            status([]),                                 # all clear
            status(["E30"], reg=None, terminal="T-0002"),  # found by the topic level
            (f"{prefix}/T-0001/status", json.dumps({"regCode": "31103301002018060001"})),
        ])
        events = collector.wait_events(9, "b1-el1")
        seen = [(e.type, e.alarm, e.data.get("code") or e.data.get("position")) for e in events]
        assert seen == [
            ("elevator.trapped", "raise", "between_floors"),
            ("elevator.fault", "raise", "overspeed"),
            ("elevator.trapped", "clear", None),
            ("elevator.power_loss", "raise", None),
            # overspeed goes but code 99 keeps elevator.fault raised: no clear in between
            ("elevator.power_loss", "clear", None),
            ("elevator.door_open_outside_zone", "raise", None),
            ("elevator.fault", "raise", "99"),
            ("elevator.door_open_outside_zone", "clear", None),
            ("elevator.fault", "clear", "99"),
        ]
        assert events[0].data["floor"] == 12
        other = collector.wait_events(1, "b1-el2")
        assert (other[0].type, other[0].alarm, other[0].data["position"]) == (
            "elevator.trapped", "raise", "between_floors")
        wait_until(lambda: bridge.stats.rejected[("elevator", "missing_field")] == 1, what="reject")
    assert not collector.invalid


def test_generic_mapper_for_an_intercom_vendor(downstream, collector: Collector, site,
                                               run_bridge) -> None:
    prefix = unique("intercom")
    text = head(site, downstream.url) + f"""
[[sources]]
adapter = "generic"
topic = "{prefix}/+/event"
device_topic_level = 1

[[sources.rules]]
match = {{ event = "call" }}
type = "intercom.call"
fields = {{ call_id = "callId", phase = "state", to = "target", from_unit = "room" }}
maps = {{ phase = {{ ring = "ringing", talk = "answered", hangup = "ended" }} }}
ts = "time"

[[sources.rules]]
match = {{ event = "tamper" }}
type = "intercom.tamper"

[[sources.rules]]
match = {{ event = "fault" }}
type = "intercom.fault"
alarm = "active"
fields = {{ code = "code" }}

[[sources.rules]]
match = {{ event = "heartbeat" }}
type = "status"
state = "online"
maps = {{ state = {{ "true" = "online", "false" = "offline" }} }}

[[sources.devices]]
source = "DS-0001"
device = "b1-ds1"
building = "b1"
kind = "intercom"
"""
    at = 1764116102
    with run_bridge(text) as bridge:
        publish(downstream, [
            (f"{prefix}/DS-0001/event", json.dumps({"event": "heartbeat", "online": True})),
            (f"{prefix}/DS-0001/event", json.dumps({"event": "call", "callId": "c-88121",
                                                   "state": "ring", "target": "desk",
                                                   "room": "b1-1203", "time": at})),
            (f"{prefix}/DS-0001/event", json.dumps({"event": "call", "callId": "c-88121",
                                                   "state": "hangup", "target": "desk",
                                                   "room": "b1-1203", "time": at + 30})),
            (f"{prefix}/DS-0001/event", json.dumps({"event": "tamper"})),
            (f"{prefix}/DS-0001/event", json.dumps({"event": "fault", "active": True, "code": "cam"})),
            (f"{prefix}/DS-0001/event", json.dumps({"event": "fault", "active": False, "code": "cam"})),
            (f"{prefix}/DS-0001/event", json.dumps({"event": "call", "callId": "c-2",
                                                   "state": "dance", "target": "desk", "room": "x"})),
            (f"{prefix}/DS-0001/event", json.dumps({"event": "doorbell"})),
            (f"{prefix}/DS-9999/event", json.dumps({"event": "tamper"})),
        ])
        events = collector.wait_events(5)
        assert [(e.type, e.alarm, e.data.get("phase")) for e in events] == [
            ("intercom.call", None, "ringing"),
            ("intercom.call", None, "ended"),
            ("intercom.tamper", None, None),
            ("intercom.fault", "raise", None),
            ("intercom.fault", "clear", None),
        ]
        assert events[0].data == {"call_id": "c-88121", "phase": "ringing", "to": "desk",
                                  "from_unit": "b1-1203"}
        assert events[0].ts == datetime.fromtimestamp(at, UTC)
        wait_until(lambda: bridge.stats.rejected_total() == 2, what="2 rejects")
        assert bridge.stats.rejected[("generic", "bad_value")] == 1
        assert bridge.stats.rejected[("generic", "unknown_device")] == 1
        assert bridge.stats.ignored["generic"] == 1
        assert collector.channel("status")[0].decoded.state == "online"


def test_device_wills_mark_devices_offline_when_the_bridge_stops(downstream, upstream, site,
                                                                  run_bridge, tmp_path: Path) -> None:
    base = unique("z2m")
    text = head(site, downstream.url, wills=True) + f"""
[[sources]]
adapter = "zigbee2mqtt"
base_topic = "{base}"

[[sources.devices]]
source = "leak1"
device = "b1-101-leak"
building = "b1"
kind = "sensor"

[[sources.devices]]
source = "leak2"
device = "b1-102-leak"
building = "b1"
kind = "sensor"
"""
    spool = tmp_path / "spool.sqlite"
    with run_bridge(text, spool):
        publish(downstream, [(f"{base}/leak1/availability", json.dumps({"state": "online"}))])
    # After the stop, a new subscriber finds both devices' retained status offline.
    late = Collector(upstream, f"fieldops/v1/{site}/+/+/+/status")
    try:
        wait_until(lambda: len(late.channel("status")) == 2, what="will messages")
        assert {m.decoded.state for m in late.channel("status")} == {"offline"}
    finally:
        late.close()
    # Back again: a device whose status is known is said online again, even if its
    # availability does not change (the will had said offline meanwhile).
    live = Collector(upstream, f"fieldops/v1/{site}/+/+/+/status")
    try:
        with run_bridge(text, spool):
            wait_until(lambda: any(m.decoded.state == "online" for m in live.channel("status")),
                       what="status repeated after the will")
            online = [m.topic for m in live.channel("status") if m.decoded.state == "online"]
            assert online == [f"fieldops/v1/{site}/b1/sensor/b1-101-leak/status"]
    finally:
        live.close()
