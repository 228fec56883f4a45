"""Modbus TCP meters: a pymodbus simulator serves the registers, the bridge polls them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.bridge.conftest import Collector, unique, wait_until
from tests.support.broker import free_port

pytestmark = pytest.mark.broker

FLOAT32 = ModbusTcpClient.DATATYPE.FLOAT32
UINT32 = ModbusTcpClient.DATATYPE.UINT32


class MeterSimulator:
    """A Modbus TCP server (pymodbus) on a free port in its own thread and loop.

    Registers 0–1: cumulative water in m3 (float32, big word order); registers
    10–11: electricity in 0.01 kWh (uint32, little word order). ``water`` can be
    changed while it runs.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.water = 123.456
        self.reads = 0
        self._loop = asyncio.new_event_loop()
        self._server: ModbusTcpServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _action(self, function_code: int, start: int, address: int, count: int,
                      registers: list[int], values: Any) -> None:
        self.reads += 1
        registers[0 - start : 2 - start] = ModbusTcpClient.convert_to_registers(self.water, FLOAT32)

    def start(self) -> None:
        electricity = ModbusTcpClient.convert_to_registers(1234567, UINT32, word_order="little")
        registers = [0] * 20
        registers[0:2] = ModbusTcpClient.convert_to_registers(self.water, FLOAT32)
        registers[10:12] = electricity
        device = SimDevice(
            id=1,
            simdata=[SimData(address=0, values=registers, datatype=DataType.REGISTERS)],
            action=self._action,
        )
        self._thread.start()

        async def serve() -> ModbusTcpServer:
            server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
            await server.serve_forever(background=True)
            return server

        self._server = asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)

    def stop(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
            self._server = None

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def meters() -> Iterator[MeterSimulator]:
    simulator = MeterSimulator()
    simulator.start()
    yield simulator
    simulator.close()


def test_modbus_registers_become_readings(downstream, collector: Collector, site, run_bridge,
                                          meters: MeterSimulator) -> None:
    text = f"""
[bridge]
site = "{site}"

[upstream]
device_wills = false

[downstream]
url = "{downstream.url}"
client_id = "{unique('src')}"

[[sources]]
adapter = "modbus"
host = "127.0.0.1"
port = {meters.port}
poll_seconds = 0.1
timeout_seconds = 0.5
retries = 0
offline_after_failures = 2

[[sources.devices]]
device = "b1-1203-wm"
building = "b1"
kind = "meter"
unit = "b1-1203"
quantity = "water"
unit_id = 1
address = 0
type = "float32"

[[sources.devices]]
device = "b1-1203-em"
building = "b1"
kind = "meter"
unit = "b1-1203"
quantity = "electricity"
unit_id = 1
address = 10
type = "uint32"
word_order = "little"
scale = 0.01
"""
    with run_bridge(text) as bridge:
        wait_until(lambda: len(collector.channel("reading")) >= 2, what="first readings")
        first = {m.decoded.quantity: m.decoded for m in collector.channel("reading")}
        assert first["water"].value == pytest.approx(123.456, abs=1e-4)
        assert first["water"].uom == "m3"
        assert first["electricity"].value == 12345.67
        assert first["electricity"].unit == "b1-1203"
        assert all(m.decoded.state == "online" for m in collector.channel("status"))
        # Unchanged registers are not re-sent every poll; a new value is.
        polls = bridge.adapters[0].polls
        wait_until(lambda: bridge.adapters[0].polls >= polls + 3, what="more polls")
        assert len(collector.channel("reading")) == 2
        meters.water = 124.5
        wait_until(lambda: len(collector.channel("reading")) == 3, what="new reading")
        assert collector.channel("reading")[2].decoded.value == pytest.approx(124.5, abs=1e-4)
        # The meter goes away: counted failures, then offline.
        meters.stop()
        wait_until(lambda: any(m.decoded.state == "offline" for m in collector.channel("status")),
                   what="offline")
        assert sum(n for (a, _), n in bridge.stats.rejected.items() if a == "modbus") >= 2
    assert not collector.invalid
