"""The background sender: woken by a committed enqueue, survives errors, stops with the app."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.app import create_app
from server.push import runner
from server.push.runner import push_lifespan, run_sender
from tests.conftest import login, make_settings
from tests.push.conftest import current_user, enqueue, make_ticket, with_push_routes
from tests.push.receiver import PushReceiver


async def _until(condition: Callable[[], bool | Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_commit_wakes_the_sender(tmp_path: Path, demo_database_url: str, receiver: PushReceiver,
                                       sessions: async_sessionmaker[AsyncSession],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Polling so slow that only the wake-up can deliver within the deadline.
    monkeypatch.setattr(runner, "POLL_SECONDS", 120.0)
    app = with_push_routes(create_app(make_settings(tmp_path, demo_database_url), background=[push_lifespan]))
    async with AsyncTestClient(app=app) as client:
        headers = await login(client, "spec1")
        # The key the app made at start is the one the receiver trusts (same database).
        key = (await client.get("/api/push/vapid-public-key", headers=headers)).json()["public_key"]
        assert key == receiver.vapid_public_key
        subscribed = await client.post("/api/push/subscriptions", json=receiver.subscription(),
                                       headers=headers)
        assert subscribed.status_code == 200
        ticket = await make_ticket(sessions)
        await enqueue(sessions, ticket, await current_user(sessions, "spec1"))

        await _until(lambda: len(receiver.accepted()) == 1)

        assert receiver.received[0].problem is None

        async def logged_as_sent() -> bool:
            log = (await client.get(f"/api/tickets/{ticket.id}/deliveries", headers=headers)).json()
            return [d["status"] for d in log["items"]] == ["sent"]

        await _until(logged_as_sent)
        assert len(receiver.received) == 1


async def test_the_loop_survives_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "ERROR_PAUSE_SECONDS", 0.0)
    monkeypatch.setattr(runner, "POLL_SECONDS", 0.01)
    calls: list[datetime | None] = []

    class FlakySender:
        batch_size = 50

        async def send_due(self, now: datetime | None = None) -> int:
            calls.append(now)
            if len(calls) == 1:
                raise RuntimeError("database went away")
            return 0

    task = asyncio.create_task(run_sender(FlakySender(), asyncio.Event()))  # type: ignore[arg-type]
    try:
        await _until(lambda: len(calls) >= 3)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_stopping_lets_the_batch_in_flight_finish() -> None:
    """A cancelled batch would strand rows in 'sending' (never resent); stopping waits for it."""
    started, release, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    class SlowSender:
        batch_size = 50

        async def send_due(self, now: datetime | None = None) -> int:
            started.set()
            await release.wait()
            finished.append(1)
            return 1

    task = asyncio.create_task(run_sender(SlowSender(), asyncio.Event(), stop))  # type: ignore[arg-type]
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    release.set()
    await asyncio.wait_for(task, 5)
    assert finished == [1]
