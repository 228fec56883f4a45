"""The renovation checklist's "within permitted hours" hint follows the site's working calendar.

Handbook (装修施工管理): Mon–Fri 08:00–12:00 and 14:00–19:00, Sat–Sun 09:00–12:00 and
15:00–18:00, 法定节假日同双休日. Dates are in 2026 because the demo estate's first move-in
(2025-09-01) makes its first 60 days 08:00–19:00 every day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.calendar.models import CalendarDay
from server.calendar.service import WorkingCalendar
from server.estates.models import Site
from server.patrols.hints import day_kind, renovation_hint
from tests.conftest import login
from tests.pwa.conftest import Clock

SH = ZoneInfo("Asia/Shanghai")
WORKING = ["08:00–12:00", "14:00–19:00"]
REST = ["09:00–12:00", "15:00–18:00"]
CALENDAR = WorkingCalendar(timezone=SH)


def test_the_calendar_data_has_the_days_these_tests_rely_on() -> None:
    assert date(2026, 10, 14).weekday() == 2
    assert CALENDAR.is_working_day(date(2026, 10, 14))
    assert date(2026, 10, 1).weekday() == 3
    assert not CALENDAR.is_working_day(date(2026, 10, 1))
    assert date(2026, 10, 10).weekday() == 5
    assert CALENDAR.is_working_day(date(2026, 10, 10))


@pytest.mark.parametrize(
    ("day", "kind", "windows", "name"),
    [
        (date(2026, 10, 14), "working", WORKING, None),  # an ordinary Wednesday
        (date(2026, 10, 1), "holiday", REST, "国庆节"),  # National Day, a Thursday
        (date(2026, 10, 3), "holiday", REST, "国庆节"),  # a Saturday inside the holiday
        (date(2026, 10, 10), "makeup_working", WORKING, "国庆节调休上班"),  # a Saturday made working
        (date(2026, 10, 17), "weekend", REST, None),  # an ordinary Saturday
        (date(2025, 10, 1), "holiday", ["08:00–19:00"], "国庆节"),  # within 60 days of the first move-in
    ],
)
def test_hours_by_kind_of_day(day: date, kind: str, windows: list[str], name: str | None) -> None:
    hint = renovation_hint(
        datetime(day.year, day.month, day.day, 8, 30, tzinfo=SH), SH, date(2025, 9, 1), CALENDAR
    )
    assert (hint["day_kind"], hint["windows"], hint["day_name"]) == (kind, windows, name)
    assert hint["now_permitted"] is (windows != REST)  # 08:30 is inside the weekday and early hours only


def test_a_site_override_changes_the_kind_of_day() -> None:
    typhoon = WorkingCalendar(timezone=SH, overrides={date(2026, 10, 14): False})
    assert day_kind(date(2026, 10, 14), typhoon) == "holiday"
    assert renovation_hint(datetime(2026, 10, 14, 8, 30, tzinfo=SH), SH, None, typhoon)["windows"] == REST


def test_a_year_the_calendar_does_not_cover_falls_back_to_weekdays() -> None:
    hint = renovation_hint(datetime(2099, 6, 3, 13, tzinfo=SH), SH, None, CALENDAR)  # a Wednesday
    assert (hint["day_kind"], hint["windows"], hint["now_permitted"]) == ("unknown", WORKING, False)


async def _hours(
    client: AsyncTestClient[Litestar], headers: dict[str, str], checkpoint_id: int
) -> dict[str, Any]:
    response = await client.get(f"/api/patrols/checkpoints/{checkpoint_id}", headers=headers)
    assert response.status_code == 200, response.text
    hours: dict[str, Any] = response.json()["hints"]["renovation_hours"]
    return hours


async def test_the_checkpoint_hint_uses_the_calendar_at_the_controlled_time(
    pclient: AsyncTestClient[Litestar], clock: Clock, pdb: async_sessionmaker[AsyncSession]
) -> None:
    spec1 = await login(pclient, "spec1")
    points = (await pclient.get("/api/patrols/checkpoints", headers=spec1)).json()
    renovation = next(c for c in points if c["kind"] == "renovation_unit")

    clock.now = datetime(2026, 10, 14, 8, 30, tzinfo=SH)  # Wednesday 08:30: noisy work allowed
    hours = await _hours(pclient, spec1, renovation["id"])
    assert (hours["windows"], hours["now_permitted"], hours["day_kind"]) == (WORKING, True, "working")

    clock.now = datetime(2026, 10, 1, 8, 30, tzinfo=SH)  # National Day 08:30: not before 09:00
    hours = await _hours(pclient, spec1, renovation["id"])
    assert (hours["windows"], hours["now_permitted"], hours["day_kind"]) == (REST, False, "holiday")
    assert hours["day_name"] == "国庆节"
    clock.now = datetime(2026, 10, 1, 14, 30, tzinfo=SH)  # and not in the long weekday afternoon
    assert (await _hours(pclient, spec1, renovation["id"]))["now_permitted"] is False

    clock.now = datetime(2026, 10, 10, 8, 30, tzinfo=SH)  # 调休 Saturday: a working day's hours
    hours = await _hours(pclient, spec1, renovation["id"])
    assert (hours["windows"], hours["now_permitted"], hours["day_kind"]) == (WORKING, True, "makeup_working")

    # The site's own calendar entry wins over the official schedule.
    async with pdb() as session, session.begin():
        site = await session.scalar(select(Site))
        assert site is not None
        session.add(CalendarDay(site_id=site.id, day=date(2026, 10, 14), is_working=False, note="台风停工"))
    clock.now = datetime(2026, 10, 14, 8, 30, tzinfo=SH)
    hours = await _hours(pclient, spec1, renovation["id"])
    assert (hours["windows"], hours["now_permitted"]) == (REST, False)
