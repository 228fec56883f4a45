"""The sender against a push service in the test that verifies VAPID and decrypts (receiver.py).

The clock is controlled: each send_due gets its `now`, so backoff is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime, timedelta
from email.utils import format_datetime

import httpx
import msgspec
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webpush import WebPush
from webpush.types import WebPushKeys, WebPushSubscription

from server.push.models import PushDelivery, PushSubscription
from server.push.sender import ABANDON_INTERVAL, SENDING_TIMEOUT, PushSender, RetryPolicy, vapid_origin
from tests.push.conftest import current_user, enqueue, make_ticket, subscribe, vapid_keys
from tests.push.receiver import PushReceiver, Reply

Sessions = async_sessionmaker[AsyncSession]


async def deliveries(sessions: Sessions) -> list[PushDelivery]:
    async with sessions() as session:
        return list(await session.scalars(select(PushDelivery).order_by(PushDelivery.id)))


async def subscriptions(sessions: Sessions) -> list[PushSubscription]:
    async with sessions() as session:
        return list(await session.scalars(select(PushSubscription).order_by(PushSubscription.id)))


async def test_critical_push_is_signed_encrypted_and_urgent(
        sessions: Sessions, sender: PushSender, receiver: PushReceiver, now: datetime) -> None:
    ticket = await make_ticket(sessions, severity="critical")
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription(), label="phone")
    count, payload = await enqueue(sessions, ticket, spec1, now=now)
    assert count == 1

    assert await sender.send_due(now) == 1

    [push] = receiver.received
    assert push.problem is None
    assert push.status == 201
    assert push.payload == msgspec.to_builtins(payload)  # decrypted with the subscription's key
    assert push.payload["require_interaction"] is True
    assert push.claims is not None
    assert push.claims["aud"] == receiver.origin
    assert push.headers["urgency"] == "high"
    assert push.headers["ttl"] == "3600"
    assert 0 < len(push.headers["topic"]) <= 32
    [row] = await deliveries(sessions)
    assert (row.status, row.http_status, row.attempts, row.sent_at, row.error) == ("sent", 201, 1, now, None)
    [sub] = await subscriptions(sessions)
    assert sub.last_success_at == now
    assert sub.failures == 0
    assert await sender.send_due(now + timedelta(hours=1)) == 0  # nothing left, nothing resent
    assert (await enqueue(sessions, ticket, spec1, now=now))[0] == 0  # the same step never again


async def test_normal_ticket_gets_normal_urgency_and_its_ttl(
        sessions: Sessions, sender: PushSender, receiver: PushReceiver, now: datetime) -> None:
    ticket = await make_ticket(sessions, severity="normal", title="报修：厨房水龙头漏水")
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    await enqueue(sessions, ticket, spec1, now=now, ttl=600)
    await sender.send_due(now)
    [push] = receiver.received
    assert push.problem is None
    assert push.headers["urgency"] == "normal"
    assert push.headers["ttl"] == "600"
    assert push.payload is not None
    assert push.payload["require_interaction"] is False


async def test_410_removes_the_subscription_and_it_is_never_tried_again(
        sessions: Sessions, sender: PushSender, receiver: PushReceiver, now: datetime) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    await enqueue(sessions, ticket, spec1, step="dispatched", now=now)
    # A second push for the same phone, due later: it must not go out after the 410.
    await enqueue(sessions, ticket, spec1, step="escalated:1", now=now + timedelta(seconds=30))
    receiver.script = [Reply(410)]

    assert await sender.send_due(now) == 1
    assert await subscriptions(sessions) == []
    assert await sender.send_due(now + timedelta(seconds=30)) == 1  # ends 'gone' without HTTP
    assert len(receiver.received) == 1
    first, second = await deliveries(sessions)
    assert (first.status, first.http_status, first.subscription_id) == ("gone", 410, None)
    assert second.status == "gone"
    assert second.http_status is None
    assert "removed" in (second.error or "")
    assert (await enqueue(sessions, ticket, spec1, step="escalated:2", now=now))[0] == 0
    assert await sender.send_due(now + timedelta(hours=1)) == 0
    assert len(receiver.received) == 1


async def test_500_then_201_retries_once_and_delivers_exactly_once(
        sessions: Sessions, sender: PushSender, receiver: PushReceiver, now: datetime) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    _, payload = await enqueue(sessions, ticket, spec1, now=now)
    receiver.script = [Reply(500)]

    assert await sender.send_due(now) == 1
    [row] = await deliveries(sessions)
    assert (row.status, row.attempts, row.http_status) == ("pending", 1, 500)
    assert row.next_attempt_at == now + sender.policy.delay(1)
    assert (await subscriptions(sessions))[0].failures == 1

    assert await sender.send_due(now + sender.policy.delay(1) - timedelta(seconds=1)) == 0  # not yet
    later = now + sender.policy.delay(1)
    assert await sender.send_due(later) == 1
    assert await sender.send_due(later + timedelta(hours=1)) == 0

    assert [r.status for r in receiver.received] == [500, 201]
    assert all(r.problem is None and r.payload == msgspec.to_builtins(payload) for r in receiver.received)
    assert len(receiver.accepted()) == 1
    [row] = await deliveries(sessions)
    assert (row.status, row.attempts, row.http_status) == ("sent", 2, 201)
    assert (row.sent_at, row.error) == (later, None)
    assert (await subscriptions(sessions))[0].failures == 0
    # The retry's TTL is what is left of the original one.
    assert receiver.received[1].headers["ttl"] == str(3600 - int(sender.policy.delay(1).total_seconds()))


@pytest.mark.parametrize("retry_after", ["120", "http-date"])
async def test_429_honours_retry_after(sessions: Sessions, sender: PushSender, receiver: PushReceiver,
                                       now: datetime, retry_after: str) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    await enqueue(sessions, ticket, spec1, now=now)
    if not retry_after.isdigit():
        retry_after = format_datetime(now + timedelta(seconds=120), usegmt=True)
    receiver.script = [Reply(429, {"Retry-After": retry_after})]

    await sender.send_due(now)
    [row] = await deliveries(sessions)
    assert row.status == "pending"
    assert row.http_status == 429
    assert row.next_attempt_at is not None
    assert timedelta(seconds=119) < row.next_attempt_at - now <= timedelta(seconds=120)
    assert await sender.send_due(now + timedelta(seconds=119)) == 0
    assert await sender.send_due(now + timedelta(seconds=120)) == 1
    assert [r.status for r in receiver.received] == [429, 201]


async def test_gives_up_after_max_attempts(sessions: Sessions, receiver: PushReceiver, now: datetime) -> None:
    sender = PushSender(sessions, policy=RetryPolicy(max_attempts=3))
    try:
        ticket = await make_ticket(sessions)
        spec1 = await current_user(sessions, "spec1")
        await subscribe(sessions, spec1, receiver.subscription())
        await enqueue(sessions, ticket, spec1, now=now)
        receiver.script = [Reply(503)] * 5
        clock = now
        for _ in range(3):
            assert await sender.send_due(clock) == 1
            [row] = await deliveries(sessions)
            clock = row.next_attempt_at or clock
        assert (row.status, row.attempts) == ("failed", 3)
        assert "gave up after 3 attempts" in (row.error or "")
        assert await sender.send_due(clock + timedelta(hours=1)) == 0
        assert len(receiver.received) == 3
    finally:
        await sender.aclose()


async def test_no_retry_past_the_ttl(sessions: Sessions, sender: PushSender, receiver: PushReceiver,
                                     now: datetime) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    await enqueue(sessions, ticket, spec1, now=now, ttl=60)
    receiver.script = [Reply(429, {"Retry-After": "120"})]
    await sender.send_due(now)
    [row] = await deliveries(sessions)
    assert row.status == "failed"
    assert "TTL" in (row.error or "")


@pytest.mark.parametrize("status", [400, 401, 403, 413])
async def test_permanent_errors_are_not_retried(sessions: Sessions, sender: PushSender,
                                                receiver: PushReceiver, now: datetime, status: int) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    await enqueue(sessions, ticket, spec1, now=now)
    receiver.script = [Reply(status)]
    await sender.send_due(now)
    assert await sender.send_due(now + timedelta(hours=1)) == 0
    [row] = await deliveries(sessions)
    assert (row.status, row.http_status, row.attempts) == ("failed", status, 1)
    assert len(await subscriptions(sessions)) == 1  # only 404/410 remove a subscription


async def test_network_errors_are_retried(sessions: Sessions, sender: PushSender, receiver: PushReceiver,
                                          now: datetime) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    subscription = receiver.subscription()
    subscription["endpoint"] = f"http://127.0.0.1:{closed_port}/push/1"
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, subscription)
    await enqueue(sessions, ticket, spec1, now=now)
    assert await sender.send_due(now) == 1
    [row] = await deliveries(sessions)
    assert (row.status, row.attempts, row.http_status) == ("pending", 1, None)
    assert "Connect" in (row.error or "")
    assert row.next_attempt_at == now + sender.policy.delay(1)


async def _leave_sending(sessions: Sessions, now: datetime) -> None:
    """What a sender that died mid-request leaves."""
    async with sessions() as session, session.begin():
        await session.execute(update(PushDelivery).values(status="sending", attempts=1, claimed_at=now,
                                                           error=None))


async def test_a_send_interrupted_by_a_crash_is_not_resent(
        sessions: Sessions, receiver: PushReceiver, now: datetime) -> None:
    """At most once: a row left 'sending' may have reached the phone, so it is never sent again."""
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    await enqueue(sessions, ticket, spec1, now=now)
    await _leave_sending(sessions, now)
    elapsed = 0.0  # the sender's monotonic clock, moved along with `now`
    sender = PushSender(sessions, monotonic=lambda: elapsed)
    try:
        assert await sender.send_due(now + timedelta(minutes=1)) == 0
        assert (await deliveries(sessions))[0].status == "sending"  # maybe still in flight elsewhere
        elapsed = SENDING_TIMEOUT.total_seconds()
        assert await sender.send_due(now + SENDING_TIMEOUT + timedelta(seconds=1)) == 0
    finally:
        await sender.aclose()
    [row] = await deliveries(sessions)
    assert row.status == "failed"
    assert "outcome unknown" in (row.error or "")
    assert receiver.received == []


async def test_interrupted_sends_are_swept_at_start_up_then_at_most_once_a_minute(
        sessions: Sessions, receiver: PushReceiver, now: datetime) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    await subscribe(sessions, spec1, receiver.subscription())
    await enqueue(sessions, ticket, spec1, now=now)
    await _leave_sending(sessions, now)
    late = now + SENDING_TIMEOUT + timedelta(seconds=1)
    elapsed = 0.0
    running = PushSender(sessions, monotonic=lambda: elapsed)
    try:
        assert await running.send_due(now) == 0  # its start-up sweep: nothing is old enough yet
        elapsed = ABANDON_INTERVAL - 1
        assert await running.send_due(late) == 0
        assert (await deliveries(sessions))[0].status == "sending"  # swept under a minute ago
        elapsed = ABANDON_INTERVAL
        assert await running.send_due(late) == 0
        assert (await deliveries(sessions))[0].status == "failed"
    finally:
        await running.aclose()

    await _leave_sending(sessions, now)  # another crash; then the process restarts
    restarted = PushSender(sessions, monotonic=lambda: elapsed)
    try:
        assert await restarted.send_due(late) == 0  # the first wake sweeps at once
    finally:
        await restarted.aclose()
    [row] = await deliveries(sessions)
    assert row.status == "failed"
    assert "outcome unknown" in (row.error or "")
    assert receiver.received == []


async def test_concurrent_senders_send_each_push_once(sessions: Sessions, receiver: PushReceiver,
                                                      now: datetime) -> None:
    ticket = await make_ticket(sessions)
    spec1 = await current_user(sessions, "spec1")
    for _ in range(4):
        await subscribe(sessions, spec1, receiver.subscription())
    for step in ("dispatched", "escalated:1", "escalated:2"):
        await enqueue(sessions, ticket, spec1, step=step, now=now)
    senders = [PushSender(sessions, batch_size=2) for _ in range(3)]

    async def drain(sender: PushSender) -> int:
        total = 0
        while attempted := await sender.send_due(now):
            total += attempted
        return total

    try:
        totals = await asyncio.gather(*(drain(s) for s in senders))
    finally:
        for s in senders:
            await s.aclose()
    assert sum(totals) == 12
    assert len(receiver.received) == 12
    assert len(receiver.accepted()) == 12
    keys = {(r.path, r.payload["step"]) for r in receiver.received if r.payload}
    assert len(keys) == 12
    assert {d.status for d in await deliveries(sessions)} == {"sent"}


def test_vapid_audience_keeps_non_default_ports() -> None:
    assert vapid_origin("http://127.0.0.1:8090/notify/x") == "http://127.0.0.1:8090"
    assert vapid_origin("https://fcm.googleapis.com/fcm/send/x") == "https://fcm.googleapis.com"
    assert vapid_origin("https://push.example.com:443/x") == "https://push.example.com"
    assert vapid_origin("https://push.example.com:8443/x") == "https://push.example.com:8443"
    assert vapid_origin("https://[::1]:8443/x") == "https://[::1]:8443"


async def test_receiver_refuses_webpush_s_own_port_less_audience(sessions: Sessions,
                                                                 receiver: PushReceiver) -> None:
    """Why the sender signs its own VAPID JWT: webpush 1.0.6 drops the port from `aud`."""
    keys = await vapid_keys(sessions)
    subscription = receiver.subscription()
    webpush = WebPush(private_key=keys.private_key_pem.encode(), public_key=keys.public_key_pem,
                      subscriber="ops@example.com")
    message = webpush.get(b"{}", WebPushSubscription(endpoint=subscription["endpoint"],
                                                      keys=WebPushKeys(**subscription["keys"])))
    async with httpx.AsyncClient() as client:
        response = await client.post(subscription["endpoint"], content=message.encrypted,
                                     headers={**message.headers, "content-type": "application/octet-stream"})
    assert response.status_code == 400
    assert "Audience" in (receiver.received[0].problem or "")


async def test_vapid_subject_can_be_configured(sessions: Sessions, receiver: PushReceiver,
                                               now: datetime) -> None:
    with pytest.raises(ValueError, match="mailto"):
        PushSender(sessions, subject="ops@example.com")  # webpush would add mailto:; we do not guess
    sender = PushSender(sessions, subject="mailto:ops@xinwaitan.example.cn")
    try:
        spec1 = await current_user(sessions, "spec1")
        await subscribe(sessions, spec1, receiver.subscription())
        await enqueue(sessions, await make_ticket(sessions), spec1, now=now)
        await sender.send_due(now)
    finally:
        await sender.aclose()
    [push] = receiver.received
    assert push.problem is None
    assert push.claims is not None
    assert push.claims["sub"] == "mailto:ops@xinwaitan.example.cn"
