"""Subscriptions, enqueueing pushes in the caller's transaction, and the delivery log.

No web framework here: the dispatch and escalation code calls ``enqueue`` with its own session.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import StaffUser
from server.auth.schemas import CurrentUser
from server.db import upsert_insert, utcnow
from server.errors import NotFound
from server.push.keys import b64url_decode
from server.push.models import DeliveryStatus, PushDelivery, PushSubscription
from server.push.schemas import DeliveryLog, DeliveryRead, PushPayload, SubscriptionCreate, SubscriptionRead
from server.tickets import scope
from server.tickets.models import Severity, Ticket

URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 §5.3
MAX_TTL = 28 * 24 * 3600  # the longest push services keep a message (FCM: 4 weeks)
# Push services promise 4096 bytes of encrypted body; aes128gcm adds an 86-byte header,
# a 16-byte tag and a 1-byte delimiter (RFC 8291 §4), leaving this much JSON.
MAX_PAYLOAD_BYTES = 4096 - 86 - 16 - 1
_TITLE_CHARS = 100
_BODY_CHARS = 400  # Chinese text is 3 bytes a character in UTF-8


class SubscriptionInvalid(ValueError):
    """A subscription field the browser could not have sent; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- subscriptions ------------------------------------------------------------------

def check_subscription(endpoint: str, p256dh: str, auth: str) -> None:
    """Raise SubscriptionInvalid unless these are a real push endpoint and RFC 8291 keys.

    The server POSTs to the endpoint, so it must be https (push services are); plain http
    is allowed only to a loopback host, for a local push-service emulator.
    """
    parts = urlsplit(endpoint)
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise SubscriptionInvalid("endpoint", "must be an absolute https URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise SubscriptionInvalid("endpoint", "must not carry credentials or a fragment")
    try:
        parts.port  # noqa: B018 - parsing the port raises on a bad one
    except ValueError:
        raise SubscriptionInvalid("endpoint", "has an invalid port") from None
    if parts.scheme == "http" and not _is_loopback(host):
        raise SubscriptionInvalid("endpoint", "must use https (http only to a loopback host)")
    try:
        point = b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise SubscriptionInvalid("keys.p256dh", "must be a base64url P-256 public key") from None
    if len(point) != 65:
        raise SubscriptionInvalid("keys.p256dh", "must be an uncompressed P-256 point (65 bytes)")
    try:
        secret = b64url_decode(auth)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise SubscriptionInvalid("keys.auth", "must be 16 bytes in base64url")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_subscription(s: PushSubscription) -> SubscriptionRead:
    return SubscriptionRead(id=s.id, endpoint=s.endpoint, label=s.label, user_agent=s.user_agent,
                            created_at=s.created_at, last_success_at=s.last_success_at,
                            failures=s.failures)


async def subscribe(session: AsyncSession, user: CurrentUser, data: SubscriptionCreate,
                    user_agent: str | None = None) -> SubscriptionRead:
    """Store the browser's subscription for ``user``; idempotent by endpoint.

    An endpoint that belonged to someone else (a shared phone, the next shift) is re-bound:
    the old row is deleted, so its pending pushes turn 'gone' instead of reaching the new user.
    """
    check_subscription(data.endpoint, data.keys.p256dh, data.keys.auth)
    await session.execute(delete(PushSubscription).where(
        PushSubscription.endpoint == data.endpoint, PushSubscription.user_id != user.id))
    values: dict[str, Any] = {"p256dh": data.keys.p256dh, "auth": data.keys.auth}
    if data.label is not None:
        values["label"] = data.label
    if user_agent:
        values["user_agent"] = user_agent[:300]
    insert = upsert_insert(session)
    statement = insert(PushSubscription).values(
        user_id=user.id, endpoint=data.endpoint, created_at=utcnow(), failures=0, **values)
    # The app re-sends its subscription on every start: refresh the keys, keep the rest.
    await session.execute(statement.on_conflict_do_update(index_elements=["endpoint"], set_=values))
    row = await session.scalar(select(PushSubscription).where(PushSubscription.endpoint == data.endpoint)
                               .execution_options(populate_existing=True))
    assert row is not None
    return _read_subscription(row)


async def unsubscribe(session: AsyncSession, user: CurrentUser, endpoint: str) -> bool:
    """Forget ``user``'s subscription at ``endpoint`` (logout); True if there was one."""
    result = await session.execute(delete(PushSubscription).where(
        PushSubscription.endpoint == endpoint, PushSubscription.user_id == user.id))
    return bool(getattr(result, "rowcount", 0))


async def list_subscriptions(session: AsyncSession, user: CurrentUser) -> list[SubscriptionRead]:
    rows = await session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)
                                 .order_by(PushSubscription.id))
    return [_read_subscription(s) for s in rows]


# --- payloads and enqueueing ----------------------------------------------------------

def urgency_for(severity: str) -> str:
    """RFC 8030 Urgency for a ticket severity: critical alarms wake a phone in power saving."""
    return "high" if severity == Severity.CRITICAL else "normal"


def ticket_url(ticket_id: int) -> str:
    return f"/app/#/tickets/{ticket_id}"


