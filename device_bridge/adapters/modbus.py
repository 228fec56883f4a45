"""Modbus TCP meters, polled with pymodbus.

Most water, heat and electricity meters in Chinese residential estates sit on
RS-485 behind a Modbus TCP gateway (or speak Modbus TCP themselves). The
register map comes from the meter's manual and goes in the config, one
``[[sources.devices]]`` per meter register::

    unit_id = 3          # Modbus device (slave) id behind the gateway
    address = 0          # first register, 0-based as on the wire
    table = "holding"    # holding (function 3) or input (function 4)
    type = "float32"     # uint16 int16 uint32 int32 float32 uint64 int64 float64
    word_order = "big"   # "little" for meters that send the low word first
    scale = 1.0          # value = raw × scale (e.g. 0.01 for a register in 10 L)

Each poll (``poll_seconds``, with ``timeout_seconds`` and ``retries`` per
request) yields a v1 ``reading`` when the value changed, or at least every
``report_every_seconds``. A meter that fails ``offline_after_failures``
polls in a row is reported offline; the next good poll brings it back online.
Failures are counted (``modbus_error`` / ``modbus_timeout``) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any, ClassVar

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from device_bridge.adapters.base import Adapter
from device_bridge.model import DeviceIdentity

log = logging.getLogger("device_bridge.modbus")

_DATATYPES = {
    "uint16": AsyncModbusTcpClient.DATATYPE.UINT16,
    "int16": AsyncModbusTcpClient.DATATYPE.INT16,
    "uint32": AsyncModbusTcpClient.DATATYPE.UINT32,
    "int32": AsyncModbusTcpClient.DATATYPE.INT32,
    "float32": AsyncModbusTcpClient.DATATYPE.FLOAT32,
    "uint64": AsyncModbusTcpClient.DATATYPE.UINT64,
    "int64": AsyncModbusTcpClient.DATATYPE.INT64,
    "float64": AsyncModbusTcpClient.DATATYPE.FLOAT64,
}


class Modbus(Adapter):
    name: ClassVar[str] = "modbus"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._last: dict[str, tuple[float, float]] = {}  # key → (value, monotonic time sent)
        self._failures: dict[str, int] = {}
        self.polls = 0

    def handle(self, topic: str, payload: bytes) -> None:
        raise NotImplementedError("Modbus meters are polled, not subscribed")

    async def run(self, stop: asyncio.Event) -> None:
        source = self.source
        client = AsyncModbusTcpClient(
            source.host,
            port=source.port,
            timeout=source.timeout_seconds,
            retries=source.retries,
            reconnect_delay=min(1.0, source.poll_seconds),
            reconnect_delay_max=max(1.0, source.poll_seconds),
        )
        try:
            while not stop.is_set():
                started = time.monotonic()
                if not client.connected:
                    try:
                        await client.connect()
                    except (OSError, ModbusException) as exc:
                        log.warning("Modbus %s:%s connect failed: %s", source.host, source.port, exc)
                for identity in self.identities:
                    if stop.is_set():
                        break
                    await self._poll(client, identity)
                self.polls += 1
                self.pipeline.flush()
                wait = source.poll_seconds - (time.monotonic() - started)
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            client.close()

    async def _poll(self, client: AsyncModbusTcpClient, identity: DeviceIdentity) -> None:
        device = self.settings[identity.key]
        datatype = _DATATYPES[device.type]
        count = datatype.value[1]
        where = f"{self.source.host}:{self.source.port} unit {device.unit_id} @{device.address}"
        try:
            if not client.connected:
                raise ConnectionError("not connected")
            read = client.read_holding_registers if device.table == "holding" else client.read_input_registers
            response = await read(device.address, count=count, device_id=device.unit_id)
            if response.isError():
                raise ModbusException(f"exception response {response}")
            raw = client.convert_from_registers(response.registers, datatype, word_order=device.word_order)
        except (ModbusException, OSError, ConnectionError, TimeoutError) as exc:
            reason = "modbus_timeout" if "timeout" in str(exc).lower() else "modbus_error"
            self.pipeline.reject(self.name, reason, where, b"", str(exc))
            failures = self._failures.get(identity.key, 0) + 1
            self._failures[identity.key] = failures
            if failures >= self.source.offline_after_failures:
                self.pipeline.status(identity, "offline")
            return
        self._failures[identity.key] = 0
        self.pipeline.status(identity, "online")
        value = float(raw) * device.scale  # type: ignore[arg-type]
        if not math.isfinite(value) or value < 0:
            self.pipeline.reject(self.name, "bad_value", where, b"", f"register value {value!r}")
            return
        value = round(value, 6)
        last = self._last.get(identity.key)
        now = time.monotonic()
        if last is not None and last[0] == value and now - last[1] < self.source.report_every_seconds:
            return
        self._last[identity.key] = (value, now)
        self.pipeline.reading(identity, value)
