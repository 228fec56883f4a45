"""Realistic v1 traffic for a demo estate, straight onto the v1 topics (through the spool).

    fieldops bridge --simulate estate.toml --rate 20
    fieldops bridge --simulate estate.toml --rate 0 --scenario trapped --device b1-el1 --duration 5

What it produces: telemetry at about ``--rate`` messages per second, and incidents at a
steady pace per simulated hour whatever the rate (``INCIDENTS_PER_HOUR``; none with
``--rate 0``, which plays only the scenario):

- meter ``reading``s whose cumulative registers follow a residential daily
  curve (morning and evening peaks, near nothing at night) — a deterministic
  function of the time, so they rise across simulator restarts too; vacant
  units consume nothing (unless ``vacant-occupied`` says so), renovating units
  draw in working hours;
- card swipes at building doors (``access.granted``, some ``access.denied``);
- intercom calls to the desk, ringing → answered → ended, some unanswered;
- occasional device faults raised and later cleared, and offline spells.

Scenarios for demos and tests, played at start: ``trapped`` (elevator.trapped
raise on ``--device``), ``leak`` (sensor.water_leak / meter.leak raise),
``vacant-occupied`` (a vacant unit's meters start to run), ``forced-door``
(access.forced, then held open), ``missed-call`` (intercom.call ringing to the
desk, then ended without being answered). Pending scenario steps are played at
once when ``--duration`` ends, so a short run still tells the whole story.

The estate file (``device_bridge/examples/estate.toml``)::

    [site]      slug, timezone
    [[units]]   slug ("b1-1203": building-floor/number), building, floor,
                state = "vacant" | "occupied" | "renovating"
    [[devices]] slug, building, kind, unit ("" for public devices),
                quantity (meters: water | electricity | gas), role (free text:
                "door_station", "indoor_unit", "main_door" …)
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import logging
import random
import shutil
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from device_bridge.bridge import Uplink
from device_bridge.config import SLUG_PATTERN, locate_keys
from device_bridge.model import DeviceIdentity
from device_bridge.mqtt import BrokerUrl
from server.contract.v1 import DeviceKind, Quantity

log = logging.getLogger("device_bridge.simulator")

# Residential hourly profile (share of a day's consumption in each hour).
_WATER_PROFILE: Final[list[float]] = [
    1, 0.5, 0.4, 0.4, 0.6, 2, 6, 9, 7, 4, 3, 3.5, 5, 4, 2.5, 2.5, 3, 4.5, 7, 8, 7.5, 6, 4, 2,
]
_ELECTRICITY_PROFILE: Final[list[float]] = [
    2.5, 2, 1.8, 1.8, 1.8, 2.2, 3.5, 4.5, 4, 3.5, 3.5, 4, 4.5, 4, 3.5, 3.5, 4, 5, 7, 8, 8, 7, 5.5, 4,
]
_RENOVATION_PROFILE: Final[list[float]] = [0.0] * 8 + [10, 12, 12, 6, 6, 12, 12, 12, 10] + [0.0] * 7
_DAILY: Final[dict[Quantity, float]] = {
    Quantity.WATER: 0.45,  # m3 per occupied flat per day
    Quantity.ELECTRICITY: 11.0,  # kWh
    Quantity.GAS: 0.7,  # m3
}
# A "vacant" unit in use (vacant-occupied): someone living or working there.
_SQUAT_PER_HOUR: Final[dict[Quantity, float]] = {
    Quantity.WATER: 0.6,
    Quantity.ELECTRICITY: 1.5,
    Quantity.GAS: 0.3,
}
# Naive on purpose: registers follow the site's wall clock (the daily curve).
_REGISTER_EPOCH: Final = datetime(2024, 1, 1)  # noqa: DTZ001
# Per simulated hour, for a demo estate of a few hundred units: a door station rings now and
# then, a device breaks or drops off a few times a day … sped up enough to see it happen.
INCIDENTS_PER_HOUR: Final = {"call": 40.0, "fault": 3.0, "offline": 3.0}
_ELEVATOR_FAULTS: Final = ("door_lock_circuit", "overspeed", "safety_circuit_open", "leveling_error")
_INTERCOM_FAULTS: Final = ("camera", "speaker", "network")


class EstateError(ValueError):
    """A bad estate file; str() is ``file:line: message``."""


class Unit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: str
    building: str
    floor: int = 0
    state: str = "occupied"


class Device(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: str
    building: str
    kind: DeviceKind
    unit: str = ""
    quantity: str = ""
    role: str = ""


class Site(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: str
    timezone: str = "Asia/Shanghai"


class Estate(msgspec.Struct, kw_only=True):
    site: Site
    units: list[Unit] = msgspec.field(default_factory=list)
    devices: list[Device] = msgspec.field(default_factory=list)


def load_estate(path: str | Path) -> Estate:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise EstateError(f"{file}: cannot read: {exc.strerror or exc}") from None
    return parse_estate(text, file)


def parse_estate(text: str, file: str = "<estate>") -> Estate:
    import re

    slug = re.compile(rf"^{SLUG_PATTERN}$")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EstateError(f"{file}: TOML syntax: {exc}") from None
    located = locate_keys(text)

    def fail(path: tuple[str | int, ...], message: str) -> EstateError:
        line = located.line_for(path)
        where = f"{file}:{line}" if line else file
        return EstateError(f"{where}: {'.'.join(map(str, path))}: {message}")

    try:
        estate = msgspec.convert(raw, Estate)
    except msgspec.ValidationError as exc:
        message = str(exc)
        found = re.search(r" - at `\$([^`]*)`$", message)
        path: tuple[str | int, ...] = ()
        if found:
            path = tuple(
                int(i) if i else n for n, i in re.findall(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]", found.group(1))
            )
            message = message[: found.start()]
        raise fail(path, message) from None
    if not slug.match(estate.site.slug):
        raise fail(("site", "slug"), f"{estate.site.slug!r} is not a slug")
    try:
        ZoneInfo(estate.site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(("site", "timezone"), f"unknown time zone {estate.site.timezone!r}") from None
    units = set()
    for i, unit in enumerate(estate.units):
        if not slug.match(unit.slug) or not slug.match(unit.building):
            raise fail(("units", i, "slug"), f"{unit.slug!r}/{unit.building!r}: slugs please")
        if unit.state not in ("vacant", "occupied", "renovating"):
            raise fail(("units", i, "state"), f"{unit.state!r}: vacant, occupied or renovating")
        units.add(unit.slug)
    seen: set[str] = set()
    for i, device in enumerate(estate.devices):
        if not slug.match(device.slug) or not slug.match(device.building):
            raise fail(("devices", i, "slug"), f"{device.slug!r}/{device.building!r}: slugs please")
        if device.slug in seen:
            raise fail(("devices", i, "slug"), f"device {device.slug!r} listed twice")
        seen.add(device.slug)
        if device.unit and device.unit not in units:
            raise fail(("devices", i, "unit"), f"unit {device.unit!r} is not in [[units]]")
        if device.kind is DeviceKind.METER:
            try:
                Quantity(device.quantity)
            except ValueError:
                raise fail(("devices", i, "quantity"), "a meter needs water, electricity or gas") from None
    return estate


def _stable_random(*parts: str) -> random.Random:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - simulation, not crypto


def _cumulative(profile: list[float]) -> list[float]:
    total = sum(profile) or 1.0
    running = [0.0]
    for weight in profile:
        running.append(running[-1] + weight / total)
    return running  # 25 points: share of the day consumed by each hour boundary


@dataclass
class Meter:
    identity: DeviceIdentity
    quantity: Quantity
    base: float
    daily: float
    cumulative: list[float]
    squat_since: datetime | None = None

    def register(self, at: datetime) -> float:
        local = at.replace(tzinfo=None)
        days = (local - _REGISTER_EPOCH).total_seconds() / 86400.0
        whole = int(days)
        hour_f = (days - whole) * 24.0
        hour = min(int(hour_f), 23)
        share = self.cumulative[hour] + (self.cumulative[hour + 1] - self.cumulative[hour]) * (hour_f - hour)
        value = self.base + self.daily * (whole + share)
        if self.squat_since is not None and at > self.squat_since:
            hours = (at - self.squat_since).total_seconds() / 3600.0
            value += _SQUAT_PER_HOUR[self.quantity] * hours
        return round(value, 3)


@dataclass(order=True)
class _Step:
    due: float
    order: int
    action: Callable[[], object] = field(compare=False)
    scenario: bool = field(default=False, compare=False)


class Simulator:
    """Generates the traffic; shares the spool/pipeline/publisher with the bridge."""

    def __init__(
        self,
        estate: Estate,
        *,
        upstream_url: str,
        rate: float = 5.0,
        speed: float = 1.0,
        scenario: str | None = None,
        scenario_device: str | None = None,
        duration: float | None = None,
        spool_path: Path | None = None,
        seed: int | None = None,
        drain_seconds: float = 5.0,
        incidents_per_hour: Mapping[str, float] | None = None,
    ) -> None:
        self.estate = estate
        self.tz = ZoneInfo(estate.site.timezone)
        self.rate = rate
        self.speed = speed
        self.duration = duration
        self.drain_seconds = drain_seconds
        self.random = random.Random(seed)  # noqa: S311 - simulation, not crypto
        self._temp_dir: str | None = None
        if spool_path is None:
            self._temp_dir = tempfile.mkdtemp(prefix="fieldops-sim-")
            spool_path = Path(self._temp_dir) / "spool.sqlite"
        self.units = {u.slug: u for u in estate.units}
        self.identities = {
            d.slug: DeviceIdentity(
                site=estate.site.slug,
                building=d.building,
                kind=d.kind,
                device=d.slug,
                unit=d.unit or None,
                quantity=Quantity(d.quantity) if d.quantity else None,
                role=d.role,
            )
            for d in estate.devices
        }
        self.uplink = Uplink(
            url=BrokerUrl.parse(upstream_url),
            client_id=f"fieldops-sim-{estate.site.slug}",
            spool_path=spool_path,
            spool_max_bytes=256 * 1024 * 1024,
            tz=self.tz,
        )
        self.pipeline = self.uplink.pipeline
        self.stats = self.uplink.stats
        self.meters = [self._meter(d) for d in estate.devices if d.kind is DeviceKind.METER]
        self.by_kind: dict[DeviceKind, list[DeviceIdentity]] = {k: [] for k in DeviceKind}
        for identity in self.identities.values():
            self.by_kind[identity.kind].append(identity)
        self.access = self.by_kind[DeviceKind.ACCESS]
        self.intercoms = self.by_kind[DeviceKind.INTERCOM]
        self.scenario = scenario
        self.scenario_device = scenario_device
        self._check_scenario()
        self._steps: list[_Step] = []
        self._order = itertools.count()
        self._call_ids = itertools.count(1)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(self.tz)
        self.generated = 0
        self.undelivered = 0
        # Calls, faults and offline spells come per (simulated) hour, not per message: a
        # higher --rate means more telemetry, not an estate that breaks down faster.
        self.incidents_per_hour = {**INCIDENTS_PER_HOUR, **(incidents_per_hour or {})}

    # --- model ---------------------------------------------------------------

    def _meter(self, device: Device) -> Meter:
        quantity = Quantity(device.quantity)
        rng = _stable_random(self.estate.site.slug, device.slug)
        unit = self.units.get(device.unit)
        state = unit.state if unit else "occupied"
        if state == "vacant":
            daily = 0.0
            profile = _WATER_PROFILE
        elif state == "renovating":
            daily = _DAILY[quantity] * 0.8 * rng.uniform(0.7, 1.3)
            profile = _RENOVATION_PROFILE
        else:
            daily = _DAILY[quantity] * rng.uniform(0.6, 1.4)
            profile = _ELECTRICITY_PROFILE if quantity is Quantity.ELECTRICITY else _WATER_PROFILE
        base = {Quantity.WATER: 40.0, Quantity.ELECTRICITY: 900.0, Quantity.GAS: 60.0}[quantity]
        return Meter(
            identity=self.identities[device.slug],
            quantity=quantity,
            base=round(base * rng.uniform(0.5, 3.0), 3),
            daily=daily,
            cumulative=_cumulative(profile),
        )

    def now(self) -> datetime:
        """The simulated time: real time, run ``speed`` times faster from the start."""
        return self._wall0 + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def _sim_delay(self, sim_seconds: float) -> float:
        return time.monotonic() + sim_seconds / self.speed

    def later(self, sim_seconds: float, action: Callable[[], object], *, scenario: bool = False) -> None:
        heapq.heappush(
            self._steps, _Step(self._sim_delay(sim_seconds), next(self._order), action, scenario)
        )

    def _check_scenario(self) -> None:
        if self.scenario is None:
            if self.scenario_device:
                raise ValueError("--device needs --scenario")
            return
        wanted = {
            "trapped": (DeviceKind.ELEVATOR,),
            "leak": (DeviceKind.SENSOR, DeviceKind.METER),
            "vacant-occupied": (DeviceKind.METER,),
            "forced-door": (DeviceKind.ACCESS,),
            "missed-call": (DeviceKind.INTERCOM,),
        }[self.scenario]
        if self.scenario_device:
            identity = self.identities.get(self.scenario_device)
            if identity is None and self.scenario == "vacant-occupied" and self.scenario_device in self.units:
                return
            if identity is None:
                raise ValueError(f"--device {self.scenario_device!r} is not in the estate")
            if identity.kind not in wanted:
                raise ValueError(f"scenario {self.scenario} needs a {'/'.join(wanted)} device")
            return
        if not self._scenario_default():
            raise ValueError(f"the estate has no device for scenario {self.scenario}")

    def _scenario_default(self) -> DeviceIdentity | None:
        def pick(candidates: list[DeviceIdentity]) -> DeviceIdentity | None:
            return candidates[0] if candidates else None

        match self.scenario:
            case "trapped":
                return pick(self.by_kind[DeviceKind.ELEVATOR])
            case "leak":
                sensors = [i for i in self.by_kind[DeviceKind.SENSOR] if "smoke" not in i.role]
                water = [m.identity for m in self.meters if m.quantity is Quantity.WATER]
                return pick(sensors) or pick(water)
            case "vacant-occupied":
                return pick([
                    m.identity for m in self.meters
                    if m.identity.unit and self.units[m.identity.unit].state == "vacant"
                ])
            case "forced-door":
                return pick(self.access)
            case "missed-call":
                stations = [i for i in self.intercoms if i.role == "door_station"]
                return pick(stations) or pick(self.intercoms)
        return None

    # --- traffic -------------------------------------------------------------

    def _emit_one(self) -> None:
        choices: list[tuple[float, Callable[[], None]]] = []
        if self.meters:
            choices.append((70, self._reading))
        if self.access:
            choices.append((18, self._swipe))
        if not choices:
            return
        total = sum(w for w, _ in choices)
        pick = self.random.uniform(0, total)
        for weight, action in choices:
            pick -= weight
            if pick <= 0:
                action()
                return
        choices[-1][1]()

    def _schedule_incidents(self) -> None:
        if self.rate <= 0:
            return  # --rate 0 is a scenario-only run: nothing but the scenario's own story
        actions = {"call": self._call if self.intercoms else None, "fault": self._fault,
                   "offline": self._offline_spell}
        for name, per_hour in self.incidents_per_hour.items():
            action = actions.get(name)
            if action is not None and per_hour > 0:
                self._recurring(3600.0 / per_hour, action)

    def _recurring(self, mean_seconds: float, action: Callable[[], object]) -> None:
        """``action`` at random (Poisson) moments, ``mean_seconds`` apart on average."""

        def step() -> None:
            action()
            self.later(self.random.expovariate(1 / mean_seconds), step)

        self.later(self.random.expovariate(1 / mean_seconds), step)

    def _reading(self) -> None:
        meter = self.random.choice(self.meters)
        now = self.now()
        self.pipeline.reading(meter.identity, meter.register(now), ts=now)

    def _card_for(self, building: str) -> str:
        occupied = [u for u in self.estate.units if u.building == building and u.state != "vacant"]
        unit = self.random.choice(occupied or self.estate.units or [Unit(slug="x", building=building)])
        rng = _stable_random("card", unit.slug, str(self.random.randint(1, 3)))
        return str(rng.randint(10_000_000, 99_999_999))

    def _swipe(self) -> None:
        door = self.random.choice(self.access)
        now = self.now()
        if self.random.random() < 0.9:
            card, event_type = self._card_for(door.building), "access.granted"
        else:
            card, event_type = str(self.random.randint(10_000_000, 99_999_999)), "access.denied"
        data = {"card": card, "door": door.role or door.device}
        self.pipeline.event(door, event_type, data=data, ts=now)

    def _call(self, station: DeviceIdentity | None = None, *, answered: bool | None = None,
              scenario: bool = False) -> None:
        station = station or self.random.choice(self.intercoms)
        if answered is None:
            answered = self.random.random() < 0.8
        call_id = f"{station.device}-c{next(self._call_ids)}"
        base: dict[str, Any] = {"call_id": call_id, "to": "desk"}
        if station.unit:
            base["from_unit"] = station.unit
        self.pipeline.event(station, "intercom.call", data={**base, "phase": "ringing"}, ts=self.now())

        def phase(name: str, extra: dict[str, Any] | None = None) -> Callable[[], None]:
            return lambda: self.pipeline.event(
                station, "intercom.call", data={**base, "phase": name, **(extra or {})}, ts=self.now()
            )

        if answered:
            pickup = self.random.uniform(3, 20)
            self.later(pickup, phase("answered"), scenario=scenario)
            self.later(pickup + self.random.uniform(20, 120), phase("ended"), scenario=scenario)
        else:
            self.later(self.random.uniform(20, 40) if not scenario else 20,
                       phase("ended", {"answered": False}), scenario=scenario)

    def _fault(self) -> None:
        candidates = self.by_kind[DeviceKind.ELEVATOR] + self.intercoms + self.by_kind[DeviceKind.SENSOR]
        if not candidates:
            return
        device = self.random.choice(candidates)
        if device.kind is DeviceKind.ELEVATOR:
            event_type, data = "elevator.fault", {"code": self.random.choice(_ELEVATOR_FAULTS)}
        elif device.kind is DeviceKind.INTERCOM:
            event_type, data = "intercom.fault", {"code": self.random.choice(_INTERCOM_FAULTS)}
        else:
            event_type, data = "sensor.battery_low", {}
        # One condition per device and type, as the server keeps them.
        if not self.pipeline.condition(device, event_type, True, data=data, ts=self.now()):
            return
        self.later(
            self.random.uniform(120, 1800),
            lambda: self.pipeline.condition(device, event_type, False, data=data, ts=self.now()),
        )

    def _offline_spell(self) -> None:
        device = self.random.choice(list(self.identities.values()))
        self.pipeline.status(device, "offline", ts=self.now())
        self.later(
            self.random.uniform(30, 600),
            lambda: self.pipeline.status(device, "online", ts=self.now()),
        )

    # --- scenarios -----------------------------------------------------------

    def _play_scenario(self) -> None:
        if self.scenario is None:
            return
        target = self.identities.get(self.scenario_device or "") or self._scenario_default()
        now = self.now()
        log.info("scenario %s on %s", self.scenario, target.device if target else self.scenario_device)
        match self.scenario:
            case "trapped":
                assert target is not None
                floors = sorted({u.floor for u in self.estate.units if u.building == target.building}) or [1]
                floor = self.random.choice(floors)
                self.pipeline.condition(
                    target, "elevator.trapped", True,
                    data={"floor": floor, "position": "between_floors"}, ts=now,
                )
            case "leak":
                assert target is not None
                event_type = "sensor.water_leak" if target.kind is DeviceKind.SENSOR else "meter.leak"
                self.pipeline.condition(target, event_type, True, ts=now)
            case "vacant-occupied":
                unit = target.unit if target is not None else self.scenario_device
                meters = [m for m in self.meters if m.identity.unit == unit]
                for meter in meters:
                    meter.squat_since = now
                self._report_meters(meters)
            case "forced-door":
                assert target is not None
                door = target.role or target.device
                self.pipeline.event(target, "access.forced", data={"door": door}, ts=now)
                self.later(60, lambda: self.pipeline.condition(
                    target, "access.held_open", True, data={"door": door}, ts=self.now()), scenario=True)
                self.later(240, lambda: self.pipeline.condition(
                    target, "access.held_open", False, data={"door": door}, ts=self.now()), scenario=True)
            case "missed-call":
                assert target is not None
                self._call(target, answered=False, scenario=True)

    def _report_meters(self, meters: list[Meter]) -> None:
        if not meters or self._stop is None or self._stop.is_set():
            return
        now = self.now()
        for meter in meters:
            self.pipeline.reading(meter.identity, meter.register(now), ts=now)
        self.later(10, lambda: self._report_meters(meters))

    # --- running ---------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop_requested = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        self._t0 = time.monotonic()
        self._wall0 = datetime.now(self.tz)
        self.uplink.start()
        log.info(
            "simulating %s: %d unit(s), %d device(s), %.1f msg/s, speed ×%g",
            self.estate.site.slug, len(self.units), len(self.identities), self.rate, self.speed,
        )
        for identity in self.identities.values():
            self.pipeline.status(identity, "online", ts=self.now())
        self._play_scenario()
        self._schedule_incidents()
        self.pipeline.flush()
        ends = time.monotonic() + self.duration if self.duration is not None else None
        owed = 0.0
        last = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if ends is not None and now >= ends:
                    break
                owed += (now - last) * self.rate
                last = now
                burst = min(int(owed), 5000)
                owed -= burst
                for _ in range(burst):
                    self._emit_one()
                self.generated += burst
                while self._steps and self._steps[0].due <= now:
                    heapq.heappop(self._steps).action()
                self.pipeline.flush()
                await asyncio.sleep(0.01)
            # Finish the scenario's story before stopping (e.g. the missed call's "ended").
            for step in sorted(s for s in self._steps if s.scenario):
                step.action()
            self.pipeline.flush()
        finally:
            pending = await asyncio.to_thread(self.uplink.stop, self.drain_seconds)
            log.info("simulator stopped: %s", self.stats.summary())
            if self._temp_dir is not None:
                if pending:
                    # A throwaway spool: say loudly what the central broker never got.
                    self.undelivered = pending
                    log.error(
                        "%d simulated message(s) never reached the central broker "
                        "(unreachable?); give --spool to keep them", pending,
                    )
                shutil.rmtree(self._temp_dir, ignore_errors=True)
