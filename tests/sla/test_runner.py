"""The background sweep: one transaction, counts and pushes after commit, runs with the app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.app import create_app
from server.sla.models import SlaBreach
from server.sla.runner import breach_counter, escalation_counter, sla_lifespan, sweep
from server.tickets.models import Ticket
from tests.conftest import make_settings
from tests.sla.conftest import Estate, local, open_ticket

T = local(2026, 11, 8, 3)


class Metrics:
    """What the lead adds to server/observability/metrics.py, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sla_breaches = Counter("fieldops_sla_breaches", "SLA breaches recorded",
                                    ["clock", "announced"], registry=self.registry)
        self.sla_escalations = Counter("fieldops_sla_escalations", "Escalation pushes",
                                       ["level"], registry=self.registry)

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


async def test_a_sweep_records_escalates_counts_and_pushes(
    db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    ticket = await open_ticket(db, estate, T)
    metrics = Metrics()
    pushed: list[tuple[list[int], int, int]] = []

    async def notify(staff: list[int], t: Ticket, level: int, reason: str) -> None:
        pushed.append((staff, t.id, level))

    counters = {"on_breach": breach_counter(metrics), "on_push": escalation_counter(metrics)}
    breaches, pushes = await sweep(db, T + timedelta(minutes=16), notify, **counters)
    assert {b.clock for b in breaches} == {"ack", "on_site"}
    assert [p.level for p in pushes] == [1, 2]
    # What the supervisor and the manager read on the phone: Chinese, the estate's wall clock.
    shanghai = ZoneInfo("Asia/Shanghai")
    ack_due, on_site_due = ((T + timedelta(minutes=m)).astimezone(shanghai) for m in (2, 15))
    assert [p.text for p in pushes] == [
        f"接警超时（时限 {ack_due:%m-%d %H:%M}）：紧急报警 2 分钟未接警，请客服主管接手处理",
        f"到场超时（时限 {on_site_due:%m-%d %H:%M}）：超过 15 分钟无人到场，请客服部经理督办",
    ]
    assert pushed == [([estate.staff["supervisor"]], ticket, 1), ([estate.staff["manager"]], ticket, 2)]
    assert metrics.value("fieldops_sla_breaches_total", clock="on_site", announced="false") == 1
    assert metrics.value("fieldops_sla_escalations_total", level="1") == 1
    await sweep(db, T + timedelta(minutes=16, seconds=1), notify, **counters)
    assert metrics.value("fieldops_sla_breaches_total", clock="on_site", announced="false") == 1
    assert len(pushed) == 2


def test_no_metric_no_counter() -> None:
    assert breach_counter(object()) is None
    assert escalation_counter(None) is None


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:  # noqa: ASYNC109
    """Poll until ``probe`` answers truthy (a deadline, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not (value := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s; last value {value!r}")
        await asyncio.sleep(0.05)
    return value


async def test_the_lifespan_sweeps_with_the_apps_clock_and_notifier(
    tmp_path: Path, demo_database_url: str, db: async_sessionmaker[AsyncSession], estate: Estate
) -> None:
    app = create_app(make_settings(tmp_path, demo_database_url), background=[sla_lifespan])
    now = {"at": T}
    app.state.clock = lambda: now["at"]
    pushed: list[int] = []

    async def notify(staff: list[int], t: Ticket, level: int, reason: str) -> None:
        pushed.append(level)

    app.state.notify = notify
    ticket = await open_ticket(db, estate, T)

    async def breaches() -> int:
        async with db() as session:
            return int(await session.scalar(
                select(func.count()).select_from(SlaBreach).where(SlaBreach.ticket_id == ticket)) or 0)

    async with AsyncTestClient(app=app):
        now["at"] = T + timedelta(minutes=20)
        assert await eventually(breaches) == 2

        async def pushed_any() -> bool:
            return bool(pushed)

        await eventually(pushed_any)
    assert 1 in pushed


async def test_the_loop_survives_a_failed_sweep(monkeypatch: Any) -> None:
    from types import SimpleNamespace

    from server.sla import runner

    calls: list[str] = []

    async def flaky(*_args: Any, **_kwargs: Any) -> tuple[list[Any], list[Any]]:
        calls.append("sweep")
        if len(calls) == 1:
            raise OSError("database restarting")
        return [], []

    monkeypatch.setattr(runner, "sweep", flaky)
    monkeypatch.setattr(runner, "BACKOFF_S", 0.0)
    monkeypatch.setattr(runner, "INTERVAL_S", 0.0)
    app = SimpleNamespace(state=SimpleNamespace(sessionmaker=None))
    async with runner.sla_lifespan(app):

        async def swept_again() -> bool:
            return len(calls) >= 3

        await eventually(swept_again)
