"""Push fixtures: the web-push-testing emulator, the Python receiver, tickets and subscribers."""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.auth.models import StaffUser
from server.auth.schemas import CurrentUser
from server.auth.service import load_current_user
from server.db import utcnow
from server.estates.models import Building, Site
from server.push import service
from server.push.keys import VapidKeyPair, ensure_vapid_key
from server.push.routes import PushController, TicketDeliveryController
from server.push.schemas import PushPayload, SubscriptionCreate, SubscriptionKeys
from server.push.sender import PushSender
from server.tickets.models import Ticket
from tests.conftest import IN_CI
from tests.push.receiver import PushReceiver

HERE = Path(__file__).resolve().parent
EMULATOR_PACKAGE = HERE / "node_modules" / "web-push-testing"
INSTALL_HINT = "npm ci --prefix tests/push"


def with_push_routes(app: Litestar) -> Litestar:
    """The app with the push routes, whether or not create_app registers them yet."""
    paths = {route.path for route in app.routes}
    if "/api/push/subscriptions" not in paths:
        app.register(PushController)
    if "/api/tickets/{ticket_id:int}/deliveries" not in paths:
        app.register(TicketDeliveryController)
    return app


# --- the npm emulator ---------------------------------------------------------------------

class Emulator:
    """web-push-testing on 127.0.0.1: subscribe with a VAPID key, read decrypted messages."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            response = await client.post(self.base + path, json=body)
        response.raise_for_status()
        return response

    async def subscribe(self, application_server_key: str) -> dict[str, Any]:
        """A subscription as the emulator's browser side makes it (endpoint, keys, clientHash)."""
        # userVisibleOnly must be the string 'true' for this emulator (measured.md).
        response = await self._post("/subscribe", {"userVisibleOnly": "true",
                                                   "applicationServerKey": application_server_key})
        data: dict[str, Any] = response.json()["data"]
        return data

    async def expire(self, client_hash: str) -> None:
        """Make the subscription answer 410 from now on."""
        await self._post(f"/expire-subscription/{client_hash}")

    async def messages(self, client_hash: str) -> list[dict[str, Any]]:
        """Payloads the emulator accepted for this subscription, decrypted, as JSON."""
        response = await self._post("/get-notifications", {"clientHash": client_hash})
        return [json.loads(m) for m in response.json()["data"]["messages"]]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The npm push-service emulator; skipped locally when not installed, fatal in CI."""
    node = shutil.which("node")
    if node is None or not EMULATOR_PACKAGE.is_dir():
        reason = f"web-push-testing is not installed (node: {node or 'missing'}); run `{INSTALL_HINT}`"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    log_path = tmp_path_factory.mktemp("emulator") / "emulator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([node, str(HERE / "emulator.js"), "0"], cwd=HERE,
                                   stdout=subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            deadline = time.monotonic() + 20
            line = b""
            while not line.startswith(b"listening") and time.monotonic() < deadline:
                ready, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
                if not ready:
                    break
                line = process.stdout.readline()
                if not line:  # exited
                    break
            if not line.startswith(b"listening"):
                pytest.fail(f"web-push-testing did not start: {log_path.read_text()}")
            yield Emulator(int(line.split()[1]))
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- database helpers ---------------------------------------------------------------------

@pytest.fixture
def sessions(db: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """The test's sessionmaker on the demo database (SQLite and PostgreSQL)."""
    return db


async def vapid_keys(sessions: async_sessionmaker[AsyncSession]) -> VapidKeyPair:
    async with sessions() as session, session.begin():
        return await ensure_vapid_key(session)


async def current_user(sessions: async_sessionmaker[AsyncSession], username: str) -> CurrentUser:
    async with sessions() as session:
        user_id = await session.scalar(sql_select(StaffUser.id).where(StaffUser.username == username))
        assert user_id is not None
        user = await load_current_user(session, user_id)
        assert user is not None
        return user


async def make_ticket(sessions: async_sessionmaker[AsyncSession], *, severity: str = "critical",
                      building: str = "b1", title: str = "电梯困人 1#楼 1号梯") -> Ticket:
    async with sessions() as session, session.begin():
        site_id = await session.scalar(sql_select(Site.id).limit(1))
        building_id = await session.scalar(sql_select(Building.id).where(Building.slug == building))
        assert site_id is not None
        assert building_id is not None
        ticket = Ticket(site_id=site_id, building_id=building_id, kind="alarm", type="elevator.trapped",
                        severity=severity, title=title, description="1号梯 12层 困人，请立即到场")
        session.add(ticket)
        await session.flush()
        return ticket


async def subscribe(sessions: async_sessionmaker[AsyncSession], user: CurrentUser,
                    subscription: dict[str, Any], label: str | None = None) -> int:
    keys = SubscriptionKeys(p256dh=subscription["keys"]["p256dh"], auth=subscription["keys"]["auth"])
    data = SubscriptionCreate(endpoint=subscription["endpoint"], label=label, keys=keys)
    async with sessions() as session, session.begin():
        return (await service.subscribe(session, user, data)).id


async def enqueue(sessions: async_sessionmaker[AsyncSession], ticket: Ticket, user: CurrentUser, *,
                  step: str = "dispatched", now: datetime | None = None, ttl: int = 3600,
                  urgency: str | None = None) -> tuple[int, PushPayload]:
    payload = service.build_payload(ticket, step=step, at=now)
    async with sessions() as session, session.begin():
        count = await service.enqueue(session, user_ids=[user.id], ticket_id=ticket.id, step=step,
                                      payload=payload, ttl=ttl, now=now,
                                      urgency=urgency or service.urgency_for(ticket.severity))
    return count, payload


@pytest.fixture
async def sender(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[PushSender]:
    push_sender = PushSender(sessions)
    yield push_sender
    await push_sender.aclose()


@pytest.fixture
async def receiver(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[PushReceiver]:
    keys = await vapid_keys(sessions)
    push_receiver = PushReceiver(keys.public_key)
    await push_receiver.start()
    yield push_receiver
    await push_receiver.stop()


@pytest.fixture
def now() -> datetime:
    """The controlled clock's start: tests move it forward by passing later times."""
    return utcnow()
