"""The escalation ladder: supervisor after 2 minutes unacknowledged, repeats, stops; manager on site."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.sla.escalation import Push, escalate
from server.sla.ladder import EscalationTable, load_ladders
from server.sla.models import Escalation
from server.tickets.models import DeskEvent, Ticket, TicketAudit
from tests.sla.conftest import Estate, change_ticket, load_ticket, local, open_ticket

T = local(2026, 10, 3, 2, 0)  # 国庆节, 2 a.m.


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


class Pushes:
    """The notifier: records who would have been pushed."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[int], int, int, str]] = []

    async def __call__(self, staff: list[int], ticket: Ticket, level: int, reason: str) -> None:
        self.sent.append((staff, ticket.id, level, reason))

    def take(self) -> list[tuple[list[int], int, int]]:
        taken = [(staff, ticket, level) for staff, ticket, level, _ in self.sent]
        self.sent.clear()
        return taken


async def run(db: async_sessionmaker[AsyncSession], now: datetime, pushes: Pushes,
              table: EscalationTable | None = None) -> list[Push]:
    async with db() as session, session.begin():
        return await escalate(session, now, pushes, table=table)


async def escalation_audit(db: async_sessionmaker[AsyncSession], ticket_id: int) -> list[TicketAudit]:
    async with db() as session:
        return list(await session.scalars(
            select(TicketAudit).where(TicketAudit.ticket_id == ticket_id,
                                      TicketAudit.action == "escalated").order_by(TicketAudit.id)))