def build_payload(ticket: Ticket, *, step: str, body: str | None = None,
                  at: datetime | None = None) -> PushPayload:
    """The notification for ``ticket`` at ``step``, cut to fit a push message."""
    text = body if body is not None else (ticket.description or ticket.type)
    return PushPayload(
        ticket_id=ticket.id, title=ticket.title[:_TITLE_CHARS], body=text[:_BODY_CHARS],
        severity=ticket.severity, url=ticket_url(ticket.id), tag=f"ticket-{ticket.id}",
        require_interaction=ticket.severity == Severity.CRITICAL, step=step, sent_at=at or utcnow(),
    )


async def enqueue(
    session: AsyncSession,
    *,
    user_ids: Iterable[int],
    ticket_id: int,
    step: str,
    payload: PushPayload,
    urgency: str = "normal",
    ttl: int = 3600,
    now: datetime | None = None,
) -> int:
    """Queue one push per subscription of ``user_ids`` for this ticket step; return how many are new.

    Runs in the caller's transaction, so a dispatch and its pushes commit together. The
    same (ticket, step, subscription) again inserts nothing (ON CONFLICT DO NOTHING on the
    unique key): retrying a dispatch never pushes twice. Senders in this process are woken
    when the transaction commits.
    """
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}")
    if not 0 <= ttl <= MAX_TTL:
        raise ValueError(f"ttl must be between 0 and {MAX_TTL} seconds")
    if not step or len(step) > 64:
        raise ValueError("step must have 1 to 64 characters")
    data: dict[str, Any] = msgspec.to_builtins(payload)
    size = len(msgspec.json.encode(data))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"push payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} fit a push message")
    wanted = sorted(set(user_ids))
    if not wanted:
        return 0
    subscriptions = (await session.execute(
        select(PushSubscription.id, PushSubscription.user_id)
        .join(StaffUser, StaffUser.id == PushSubscription.user_id)
        .where(PushSubscription.user_id.in_(wanted), StaffUser.active)
        .order_by(PushSubscription.id)
    )).all()
    if not subscriptions:
        return 0
    at = now or utcnow()
    rows = [
        {"ticket_id": ticket_id, "step": step, "subscription_id": sub_id, "user_id": user_id,
         "payload": data, "urgency": urgency, "ttl": ttl, "status": DeliveryStatus.PENDING.value,
         "attempts": 0, "next_attempt_at": at, "created_at": at}
        for sub_id, user_id in subscriptions
    ]
    insert = upsert_insert(session)
    result = await session.execute(
        insert(PushDelivery).values(rows)
        .on_conflict_do_nothing(index_elements=["ticket_id", "step", "subscription_id"])
        .returning(PushDelivery.id)
    )
    new = len(result.all())
    if new:
        _wake_after_commit(session)
    return new


async def enqueue_ticket_step(
    session: AsyncSession,
    ticket: Ticket,
    *,
    user_ids: Iterable[int],
    step: str,
    body: str | None = None,
    ttl: int = 3600,
    now: datetime | None = None,
) -> int:
    """``enqueue`` with the payload and urgency made from the ticket (critical → high)."""
    payload = build_payload(ticket, step=step, body=body, at=now)
    return await enqueue(session, user_ids=user_ids, ticket_id=ticket.id, step=step, payload=payload,
                         urgency=urgency_for(ticket.severity), ttl=ttl, now=now)


# --- waking the sender ----------------------------------------------------------------

# Senders running in this process (the runner registers one per app). Enqueue happens in
# whatever event loop the request runs in, so wake-ups cross loops thread-safely.
_wakers: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}


def register_wakeup(wakeup: asyncio.Event) -> Callable[[], None]:
    """Set ``wakeup`` (in the running loop) whenever pushes commit; returns the unregister call."""
    key = id(wakeup)
    _wakers[key] = (asyncio.get_running_loop(), wakeup)

    def unregister() -> None:
        _wakers.pop(key, None)

    return unregister


def wake_senders() -> None:
    for loop, wakeup in list(_wakers.values()):
        try:
            loop.call_soon_threadsafe(wakeup.set)
        except RuntimeError:  # that loop has closed; its runner is gone
            continue


def _wake_after_commit(session: AsyncSession) -> None:
    sync_session = session.sync_session
    if sync_session.info.get("push_wake_pending"):
        return
    sync_session.info["push_wake_pending"] = True

    def after_commit(committed: Any) -> None:
        committed.info.pop("push_wake_pending", None)
        wake_senders()

    event.listen(sync_session, "after_commit", after_commit, once=True)


# --- the delivery log -----------------------------------------------------------------

async def delivery_log(session: AsyncSession, user: CurrentUser, ticket_id: int) -> DeliveryLog:
    """Every push of ``ticket_id``, oldest first; 404 outside the user's building scope."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or not scope.may_see(user, ticket):
        raise NotFound(f"No ticket {ticket_id} in your buildings.")
    rows = await session.execute(
        select(PushDelivery, PushSubscription.label)
        .outerjoin(PushSubscription, PushSubscription.id == PushDelivery.subscription_id)
        .where(PushDelivery.ticket_id == ticket_id)
        .order_by(PushDelivery.created_at, PushDelivery.id)
    )
    items = [
        DeliveryRead(id=d.id, step=d.step, user_id=d.user_id, subscription_id=d.subscription_id,
                     subscription_label=label, status=d.status, urgency=d.urgency, ttl=d.ttl,
                     attempts=d.attempts, http_status=d.http_status, error=d.error,
                     created_at=d.created_at, next_attempt_at=d.next_attempt_at, sent_at=d.sent_at,
                     payload=d.payload)
        for d, label in rows
    ]
    return DeliveryLog(ticket_id=ticket_id, items=items)
