"""The estate simulator: realistic traffic and on-demand scenarios, straight onto v1."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from device_bridge.cli import main
from device_bridge.simulator import EstateError, load_estate, parse_estate
from server.contract.v1 import EventPayload, ReadingPayload
from tests.bridge.conftest import Collector, wait_until

pytestmark = pytest.mark.broker

ESTATE = """\
[site]
slug = "{site}"
timezone = "Asia/Shanghai"

[[units]]
slug = "b1-1203"
building = "b1"
floor = 12
state = "occupied"

[[units]]
slug = "b1-1204"
building = "b1"
floor = 12
state = "vacant"

[[units]]
slug = "b2-101"
building = "b2"
floor = 1
state = "renovating"

[[devices]]
slug = "b1-el1"
building = "b1"
kind = "elevator"
unit = ""
quantity = ""
role = ""

[[devices]]
slug = "b1-ds1"
building = "b1"
kind = "intercom"
unit = ""
quantity = ""
role = "door_station"

[[devices]]
slug = "b1-door1"
building = "b1"
kind = "access"
unit = ""
quantity = ""
role = "main_door"

[[devices]]
slug = "b1-1203-leak"
building = "b1"
kind = "sensor"
unit = "b1-1203"
quantity = ""
role = "water_leak"

[[devices]]
slug = "b1-1203-wm"
building = "b1"
kind = "meter"
unit = "b1-1203"
quantity = "water"
role = ""

[[devices]]
slug = "b1-1203-em"
building = "b1"
kind = "meter"
unit = "b1-1203"
quantity = "electricity"
role = ""

[[devices]]
slug = "b1-1204-wm"
building = "b1"
kind = "meter"
unit = "b1-1204"
quantity = "water"
role = ""

[[devices]]
slug = "b2-101-em"
building = "b2"
kind = "meter"
unit = "b2-101"
quantity = "electricity"
role = ""
"""


@pytest.fixture
def estate(tmp_path: Path, site: str) -> Path:
    path = tmp_path / "estate.toml"
    path.write_text(ESTATE.format(site=site))
    return path


def simulate(estate: Path, upstream, *args: str) -> int:
    return main(["--simulate", str(estate), "--mqtt-url", upstream.url, "--drain-seconds", "10",
                 *args])


def test_scenario_trapped(estate: Path, upstream, collector: Collector) -> None:
    assert simulate(estate, upstream, "--rate", "0", "--scenario", "trapped", "--device", "b1-el1",
                    "--duration", "0.2") == 0
    events = collector.wait_events(1)
    assert [(e.type, e.alarm) for e in events] == [("elevator.trapped", "raise")]
    assert events[0].data["floor"] == 12
    assert "/b1/elevator/b1-el1/event" in collector.channel("event")[0].topic
    assert len(collector.channel("status")) == 8  # every device announced online
    assert not collector.invalid


def test_scenario_missed_call(estate: Path, upstream, collector: Collector) -> None:
    assert simulate(estate, upstream, "--rate", "0", "--scenario", "missed-call",
                    "--duration", "0.2") == 0
    calls = collector.wait_events(2)
    assert [e.data["phase"] for e in calls] == ["ringing", "ended"]
    assert calls[0].data["call_id"] == calls[1].data["call_id"]
    assert calls[0].data["to"] == "desk"
    assert all(e.type == "intercom.call" for e in calls)


@pytest.mark.parametrize(("scenario", "expected"), [
    ("leak", ("sensor.water_leak", "raise")),
    ("forced-door", ("access.forced", None)),
])
def test_scenarios_leak_and_forced_door(estate: Path, upstream, collector: Collector,
                                        scenario: str, expected: tuple) -> None:
    assert simulate(estate, upstream, "--rate", "0", "--scenario", scenario, "--duration", "0.2") == 0
    events = collector.wait_events(1)
    assert (events[0].type, events[0].alarm) == expected


def test_vacant_unit_in_use(estate: Path, upstream, collector: Collector) -> None:
    # One simulated hour per second: the vacant flat's water meter runs.
    assert simulate(estate, upstream, "--rate", "0", "--scenario", "vacant-occupied",
                    "--device", "b1-1204", "--speed", "3600", "--duration", "0.5") == 0
    readings = [m.decoded for m in collector.channel("reading", "b1-1204-wm")]
    assert len(readings) >= 2
    assert readings[-1].value > readings[0].value
    assert all(r.unit == "b1-1204" for r in readings)


def test_traffic_is_valid_and_meters_rise(estate: Path, upstream, collector: Collector) -> None:
    assert simulate(estate, upstream, "--rate", "400", "--duration", "1.0", "--seed", "7") == 0
    wait_until(lambda: len(collector.messages) >= 250, what="traffic")
    assert not collector.invalid
    readings: dict[str, list[ReadingPayload]] = defaultdict(list)
    ids: dict[str, set[str]] = defaultdict(set)
    for message in collector.messages:
        device = message.topic.split("/")[5]
        decoded = message.decoded
        if isinstance(decoded, ReadingPayload):
            readings[device].append(decoded)
        if isinstance(decoded, EventPayload | ReadingPayload):
            assert decoded.id not in ids[device]
            ids[device].add(decoded.id)
            assert decoded.ts.utcoffset().total_seconds() == 8 * 3600
    assert set(readings) >= {"b1-1203-wm", "b1-1203-em", "b1-1204-wm"}
    for series in readings.values():
        values = [r.value for r in series]
        assert values == sorted(values)  # cumulative registers never go back
    assert len({r.value for r in readings["b1-1204-wm"]}) == 1  # vacant: no consumption
    kinds = {m.decoded.type for m in collector.channel("event")}
    assert kinds & {"access.granted", "access.denied"}


def test_bad_estate_file_is_refused_with_its_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "estate.toml"
    path.write_text(ESTATE.format(site="x").replace('state = "vacant"', 'state = "empty"'))
    assert main(["--simulate", str(path)]) == 2
    assert f"{path}:15:" in capsys.readouterr().err
    with pytest.raises(EstateError, match="not in"):
        parse_estate(ESTATE.format(site="x").replace('unit = "b2-101"', 'unit = "b9-999"'))


def test_the_shipped_demo_estate_loads() -> None:
    estate = load_estate(Path(__file__).resolve().parents[2] / "device_bridge/examples/estate.toml")
    assert estate.site.slug == "xinwaitan"
    assert {u.state for u in estate.units} == {"vacant", "occupied", "renovating"}
    assert {"b1-el1"} <= {d.slug for d in estate.devices}
