"""Due times from the SLA policy: wall-clock minutes, working days, overrides, data not code."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.calendar.overrides import set_day
from server.calendar.service import WorkingCalendar
from server.sla.clocks import apply_due_times, due_times
from server.sla.policy import SlaClock, TicketFacts, load_policy, shipped_policy
from server.tickets.models import Ticket
from tests.sla.conftest import Estate, load_ticket, local, open_ticket

XW = WorkingCalendar(site="xinwaitan")


def facts(opened: datetime, kind: str = "complaint", **changes: object) -> TicketFacts:
    values: dict[str, object] = {"kind": kind, "severity": "normal", "classification": None,
                                 "needs_on_site": False, "department": None, "opened_at": opened}
    values.update(changes)
    return TicketFacts(**values)  # type: ignore[arg-type]


def due(f: TicketFacts) -> dict[SlaClock, datetime | None]:
    return due_times(f, XW, shipped_policy()).due


def test_critical_alarm_ack_2_minutes_and_on_site_15_minutes_even_at_3am_on_a_holiday() -> None:
    opened = local(2026, 10, 1, 3, 0)  # 国庆节, 3 a.m.: the 15-minute promise still runs
    clocks = due(facts(opened, kind="alarm", severity="critical"))
    assert clocks[SlaClock.ACK] == opened + timedelta(minutes=2)
    assert clocks[SlaClock.ON_SITE] == opened + timedelta(minutes=15)
    assert SlaClock.ANSWER not in clocks


def test_a_high_alarm_has_no_policy_ack_but_the_on_site_promise() -> None:
    clocks = due(facts(local(2026, 11, 6, 10), kind="alarm", severity="high"))
    assert SlaClock.ACK not in clocks  # left to the alarm rule table
    assert clocks[SlaClock.ON_SITE] == local(2026, 11, 6, 10, 15)


def test_a_request_that_cannot_be_solved_on_the_phone() -> None:
    opened = local(2026, 11, 7, 22, 50)  # Saturday night
    on_site = due(facts(opened, kind="repair", needs_on_site=True))[SlaClock.ON_SITE]
    assert on_site == local(2026, 11, 7, 23, 5)
    assert SlaClock.ON_SITE not in due(facts(opened, kind="repair"))


def test_complaint_with_another_department_30_minutes() -> None:
    opened = local(2026, 11, 6, 17, 45)
    clocks = due(facts(opened, classification="important", department="engineering"))
    assert clocks[SlaClock.DEPARTMENT] == local(2026, 11, 6, 18, 15)
    assert SlaClock.DEPARTMENT not in due(facts(opened, classification="important"))


def test_minor_complaint_24_hours_wall_clock_over_a_weekend() -> None:
    opened = local(2026, 11, 6, 17)  # Friday
    assert due(facts(opened, classification="minor"))[SlaClock.RESOLVE] == local(2026, 11, 7, 17)


def test_major_complaint_answer_3_and_resolve_7_working_days_across_a_weekend() -> None:
    clocks = due(facts(local(2026, 11, 6, 10), classification="major"))
    assert clocks[SlaClock.ANSWER] == local(2026, 11, 12)  # end of Wed 11 Nov
    assert clocks[SlaClock.RESOLVE] == local(2026, 11, 18)  # end of Tue 17 Nov


def test_major_complaint_on_the_eve_of_national_day() -> None:
    clocks = due(facts(local(2026, 9, 30, 16), classification="major"))
    # 1–7 Oct off: answer by the end of Sat 10 Oct (调休, a working day), resolve by Thu 15 Oct.
    assert clocks[SlaClock.ANSWER] == local(2026, 10, 11)
    assert clocks[SlaClock.RESOLVE] == local(2026, 10, 16)


def test_follow_up_counts_from_resolution() -> None:
    opened = local(2026, 11, 5, 10)
    assert due(facts(opened, classification="minor"))[SlaClock.FOLLOW_UP] is None  # not resolved yet
    resolved = due(facts(opened, classification="minor", resolved_at=local(2026, 11, 6, 15)))
    assert resolved[SlaClock.FOLLOW_UP] == local(2026, 11, 10)  # end of the next working day, Mon
    invalid = due(facts(opened, classification="invalid", resolved_at=local(2026, 11, 6, 15)))
    assert invalid[SlaClock.FOLLOW_UP] is None
    assert invalid[SlaClock.RESOLVE] is None


def test_an_uncovered_year_warns_and_assumes_weekdays() -> None:
    result = due_times(facts(local(2027, 3, 5, 10), classification="major"), XW, shipped_policy())
    assert result.due[SlaClock.ANSWER] == local(2027, 3, 11)  # Mon 8, Tue 9, Wed 10
    assert result.warnings
    assert "2027" in result.warnings[0]
    assert "Mon–Fri assumed" in result.warnings[0]


def test_the_policy_is_data(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[clock]]\nclock = "on_site"\nkinds = ["alarm"]\nwithin_s = 600\n', encoding="utf-8")
    policy = load_policy(path)
    opened = local(2026, 11, 6, 10)
    on_site = due_times(facts(opened, kind="alarm"), XW, policy).due[SlaClock.ON_SITE]
    assert on_site == local(2026, 11, 6, 10, 10)
    path.write_text('[[clock]]\nclock = "on_site"\nwithin_s = 60\nwithin_working_days = 1\n',
                    encoding="utf-8")
    with pytest.raises(ValueError, match="not both"):
        load_policy(path)
    path.write_text('[[clock]]\nclock = "lunch"\nwithin_s = 60\n', encoding="utf-8")
    with pytest.raises(ValueError, match="clock"):
        load_policy(path)


async def test_apply_due_times_sets_the_ticket_columns(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    opened = local(2026, 9, 30, 16)
    ticket_id = await open_ticket(db, estate, opened, kind="complaint", type="noise", severity="normal",
                                  classification="major", department="engineering")
    ticket = await load_ticket(db, ticket_id)
    assert ticket.answer_due_at == local(2026, 10, 11)
    assert ticket.resolve_due_at == local(2026, 10, 16)
    assert ticket.department_due_at == opened + timedelta(minutes=30)
    assert ticket.ack_due_at is None
    assert ticket.on_site_due_at is None


async def test_an_admin_override_moves_the_due_date(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    opened = local(2026, 11, 6, 10)
    before = await load_ticket(db, await open_ticket(
        db, estate, opened, kind="complaint", type="noise", severity="normal", classification="major"))
    assert before.answer_due_at == local(2026, 11, 12)
    async with db() as session, session.begin():  # the estate closes on Monday 9 November
        await set_day(session, "xinwaitan", date(2026, 11, 9), is_working=False, note="停电检修",
                      editor_id=estate.staff["admin"], now=opened)
    after = await load_ticket(db, await open_ticket(
        db, estate, opened, kind="complaint", type="noise", severity="normal", classification="major"))
    assert after.answer_due_at == local(2026, 11, 13)
    assert after.resolve_due_at == local(2026, 11, 19)


async def test_reclassification_reapplies_and_keeps_rule_table_clocks(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    opened = local(2026, 11, 6, 10)
    rule_table_ack = opened + timedelta(seconds=60)
    ticket_id = await open_ticket(db, estate, opened, apply=False, kind="complaint", type="noise",
                                  severity="normal", classification="minor", ack_due_at=rule_table_ack)
    async with db() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        await apply_due_times(session, ticket, opened)
        assert ticket.resolve_due_at == local(2026, 11, 7, 10)
        ticket.classification = "major"
        await apply_due_times(session, ticket, opened)
    ticket = await load_ticket(db, ticket_id)
    assert ticket.resolve_due_at == local(2026, 11, 18)
    assert ticket.answer_due_at == local(2026, 11, 12)
    assert ticket.ack_due_at == rule_table_ack  # no policy rule for it: untouched
