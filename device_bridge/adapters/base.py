"""What every adapter has: its name, its devices by vendor id, its subscriptions.

An adapter is constructed from its ``[[sources]]`` table and the pipeline.
MQTT adapters list topic filters in ``subscriptions()`` and translate in
``handle(topic, payload)`` by calling the pipeline (``event``, ``condition``,
``reading``, ``status``); they raise ``Reject`` for what they cannot translate
(counted and logged by the pipeline) and ``Ignored`` for messages with no v1
meaning. Polling adapters (Modbus) implement ``run()`` instead.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from device_bridge.model import DeviceIdentity, Reject
from server.contract.v1 import Quantity

if TYPE_CHECKING:
    from device_bridge.config import BridgeConfig, DeviceMap
    from device_bridge.core import Pipeline


def identity_of(config: BridgeConfig, device: DeviceMap) -> DeviceIdentity:
    return DeviceIdentity(
        site=device.site or config.bridge.site,
        building=device.building,
        kind=device.kind,
        device=device.device,
        unit=device.unit or None,
        quantity=Quantity(device.quantity) if device.quantity else None,
        role=device.role,
        source=device.source,
    )


class Adapter:
    name: ClassVar[str] = "adapter"

    def __init__(self, source: Any, config: BridgeConfig, pipeline: Pipeline) -> None:
        self.source = source
        self.config = config
        self.pipeline = pipeline
        self.devices: dict[str, DeviceIdentity] = {}
        self.settings: dict[str, Any] = {}
        for device in source.devices:
            identity = identity_of(config, device)
            self.devices[device.source or device.device] = identity
            self.settings[identity.key] = device

    @property
    def identities(self) -> list[DeviceIdentity]:
        return list(self.devices.values())

    def device(self, vendor_id: str) -> DeviceIdentity:
        found = self.devices.get(vendor_id)
        if found is None:
            raise Reject("unknown_device", f"{vendor_id!r} is not mapped in the bridge config")
        return found

    def subscriptions(self) -> list[str]:
        return []

    def handle(self, topic: str, payload: bytes) -> None:
        raise NotImplementedError

    def restore(self) -> None:
        """Re-arm timers from persisted state after a restart."""

    async def run(self, stop: asyncio.Event) -> None:
        """Polling adapters loop here until ``stop``; MQTT adapters need not."""
