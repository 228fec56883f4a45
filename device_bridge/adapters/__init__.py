"""Vendor adapters, one module per device family; ``ADAPTERS`` maps config names to classes."""

from __future__ import annotations

from typing import Final

from device_bridge.adapters.base import Adapter
from device_bridge.adapters.elevator import Elevator
from device_bridge.adapters.esp_rfid import EspRfid
from device_bridge.adapters.generic import Generic
from device_bridge.adapters.modbus import Modbus
from device_bridge.adapters.shelly import Shelly
from device_bridge.adapters.tasmota import Tasmota
from device_bridge.adapters.zigbee2mqtt import Zigbee2Mqtt

ADAPTERS: Final[dict[str, type[Adapter]]] = {
    cls.name: cls for cls in (Zigbee2Mqtt, Tasmota, Shelly, EspRfid, Modbus, Elevator, Generic)
}

__all__ = ["ADAPTERS", "Adapter"]
