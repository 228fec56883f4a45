"""The working calendar: official holidays and 调休 days, overrides, uncovered years (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from server.calendar import official
from server.calendar.service import CalendarNotCovered, WorkingCalendar
from tests.sla.conftest import local

XW = WorkingCalendar(site="xinwaitan")


def test_the_package_covers_2025_and_2026_but_not_2027() -> None:
    assert official.covers(2025)
    assert official.covers(2026)
    # chinesecalendar 1.11 ends at 2026: 2027 must come from the site's overrides.
    assert not official.covers(2027)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 6), True),  # an ordinary Friday
        (date(2026, 11, 7), False),  # an ordinary Saturday
        (date(2026, 10, 1), False),  # 国庆节
        (date(2026, 10, 7), False),  # 国庆节, a Wednesday
        (date(2026, 10, 10), True),  # 调休: the Saturday after National Day is a working day
        (date(2026, 9, 20), True),  # 调休 Sunday before it
        (date(2026, 4, 6), False),  # 清明节 Monday
        (date(2025, 10, 11), True),  # 2025's 调休 Saturday
        (date(2025, 10, 8), False),  # 2025 National Day, a Wednesday
    ],
)
def test_official_days(day: date, working: bool) -> None:
    assert XW.is_working_day(day) is working


def test_a_deadline_crossing_a_weekend() -> None:
    # Friday 10:00 + 3 working days: Mon, Tue, Wed; due at 24:00 on Wednesday.
    assert XW.add_working_days(local(2026, 11, 6, 10), 3) == local(2026, 11, 12)
    assert XW.add_working_days(local(2026, 11, 6, 10), 7) == local(2026, 11, 18)


def test_a_deadline_crossing_a_public_holiday() -> None:
    # Friday before 清明 (Sat 4 – Mon 6 April 2026): Tue 7, Wed 8, Thu 9.
    assert XW.add_working_days(local(2026, 4, 3, 9), 3) == local(2026, 4, 10)


def test_a_tiaoxiu_saturday_counts_as_a_working_day() -> None:
    # From Thu 30 April 2026, 劳动节 runs 1–5 May; Sat 9 May is a make-up working day.
    assert XW.add_working_days(local(2026, 4, 30, 16), 3) == local(2026, 5, 9)
    assert XW.add_working_days(local(2026, 4, 30, 16), 4) == local(2026, 5, 10)  # Sat 9 counted
    assert XW.add_working_days(local(2026, 4, 30, 16), 5) == local(2026, 5, 12)  # Sun 10 not


def test_the_eve_of_national_day() -> None:
    # 30 Sep 2026: 1–7 Oct off; Thu 8, Fri 9, Sat 10 (调休) are the first three working days.
    opened = local(2026, 9, 30, 17, 30)
    assert XW.add_working_days(opened, 3) == local(2026, 10, 11)
    assert XW.add_working_days(opened, 7) == local(2026, 10, 16)


def test_days_are_counted_on_the_sites_local_date_and_returned_in_utc() -> None:
    # 01:00 Friday in Shanghai is still Thursday in UTC: counting must start from Friday.
    opened = local(2026, 11, 6, 1)
    assert opened.astimezone(UTC).date() == date(2026, 11, 5)
    due = XW.add_working_days(opened, 3)
    assert due == local(2026, 11, 12)
    assert due.tzinfo is UTC
    assert due == datetime(2026, 11, 11, 16, tzinfo=UTC)


def test_an_override_beats_the_official_schedule() -> None:
    calendar = WorkingCalendar(overrides={date(2026, 11, 9): False, date(2026, 10, 3): True})
    assert not calendar.is_working_day(date(2026, 11, 9))
    assert calendar.is_working_day(date(2026, 10, 3))
    assert calendar.add_working_days(local(2026, 11, 6, 10), 3) == local(2026, 11, 13)


def test_an_uncovered_year_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarNotCovered, match="2027") as refused:
        XW.is_working_day(date(2027, 3, 1))
    assert "override" in str(refused.value)
    with pytest.raises(CalendarNotCovered):
        XW.add_working_days(local(2026, 12, 30, 9), 3)  # runs into 2027


def test_an_uncovered_year_filled_in_by_the_admin() -> None:
    # The admin enters 2027's 元旦 (Fri 1 Jan) and a 调休 Sunday; other days are ordinary.
    calendar = WorkingCalendar(overrides={date(2027, 1, 1): False, date(2027, 1, 3): True})
    assert calendar.covers(2027)
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert calendar.is_working_day(date(2027, 1, 3))
    assert not calendar.is_working_day(date(2027, 1, 2))
    # Thu 31 Dec 2026 + 2 working days: (Fri 1 Jan off) Sun 3 Jan (调休), Mon 4 Jan.
    assert calendar.add_working_days(local(2026, 12, 31, 9), 2) == local(2027, 1, 5)


def test_assuming_weekdays_is_explicit() -> None:
    assert XW.assuming_weekdays().is_working_day(date(2027, 3, 1))
    assert not XW.assuming_weekdays().is_working_day(date(2027, 3, 6))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="aware"):
        XW.add_working_days(datetime(2026, 11, 6, 10), 3)  # noqa: DTZ001 - the naive input under test
    with pytest.raises(ValueError, match="at least 1"):
        XW.add_working_days(local(2026, 11, 6, 10), 0)