async def test_unacknowledged_critical_alarm_goes_to_the_supervisor_repeats_and_stops(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    ticket = await open_ticket(db, estate, T)
    pushes = Pushes()
    supervisor = [estate.staff["supervisor"]]

    assert await run(db, at(1.9), pushes) == []
    await run(db, at(2), pushes)
    # The reason reads in the estate's wall clock (Asia/Shanghai), not UTC.
    local_due = at(2).astimezone(ZoneInfo("Asia/Shanghai"))
    assert pushes.sent[0][3].startswith(f"ack overdue since {local_due:%m-%d %H:%M}: ")
    assert pushes.take() == [(supervisor, ticket, 1)]
    trail = await escalation_audit(db, ticket)
    assert len(trail) == 1
    assert trail[0].actor == "sla"
    assert trail[0].client == "sla"
    assert trail[0].detail["level"] == 1
    assert trail[0].detail["notified"] == supervisor
    assert trail[0].detail["roles"] == ["supervisor"]
    assert (await load_ticket(db, ticket)).escalation_level == 1
    async with db() as session:
        desk = await session.scalar(select(DeskEvent).where(DeskEvent.entity_id == ticket,
                                                            DeskEvent.action == "escalated"))
    assert desk is not None  # the desk stream shows it live

    await run(db, at(3), pushes)  # within the 2-minute repeat interval: nothing
    assert pushes.take() == []
    await run(db, at(4), pushes)  # repeat
    assert pushes.take() == [(supervisor, ticket, 1)]
    assert [a.detail["repeat"] for a in await escalation_audit(db, ticket)] == [1, 2]

    await change_ticket(db, ticket, acknowledged_at=at(5), status="acknowledged")
    await run(db, at(6), pushes)
    await run(db, at(8), pushes)
    assert pushes.take() == []  # acknowledged: the supervisor is no longer pushed
    async with db() as session:
        rung = await session.scalar(select(Escalation).where(Escalation.ticket_id == ticket))
    assert rung is not None
    assert rung.times == 2
    assert rung.stopped_at == at(6)
    assert rung.stop_reason == "ack met"


async def test_not_on_site_by_the_due_time_goes_to_the_manager(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    ticket = await open_ticket(db, estate, T)
    await change_ticket(db, ticket, acknowledged_at=at(1), status="dispatched", dispatched_at=at(1))
    pushes = Pushes()
    manager = [estate.staff["manager"]]
    await run(db, at(14), pushes)
    assert pushes.take() == []
    await run(db, at(15), pushes)
    assert pushes.take() == [(manager, ticket, 2)]
    assert (await load_ticket(db, ticket)).escalation_level == 2
    await run(db, at(20), pushes)  # repeats every 5 minutes
    assert pushes.take() == [(manager, ticket, 2)]
    await change_ticket(db, ticket, on_site_at=at(22), status="on_site")
    await run(db, at(25), pushes)
    assert pushes.take() == []
    assert len(await escalation_audit(db, ticket)) == 2


async def test_both_rungs_when_nobody_acknowledges(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    ticket = await open_ticket(db, estate, T)
    pushes = Pushes()
    await run(db, at(2), pushes)
    await run(db, at(15), pushes)
    # At 02:15 the supervisor's missed repeats go out once (not once per missed interval),
    # and the manager's rung starts.
    assert [level for _, _, level in pushes.take()] == [1, 1, 2]
    assert (await load_ticket(db, ticket)).escalation_level == 2


@pytest.mark.parametrize(
    "ending",
    [
        {"cleared_at": at(3)},  # the device says the condition cleared
        {"status": "resolved", "resolved_at": at(3)},
        {"status": "cancelled", "updated_at": at(3)},
    ],
)
async def test_escalation_stops_when_cleared_resolved_or_cancelled(
    db: async_sessionmaker[AsyncSession], estate: Estate, ending: dict[str, object]
) -> None:
    ticket = await open_ticket(db, estate, T)
    pushes = Pushes()
    await run(db, at(2), pushes)
    assert len(pushes.take()) == 1
    await change_ticket(db, ticket, **ending)
    for minute in (4, 15, 30):
        await run(db, at(minute), pushes)
    assert pushes.take() == []


async def test_a_sites_own_ladder_and_building_scoped_roles(
    db: async_sessionmaker[AsyncSession], estate: Estate, tmp_path: Path
) -> None:
    path = tmp_path / "escalation.toml"
    path.write_text(
        "[default]\n[[default.step]]\nlevel = 1\nclock = \"ack\"\nnotify = [\"manager\"]\n"
        "[sites.xinwaitan]\n[[sites.xinwaitan.step]]\nlevel = 1\nclock = \"ack\"\nafter_s = 60\n"
        "notify = [\"specialist\", \"supervisor\"]\n", encoding="utf-8")
    table = load_ladders(path)
    b2_ticket = await open_ticket(db, estate, T, building_id=estate.b2)
    pushes = Pushes()
    await run(db, at(2.5), pushes, table)
    assert pushes.take() == []  # this site waits a minute past the due time
    await run(db, at(3), pushes, table)
    assert pushes.take() == [(sorted([estate.staff["spec2"], estate.staff["supervisor"]]), b2_ticket, 1)]
    await run(db, at(10), pushes, table)
    assert pushes.take() == []  # no repeat_s: once


async def test_a_failing_notifier_does_not_undo_the_escalation(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    ticket = await open_ticket(db, estate, T)

    async def broken(staff: list[int], ticket: Ticket, level: int, reason: str) -> None:
        raise OSError("push service down")

    async with db() as session, session.begin():
        pushes = await escalate(session, at(2), broken)
    assert [p.level for p in pushes] == [1]
    assert len(await escalation_audit(db, ticket)) == 1


def test_the_ladder_is_checked() -> None:
    table = load_ladders()
    assert [s.level for s in table.default.steps] == [1, 2, 3]
    assert table.ladder_for("anywhere") is table.default


def test_a_ladder_with_a_repeated_level_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "escalation.toml"
    path.write_text("[default]\n[[default.step]]\nlevel = 1\nclock = \"ack\"\nnotify = [\"manager\"]\n"
                    "[[default.step]]\nlevel = 1\nclock = \"on_site\"\nnotify = [\"manager\"]\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match="once"):
        load_ladders(path)
