"""Patrol frequencies and plausibility thresholds: schedule.toml, overridable per site."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

import msgspec

SCHEDULE_FILE = Path(__file__).resolve().parent / "schedule.toml"


class Frequency(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    times: int
    per: Literal["day", "week", "month"]


class Plausibility(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    floor_jump_seconds: float = 20
    floor_jump_min_floors: int = 2
    repeat_scan_window_seconds: float = 600
    repeat_scan_count: int = 3
    clock_skew_seconds: float = 300
    stale_device_hours: float = 4


class PatrolConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    vacant_unit: Frequency
    renovation_unit: Frequency
    public_area: Frequency
    plausibility: Plausibility = Plausibility()

    def frequency(self, kind: str) -> Frequency:
        found: Frequency = getattr(self, kind)
        return found


@cache
def _shipped() -> dict[str, Any]:
    return tomllib.loads(SCHEDULE_FILE.read_text("utf-8"))


def patrol_config(site_options: dict[str, object] | None = None) -> PatrolConfig:
    """The shipped schedule with the site's ``patrol_schedule`` option laid over it."""
    merged: dict[str, Any] = {k: dict(v) for k, v in _shipped().items()}
    overrides = (site_options or {}).get("patrol_schedule")
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
    return msgspec.convert(merged, PatrolConfig)
