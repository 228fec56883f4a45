"""Zigbee2MQTT leak, smoke, contact, tamper, battery and availability shapes → v1."""

from __future__ import annotations

import json

import pytest

from server.contract.v1 import EventPayload, StatusPayload
from tests.bridge.conftest import Collector, publish, unique, wait_until

pytestmark = pytest.mark.broker


def config(site: str, downstream_url: str, base: str, held: float = 0.3) -> str:
    return f"""
[bridge]
site = "{site}"

[upstream]
device_wills = false

[downstream]
url = "{downstream_url}"
client_id = "{unique('z2m')}"

[[sources]]
adapter = "zigbee2mqtt"
base_topic = "{base}"
held_open_seconds = {held}

[[sources.devices]]
source = "b1-1203 kitchen leak"
device = "b1-1203-leak"
building = "b1"
kind = "sensor"
unit = "b1-1203"

[[sources.devices]]
source = "b1/lobby/smoke"
device = "b1-smoke1"
building = "b1"
kind = "sensor"

[[sources.devices]]
source = "b1-main-door"
device = "b1-door1"
building = "b1"
kind = "access"
role = "main_door"
"""


def test_zigbee2mqtt_shapes_become_v1(downstream, collector: Collector, site, run_bridge) -> None:
    base = unique("z2m")
    leak, smoke, door = f"{base}/b1-1203 kitchen leak", f"{base}/b1/lobby/smoke", f"{base}/b1-main-door"
    with run_bridge(config(site, downstream.url, base)) as bridge:
        publish(downstream, [
            # Aqara SJCGQ11LM: a full state on every report, only transitions count.
            (leak, json.dumps({"battery": 97, "battery_low": False, "device_temperature": 24,
                               "linkquality": 132, "voltage": 3005, "water_leak": False})),
            (leak, json.dumps({"battery": 97, "battery_low": False, "linkquality": 120,
                               "voltage": 3005, "water_leak": True})),
            (leak, json.dumps({"battery": 97, "battery_low": False, "water_leak": True})),
            (leak + "/availability", json.dumps({"state": "online"})),
            (smoke, json.dumps({"smoke": True, "battery_low": False, "tamper": False})),
            (smoke, json.dumps({"smoke": False, "battery_low": True, "tamper": True})),
            (smoke + "/availability", "offline"),  # legacy plain payload
            (door, json.dumps({"contact": False, "battery": 100, "tamper": False})),
            (leak, json.dumps({"battery": 97, "battery_low": False, "water_leak": False})),
        ])
        events = collector.wait_events(6)
        by_device = {(e.type, e.alarm) for e in events}
        assert ("sensor.water_leak", "raise") in by_device
        assert ("sensor.water_leak", "clear") in by_device
        assert ("sensor.smoke", "raise") in by_device
        assert ("sensor.smoke", "clear") in by_device
        assert ("sensor.battery_low", "raise") in by_device
        assert ("sensor.tamper", None) in by_device
        leak_events = collector.events("b1-1203-leak")
        assert [e.alarm for e in leak_events] == ["raise", "clear"]  # no repeat on the 3rd report
        assert all(e.unit == "b1-1203" for e in leak_events)
        assert all(e.ts.utcoffset().total_seconds() == 8 * 3600 for e in leak_events)
        # Door held open past the 0.3 s threshold → access.held_open raise, then clear on close.
        held = wait_until(lambda: [e for e in collector.events("b1-door1")
                                   if e.type == "access.held_open"], what="held_open")
        assert held[0].alarm == "raise"
        publish(downstream, [(door, json.dumps({"contact": True, "battery": 100}))])
        wait_until(lambda: len(collector.events("b1-door1")) == 2, what="held_open clear")
        assert collector.events("b1-door1")[1].alarm == "clear"
        statuses = collector.channel("status")
        states = {(m.topic.split("/")[5], m.decoded.state) for m in statuses}
        assert ("b1-1203-leak", "online") in states
        assert ("b1-smoke1", "offline") in states
        assert all(isinstance(m.decoded, StatusPayload) for m in statuses)
        # Statuses are retained: a subscriber arriving later still learns them.
        late = Collector(collector.broker, f"fieldops/v1/{site}/+/+/+/status")
        try:
            wait_until(lambda: len(late.channel("status")) >= 2, what="retained statuses")
            assert all(m.retain for m in late.channel("status"))
        finally:
            late.close()
        assert all(m.topic.startswith(f"fieldops/v1/{site}/b1/sensor/") for m in statuses)
        ids = [e.id for e in collector.events()]
        assert len(ids) == len(set(ids))
        assert bridge.stats.rejected_total() == 0
    assert not collector.invalid


def test_zigbee2mqtt_malformed_messages_are_counted_and_the_bridge_goes_on(
    downstream, collector: Collector, site, run_bridge
) -> None:
    base = unique("z2m")
    leak = f"{base}/b1-1203 kitchen leak"
    with run_bridge(config(site, downstream.url, base)) as bridge:
        publish(downstream, [
            (leak, b"{not json"),
            (leak, b"[1, 2]"),
            (leak, json.dumps({"water_leak": "maybe"})),
            (f"{base}/somebody else's sensor", json.dumps({"water_leak": True})),
            (f"{base}/bridge/state", json.dumps({"state": "online"})),
            (leak + "/availability", json.dumps({"state": "sleeping"})),
            (leak, json.dumps({"water_leak": True})),
        ])
        events = collector.wait_events(1)
        assert isinstance(events[0], EventPayload)
        assert events[0].type == "sensor.water_leak"
        wait_until(lambda: bridge.stats.rejected_total() == 5, what="5 rejects")
        rejected = dict(bridge.stats.rejected)
        assert rejected[("zigbee2mqtt", "malformed_json")] == 2
        assert rejected[("zigbee2mqtt", "bad_value")] == 2
        assert rejected[("zigbee2mqtt", "unknown_device")] == 1
        assert bridge.stats.ignored["zigbee2mqtt"] == 1
