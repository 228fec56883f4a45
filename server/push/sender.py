"""Sends due pushes: claim, encrypt (``webpush``), sign VAPID, POST, record the outcome.

Delivery semantics (docs/push.md): a row is marked 'sending' and committed *before* its
HTTP request, and only a 'pending' row is ever claimed. A process that dies between the
request and recording the answer leaves the row 'sending'; after SENDING_TIMEOUT it is
marked 'failed' (outcome unknown; swept at start-up, then at most once a minute) and never
resent. So each (ticket, step, subscription) goes on the wire at most once per attempt,
and a new attempt follows only an answer that says the push service did not take it
(429, 5xx) or a transport error.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webpush import WebPush
from webpush.types import WebPushKeys, WebPushSubscription

from server.db import utcnow, write_session
from server.push.keys import DEFAULT_SUBJECT, VapidKeyPair, b64url, ensure_vapid_key
from server.push.models import DeliveryStatus, PushDelivery, PushSubscription

log = logging.getLogger("fieldops.push")

# Longer than any HTTP attempt can take (timeout below): a 'sending' row this old belongs
# to a sender that died mid-request.
SENDING_TIMEOUT = timedelta(minutes=5)
# The sender wakes on every enqueue and every second; sweeping for interrupted rows each
# time cost an extra write transaction on the alarm path. Abandoning a row a minute late
# is harmless next to SENDING_TIMEOUT, so the sweep runs at most this often (seconds).
ABANDON_INTERVAL = 60.0
VAPID_TOKEN_LIFETIME = 12 * 3600  # RFC 8292: at most 24 h; services reject longer
_SENT = frozenset({200, 201, 202})
_GONE = frozenset({404, 410})  # RFC 8030 §7.3: the subscription has expired


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for 429, 5xx and transport errors."""

    max_attempts: int = 6
    base_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(minutes=10)
    max_retry_after: timedelta = timedelta(hours=1)  # a longer Retry-After is capped

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: 5 s, 10 s, 20 s …"""
        return min(self.base_delay * (2 ** max(attempts - 1, 0)), self.max_delay)


@dataclass(frozen=True)
class _Claimed:
    id: int
    ticket_id: int
    step: str
    payload: dict[str, Any]
    urgency: str
    ttl: int
    attempts: int  # including this one
    created_at: datetime
    subscription_id: int | None
    endpoint: str | None
    p256dh: str | None
    auth: str | None


@dataclass(frozen=True)
class _Outcome:
    status: DeliveryStatus  # SENT, GONE, FAILED, or PENDING for "try again"
    http_status: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None


def vapid_origin(endpoint: str) -> str:
    """The JWT ``aud``: the endpoint's origin, with its port unless the scheme's default.

    webpush 1.0.6 drops the port (measured.md); a push service on a non-default port
    then rejects the token, so the sender signs its own.
    """
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def vapid_authorization(keys: VapidKeyPair, endpoint: str, now: float | None = None) -> str:
    """``Authorization: vapid t=<ES256 JWT>, k=<public key>`` (RFC 8292 §3)."""
    issued = int(time.time() if now is None else now)
    claims = {"aud": vapid_origin(endpoint), "exp": issued + VAPID_TOKEN_LIFETIME, "sub": keys.subject}
    token = jwt.encode(claims, keys.private_key, algorithm="ES256")
    return f"vapid t={token}, k={keys.public_key}"


def push_topic(ticket_id: int, step: str) -> str:
    """RFC 8030 Topic (≤ 32 base64url characters): a resend replaces a copy still queued."""
    return b64url(hashlib.sha256(f"{ticket_id}:{step}".encode()).digest())[:32]


def _retry_after(response: httpx.Response, now: datetime) -> timedelta | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    if raw.strip().isdigit():
        return timedelta(seconds=int(raw))
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when - now, timedelta(0)) if when.tzinfo else None


class PushSender:
    """Sends the deliveries that are due. Safe to run in several processes at once."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy | None = None,
        batch_size: int = 50,
        concurrency: int = 8,
        timeout: float = 10.0,
        subject: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``subject`` overrides the stored VAPID contact (a ``mailto:`` or ``https:`` URI).

        ``monotonic`` paces the sweep for interrupted sends (tests pass a fake clock).
        """
        if subject is not None and not subject.startswith(("mailto:", "https:")):
            raise ValueError("the VAPID subject must be a mailto: or https: URI")
        self._sessionmaker = sessionmaker
        self._owns_client = client is None
        # No redirects: a push service answers, it does not send us elsewhere.
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self._concurrency = concurrency
        self._subject = subject
        self._keys: VapidKeyPair | None = None
        self._webpush: Any = None
        self._monotonic = monotonic
        self._abandoned_at: float | None = None  # None: not yet run, so the first wake runs it

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def send_due(self, now: datetime | None = None) -> int:
        """Attempt every delivery due at ``now``; return how many were attempted.

        Each outcome is committed on its own row as soon as it is known.
        """
        now = now or utcnow()
        await self._load_keys()  # before claiming: a failure here must not strand claimed rows
        # A monotonic clock, not ``now``: a wall-clock step back must not stall the sweep.
        # Recorded only after it succeeds, so a failed sweep is retried on the next wake.
        tick = self._monotonic()
        if self._abandoned_at is None or tick - self._abandoned_at >= ABANDON_INTERVAL:
            await self._abandon_interrupted(now)
            self._abandoned_at = tick
        claimed = await self._claim(now)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def one(delivery: _Claimed) -> None:
            async with gate:
                outcome = await self._attempt(delivery, now)
                await self._record(delivery, outcome, now)

        results = await asyncio.gather(*(one(c) for c in claimed), return_exceptions=True)
        for delivery, result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                # Left 'sending': abandoned later as outcome unknown, never resent.
                log.error("push delivery %s: recording failed", delivery.id, exc_info=result)
        return len(claimed)

    # --- claiming -------------------------------------------------------------------

    async def _abandon_interrupted(self, now: datetime) -> None:
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(
                update(PushDelivery)
                .where(PushDelivery.status == DeliveryStatus.SENDING,
                       PushDelivery.claimed_at < now - SENDING_TIMEOUT)
                .values(status=DeliveryStatus.FAILED, next_attempt_at=None,
                        error="outcome unknown: the sender stopped during the request; "
                              "not resent (at most once)")
                .execution_options(synchronize_session=False)
            )
            abandoned = getattr(result, "rowcount", 0)
            if abandoned:
                log.warning("push: %s interrupted deliveries marked failed", abandoned)

    async def _claim(self, now: datetime) -> list[_Claimed]:
        """Mark up to batch_size due rows 'sending' and commit, so no other sender takes them.

        PostgreSQL: the sub-select locks with SKIP LOCKED, so concurrent senders take
        disjoint rows. SQLite renders no FOR UPDATE; its single writer serialises the
        UPDATE, and ``status = 'pending'`` in it keeps a row from being claimed twice.
        """
        due = (
            select(PushDelivery.id)
            .where(PushDelivery.status == DeliveryStatus.PENDING, PushDelivery.next_attempt_at <= now)
            .order_by(PushDelivery.next_attempt_at, PushDelivery.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        async with write_session(self._sessionmaker) as session:
            ids = list(await session.scalars(
                update(PushDelivery)
                .where(PushDelivery.id.in_(due.scalar_subquery()),
                       PushDelivery.status == DeliveryStatus.PENDING)
                .values(status=DeliveryStatus.SENDING, attempts=PushDelivery.attempts + 1,
                        claimed_at=now)
                .returning(PushDelivery.id)
                .execution_options(synchronize_session=False)
            ))
            if not ids:
                return []
            rows = await session.execute(
                select(PushDelivery, PushSubscription)
                .outerjoin(PushSubscription, PushSubscription.id == PushDelivery.subscription_id)
                .where(PushDelivery.id.in_(ids))
                .order_by(PushDelivery.id)
                .execution_options(populate_existing=True)
            )
            return [
                _Claimed(id=d.id, ticket_id=d.ticket_id, step=d.step, payload=d.payload,
                         urgency=d.urgency, ttl=d.ttl, attempts=d.attempts, created_at=d.created_at,
                         subscription_id=s.id if s else None, endpoint=s.endpoint if s else None,
                         p256dh=s.p256dh if s else None, auth=s.auth if s else None)
                for d, s in rows
            ]

    async def _load_keys(self) -> None:
        if self._keys is None:
            async with self._sessionmaker() as session, session.begin():
                keys = await ensure_vapid_key(session, self._subject or DEFAULT_SUBJECT)
            self._keys = replace(keys, subject=self._subject) if self._subject else keys
            # webpush only encrypts here; its own VAPID header (port-less aud) is replaced.
            self._webpush = WebPush(private_key=self._keys.private_key_pem.encode(),
                                    public_key=self._keys.public_key_pem,
                                    subscriber=self._keys.subject.removeprefix("mailto:"))

    # --- one attempt ----------------------------------------------------------------

    def _encrypt(self, delivery: _Claimed) -> bytes:
        subscription = WebPushSubscription(
            endpoint=delivery.endpoint,  # pydantic parses the str into a URL
            keys=WebPushKeys(p256dh=delivery.p256dh or "", auth=delivery.auth or ""))
        body = msgspec.json.encode(delivery.payload)
        encrypted: bytes = self._webpush.get(body, subscription).encrypted
        return encrypted

    async def _attempt(self, delivery: _Claimed, now: datetime) -> _Outcome:
        if delivery.endpoint is None:
            return _Outcome(DeliveryStatus.GONE, error="subscription removed before sending")
        elapsed = max(int((now - delivery.created_at).total_seconds()), 0)
        if delivery.ttl and elapsed >= delivery.ttl:
            return _Outcome(DeliveryStatus.FAILED, error="TTL passed before it could be sent")
        assert self._keys is not None
        try:
            body = self._encrypt(delivery)
            headers = {
                "Authorization": vapid_authorization(self._keys, delivery.endpoint),
                "Content-Encoding": "aes128gcm",
                # webpush sets none; some services (and web-push-testing) need it.
                "Content-Type": "application/octet-stream",
                # What is left of the TTL: a retry must not outlive the original promise.
                "TTL": str(max(delivery.ttl - elapsed, 0)),
                "Urgency": delivery.urgency,
                "Topic": push_topic(delivery.ticket_id, delivery.step),
            }
        except Exception as exc:  # bad stored keys: nothing a retry would fix
            log.warning("push delivery %s: cannot encrypt: %s", delivery.id, exc)
            return _Outcome(DeliveryStatus.FAILED, error=f"cannot encrypt: {exc}"[:500])
        try:
            response = await self._client.post(delivery.endpoint, content=body, headers=headers)
        except httpx.TransportError as exc:
            return _Outcome(DeliveryStatus.PENDING, error=f"{type(exc).__name__}: {exc}"[:500])
        code = response.status_code
        if code in _SENT:
            return _Outcome(DeliveryStatus.SENT, http_status=code)
        detail = f"HTTP {code}: {response.text[:300]}"
        if code in _GONE:
            return _Outcome(DeliveryStatus.GONE, http_status=code, error=detail)
        if code == 429 or code >= 500:
            return _Outcome(DeliveryStatus.PENDING, http_status=code, error=detail,
                            retry_after=_retry_after(response, now) if code in (429, 503) else None)
        # 400 (bad headers), 401/403 (VAPID refused), 413 (too big): a retry cannot help.
        return _Outcome(DeliveryStatus.FAILED, http_status=code, error=detail)

    # --- recording --------------------------------------------------------------------

    async def _record(self, delivery: _Claimed, outcome: _Outcome, now: datetime) -> None:
        values: dict[str, Any] = {"http_status": outcome.http_status, "error": outcome.error,
                                  "next_attempt_at": None, "status": outcome.status}
        subscription_change: dict[str, Any] | None = None
        if outcome.status is DeliveryStatus.SENT:
            values["sent_at"] = now
            subscription_change = {"last_success_at": now, "failures": 0}
        elif outcome.status is DeliveryStatus.PENDING:
            subscription_change = {"failures": PushSubscription.failures + 1}
            values.update(self._next_attempt(delivery, outcome, now))
        async with write_session(self._sessionmaker) as session:
            result = await session.execute(
                update(PushDelivery)
                .where(PushDelivery.id == delivery.id, PushDelivery.status == DeliveryStatus.SENDING)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                log.warning("push delivery %s: no longer 'sending'; outcome %s not recorded",
                            delivery.id, outcome.status)
                return
            if delivery.subscription_id is None:
                return
            if outcome.status is DeliveryStatus.GONE:
                # Its other pending rows lose their subscription (SET NULL) and end 'gone'.
                await session.execute(
                    delete(PushSubscription).where(PushSubscription.id == delivery.subscription_id))
                log.info("push: subscription %s is gone (%s); removed",
                         delivery.subscription_id, outcome.http_status)
            elif subscription_change:
                await session.execute(
                    update(PushSubscription).where(PushSubscription.id == delivery.subscription_id)
                    .values(**subscription_change).execution_options(synchronize_session=False))

    def _next_attempt(self, delivery: _Claimed, outcome: _Outcome, now: datetime) -> dict[str, Any]:
        """When to try again, or 'failed' when attempts or the TTL run out."""
        if delivery.attempts >= self.policy.max_attempts:
            return {"status": DeliveryStatus.FAILED,
                    "error": f"gave up after {delivery.attempts} attempts; last: {outcome.error}"}
        wait = self.policy.delay(delivery.attempts)
        if outcome.retry_after is not None:  # the service said when: honour it
            wait = min(outcome.retry_after, self.policy.max_retry_after)
        at = now + wait
        if delivery.ttl and at >= delivery.created_at + timedelta(seconds=delivery.ttl):
            return {"status": DeliveryStatus.FAILED,
                    "error": f"TTL ends before the next attempt; last: {outcome.error}"}
        return {"status": DeliveryStatus.PENDING, "next_attempt_at": at}
