"""The sender against web-push-testing (npm), a push-service emulator that checks the VAPID
signature and decrypts the payload itself."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.push.keys import generate_key_pair
from server.push.models import PushDelivery, PushSubscription, VapidKey
from server.push.sender import PushSender
from tests.push.conftest import Emulator, current_user, enqueue, make_ticket, subscribe, vapid_keys

Sessions = async_sessionmaker[AsyncSession]


async def _row(sessions: Sessions) -> PushDelivery:
    async with sessions() as session:
        return (await session.scalars(select(PushDelivery))).one()


async def test_emulator_decrypts_what_was_enqueued(sessions: Sessions, sender: PushSender, emulator: Emulator,
                                                   now: datetime) -> None:
    subscription = await emulator.subscribe((await vapid_keys(sessions)).public_key)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, subscription)
    ticket = await make_ticket(sessions)
    _, payload = await enqueue(sessions, ticket, spec1, now=now)

    assert await sender.send_due(now) == 1

    row = await _row(sessions)
    assert (row.status, row.http_status) == ("sent", 201), row.error
    assert await emulator.messages(subscription["clientHash"]) == [msgspec.to_builtins(payload)]


async def test_emulator_refuses_a_foreign_vapid_key(sessions: Sessions, sender: PushSender,
                                                    emulator: Emulator, now: datetime) -> None:
    """A subscription made for another server's key: the emulator's signature check says no."""
    subscription = await emulator.subscribe(generate_key_pair().public_key)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, subscription)
    await enqueue(sessions, await make_ticket(sessions), spec1, now=now)

    await sender.send_due(now)

    row = await _row(sessions)
    assert (row.status, row.http_status) == ("failed", 400)
    assert "Crypto-Key" in (row.error or "")  # the emulator's words for "k is not your key"
    assert await emulator.messages(subscription["clientHash"]) == []


async def test_emulator_checks_the_jwt_signature(sessions: Sessions, emulator: Emulator,
                                                 now: datetime) -> None:
    """Right public key in `k`, token signed by another private key: refused, nothing delivered."""
    subscription = await emulator.subscribe((await vapid_keys(sessions)).public_key)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, subscription)
    await enqueue(sessions, await make_ticket(sessions), spec1, now=now)
    async with sessions() as session, session.begin():
        await session.execute(update(VapidKey).values(private_key_pem=generate_key_pair().private_key_pem))
    forger = PushSender(sessions)
    try:
        await forger.send_due(now)
    finally:
        await forger.aclose()

    row = await _row(sessions)
    assert (row.status, row.http_status) == ("failed", 400)
    assert "authentication token" in (row.error or "")
    assert await emulator.messages(subscription["clientHash"]) == []


async def test_expired_subscription_answers_410_and_is_removed(sessions: Sessions, sender: PushSender,
                                                               emulator: Emulator, now: datetime) -> None:
    subscription = await emulator.subscribe((await vapid_keys(sessions)).public_key)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, subscription)
    await emulator.expire(subscription["clientHash"])
    ticket = await make_ticket(sessions)
    await enqueue(sessions, ticket, spec1, now=now)

    await sender.send_due(now)

    row = await _row(sessions)
    assert (row.status, row.http_status, row.subscription_id) == ("gone", 410, None)
    async with sessions() as session:
        assert (await session.scalars(select(PushSubscription))).all() == []
    assert (await enqueue(sessions, ticket, spec1, step="escalated:1", now=now))[0] == 0
