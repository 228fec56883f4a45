"""China's official holiday schedule (国务院办公厅 notices), read from the ``chinesecalendar`` package.

The package is maintained by hand after each year's notice is published (usually in
November for the next year), so it always ends at some year: past that year a site's
admin fills the schedule in as overrides, and nothing here guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chinese_calendar import constants as _official

# The package names festivals in English; the desk reads Chinese.
_CHINESE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}

FIRST_YEAR: int = min(_official.holidays).year
LAST_YEAR: int = max(_official.holidays).year


@dataclass(frozen=True)
class OfficialDay:
    """A day the official schedule makes special: a public holiday or a make-up working day (调休)."""

    day: date
    is_working: bool
    name: str


def covers(year: int) -> bool:
    """Whether the package has the official schedule for ``year``."""
    return FIRST_YEAR <= year <= LAST_YEAR


def is_working(day: date) -> bool | None:
    """The official status of ``day``; None when the package has no schedule for its year."""
    if not covers(day.year):
        return None
    if day in _official.workdays:  # 调休: a weekend day made a working day
        return True
    if day in _official.holidays:
        return False
    return day.weekday() < 5


def special_days(year: int) -> list[OfficialDay]:
    """The year's public holidays and 调休 working days, in date order (empty if not covered)."""
    days = [OfficialDay(d, False, _chinese(name)) for d, name in _official.holidays.items()
            if d.year == year]
    days += [OfficialDay(d, True, f"{_chinese(name)}调休上班") for d, name in _official.workdays.items()
             if d.year == year]
    return sorted(days, key=lambda d: d.day)


def _chinese(name: str) -> str:
    return _CHINESE_NAMES.get(name, name)
