"""Each shipped example config works: the vendor message its comment shows becomes v1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_bridge.config import load_config
from tests.bridge.conftest import Collector, publish, wait_until

pytestmark = pytest.mark.broker

EXAMPLES = Path(__file__).resolve().parents[2] / "device_bridge" / "examples"

CASES = {
    "zigbee2mqtt.toml": ("zigbee2mqtt/b1-1203 kitchen leak",
                         {"water_leak": True, "battery_low": False}, "sensor.water_leak"),
    "tasmota.toml": ("tele/garage_reader/SENSOR",
                     {"Time": "2026-11-26T08:16:00", "Wiegand": {"UID": 7748328, "Size": 26}},
                     "access.granted"),
    "shelly.toml": ("shellypro3em-0cb815fcaff4/events/rpc",
                    {"src": "shellypro3em-0cb815fcaff4", "method": "NotifyStatus",
                     "params": {"ts": 1764116102.43, "emdata:0": {"id": 0, "total_act": 1532871.2}}},
                    "meter.reading"),
    "esp_rfid.toml": ("esprfid/b1-main/send",
                      {"cmd": "log", "type": "access", "time": 1764116102, "isKnown": "true",
                       "access": "Always", "username": "x", "uid": "a3f09b12", "door": "b1-main"},
                      "access.granted"),
    "elevator.toml": ("elevator/T-1/status",
                      {"regCode": "31103301002018060001", "time": "2026-11-26 08:15:02",
                       "floor": 12, "doorZone": 0, "faults": ["E30"]}, "elevator.trapped"),
    "generic.toml": ("intercom/DS-0001/event",
                     {"event": "call", "callId": "c-88121", "state": "ring", "target": "desk",
                      "room": "b1-1203", "time": 1764116102}, "intercom.call"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_config_translates_its_documented_message(
    name: str, downstream, collector: Collector, site: str, run_bridge, tmp_path: Path
) -> None:
    config = load_config(EXAMPLES / name)
    config.bridge.site = site
    config.downstream.url = downstream.url
    config.downstream.client_id = f"example-{site}"
    topic, payload, expected = CASES[name]
    with run_bridge(config, tmp_path / "spool.sqlite"):
        publish(downstream, [(topic, json.dumps(payload))])
        wait_until(lambda: [m for m in collector.messages if not m.topic.endswith("/status")],
                   what=expected)
        message = next(m for m in collector.messages if not m.topic.endswith("/status"))
        assert message.decoded.type == expected
    assert not collector.invalid
