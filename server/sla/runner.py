"""The SLA sweep in the background: record breaches and escalate, once a second.

The lead adds ``sla_lifespan`` to ``fieldops serve``'s background list. Every server
process may run it: breaches and escalations are claimed in the database, not in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import utcnow
from server.push.service import enqueue_ticket_step
from server.sla.breaches import Breach, evaluate
from server.sla.escalation import Notify, Push, escalate
from server.tickets.models import Ticket

log = logging.getLogger("fieldops.sla")

INTERVAL_S = 1.0
BACKOFF_S = 10.0  # after an error: keep going, without filling the log every second


async def _no_push(_staff: list[int], _ticket: Ticket, _level: int, _reason: str) -> None:
    return None


def breach_counter(metrics: Any) -> Callable[[Breach], None] | None:
    """Count breaches on ``metrics.sla_breaches`` (labels clock, announced) when the app has it."""
    counter = getattr(metrics, "sla_breaches", None)
    if counter is None:
        return None

    def count(breach: Breach) -> None:
        counter.labels(clock=str(breach.clock), announced=str(breach.announced).lower()).inc()

    return count


def escalation_counter(metrics: Any) -> Callable[[Push], None] | None:
    """Count pushes on ``metrics.sla_escalations`` (label level) when the app has it."""
    counter = getattr(metrics, "sla_escalations", None)
    if counter is None:
        return None
    return lambda push: counter.labels(level=str(push.level)).inc()


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    notify: Notify,
    *,
    on_breach: Callable[[Breach], None] | None = None,
    on_push: Callable[[Push], None] | None = None,
    wake: Callable[[], None] | None = None,
) -> tuple[list[Breach], list[Push]]:
    """One pass in one transaction: breaches, escalations and their pushes commit together."""
    async with sessionmaker() as session, session.begin():
        breaches = await evaluate(session, now)
        pushes = await escalate(session, now, _no_push)
        for push in pushes:
            # One delivery per (ticket, clock, level, repeat): repeats are new pushes, retries are not.
            step = f"escalated:{push.clock}:{push.level}:{push.repeat}"
            await enqueue_ticket_step(
                session, push.ticket, user_ids=push.staff_ids, step=step, body=push.text, now=now
            )
    for breach in breaches:
        if on_breach is not None:
            on_breach(breach)
    for push in pushes:
        if on_push is not None:
            on_push(push)
        try:
            await notify(push.staff_ids, push.ticket, push.level, push.reason)
        except Exception:
            log.exception("escalation hook for ticket %s level %s failed", push.ticket.id, push.level)
    if pushes and wake is not None:
        wake()
    return breaches, pushes


@asynccontextmanager
async def sla_lifespan(app: Any) -> AsyncIterator[None]:
    """Run the sweep while the app runs (a ``Background`` for ``create_app``)."""
    task = asyncio.create_task(_run(app), name="fieldops-sla")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _run(app: Any) -> None:
    state = app.state
    metrics = getattr(state, "metrics", None)
    on_breach, on_push = breach_counter(metrics), escalation_counter(metrics)
    while True:
        clock: Callable[[], datetime] = getattr(state, "clock", None) or utcnow
        notify: Notify = getattr(state, "notify", None) or _no_push
        try:
            push_wake = getattr(state, "push_wake", None)
            await sweep(
                state.sessionmaker,
                clock(),
                notify,
                on_breach=on_breach,
                on_push=on_push,
                wake=push_wake.set if push_wake is not None else None,
            )
        except Exception:
            log.exception("SLA sweep failed; retrying in %.0f s", BACKOFF_S)
            await asyncio.sleep(BACKOFF_S)
            continue
        await asyncio.sleep(INTERVAL_S)
