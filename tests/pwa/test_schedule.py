"""Compliance with a controlled clock: due, overdue, and missed patrols on the supervisor's report."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.patrols.config import Frequency, patrol_config
from server.patrols.models import Checkpoint
from server.patrols.schedule import due_by, period_of
from tests.conftest import login
from tests.pwa.conftest import Clock
from tests.pwa.support import batch, run_item, vacant_answers

SH = ZoneInfo("Asia/Shanghai")


def test_twice_a_month_means_one_by_mid_month_and_one_by_month_end() -> None:
    period = period_of(datetime(2026, 2, 10, 9, tzinfo=SH), "month", SH)
    assert period.start == datetime(2026, 2, 1, tzinfo=SH)
    assert period.end == datetime(2026, 3, 1, tzinfo=SH)
    twice = Frequency(times=2, per="month")
    assert due_by(period, twice, 0) == datetime(2026, 2, 15, tzinfo=SH)
    assert due_by(period, twice, 1) == datetime(2026, 3, 1, tzinfo=SH)
    assert due_by(period, twice, 2) is None
    # A checkpoint added on the 21st has the rest of the month for its two patrols.
    added = datetime(2026, 2, 21, 9, tzinfo=SH)
    assert due_by(period, twice, 0, since=added) == datetime(2026, 2, 25, 4, 30, tzinfo=SH)
    assert due_by(period, twice, 1, since=added) == datetime(2026, 3, 1, tzinfo=SH)
    week = period_of(datetime(2026, 2, 12, tzinfo=SH), "week", SH)
    assert week.start == datetime(2026, 2, 9, tzinfo=SH)  # a Monday


def test_a_site_overrides_the_schedule() -> None:
    config = patrol_config({"patrol_schedule": {"vacant_unit": {"times": 4}}})
    assert config.vacant_unit == Frequency(times=4, per="month")
    assert config.public_area == Frequency(times=1, per="day")  # the rest stays as shipped


async def test_a_unit_patrolled_once_in_a_month_is_missed(
    pclient: AsyncTestClient[Litestar], clock: Clock
) -> None:
    spec1 = await login(pclient, "spec1")
    points = (await pclient.get("/api/patrols/checkpoints", headers=spec1)).json()
    once, twice = [c for c in points if c["kind"] == "vacant_unit"][:2]
    january = datetime(2026, 1, 5, 10, tzinfo=SH)
    clock.now = january

    today = (await pclient.get("/api/patrols/today", headers=spec1)).json()["items"]
    mine = {i["checkpoint_id"]: i for i in today}
    assert mine[once["id"]]["due_by"].startswith("2026-01-16T12:00:00")  # half of 31 days
    assert mine[once["id"]]["overdue"] is False
    corridor = next(i for i in today if i["slug"] == "b1-f02-corridor")
    assert corridor["overdue"] is False  # daily, due by midnight

    runs = [
        run_item(once["tag"], january, vacant_answers()),
        run_item(twice["tag"], january, vacant_answers()),
        run_item(twice["tag"], january + timedelta(days=14), vacant_answers()),
    ]
    assert (
        await pclient.post("/api/patrols/sync", json=batch(runs, sent_at=january), headers=spec1)
    ).status_code == 200

    clock.now = datetime(2026, 1, 20, 9, tzinfo=SH)  # past mid-month: the second patrol is due
    today = {
        i["checkpoint_id"]: i
        for i in (await pclient.get("/api/patrols/today", headers=spec1)).json()["items"]
    }
    assert today[once["id"]]["done"] == 1
    assert today[once["id"]]["overdue"] is False  # due by month end
    assert twice["id"] not in today  # quota met

    clock.now = datetime(2026, 2, 3, 9, tzinfo=SH)
    supervisor = await login(pclient, "supervisor")
    report = await pclient.get(
        "/api/patrols/report",
        headers=supervisor,
        params={"building": "b1", "since": "2026-01-01T00:00:00+08:00", "until": "2026-02-01T00:00:00+08:00"},
    )
    assert report.status_code == 200, report.text
    body = report.json()
    missed_units = {m["checkpoint_id"]: m for m in body["missed"]}
    assert missed_units[once["id"]]["done"] == 1
    assert missed_units[once["id"]]["required"] == 2
    assert twice["id"] not in missed_units
    spec = next(s for s in body["specialists"] if s["username"] == "spec1")
    assert spec["runs"] == 3
    # Nobody walked the corridors: every January day is a missed public-area patrol.
    corridor_misses = [m for m in body["missed"] if m["slug"] == "b1-f02-corridor"]
    assert len(corridor_misses) == 31
    assert (
        await pclient.get("/api/patrols/report", headers=spec1, params={"building": "b1"})
    ).status_code == 403


async def test_a_checkpoint_added_late_in_the_month_is_not_overdue_on_its_first_day(
    pclient: AsyncTestClient[Litestar], pdb: async_sessionmaker[AsyncSession], clock: Clock
) -> None:
    spec1 = await login(pclient, "spec1")
    points = (await pclient.get("/api/patrols/checkpoints", headers=spec1)).json()
    new_unit, old_unit = [c for c in points if c["kind"] == "vacant_unit"][:2]
    clock.now = datetime(2026, 1, 27, 10, tzinfo=SH)
    async with pdb() as session, session.begin():  # handed over by the developer this morning
        checkpoint = await session.get(Checkpoint, new_unit["id"])
        assert checkpoint is not None
        checkpoint.created_at = datetime(2026, 1, 27, 8, tzinfo=SH)

    response = await pclient.get("/api/patrols/today", headers=spec1)
    today = {i["checkpoint_id"]: i for i in response.json()["items"]}
    assert today[new_unit["id"]]["overdue"] is False
    # Half of the 4 days 16 hours left in January: Thursday afternoon.
    assert today[new_unit["id"]]["due_by"].startswith("2026-01-29T16:00:00")
    assert today[old_unit["id"]]["overdue"] is True  # there since last year: mid-month has passed
