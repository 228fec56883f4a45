"""The push tables: the server's VAPID key, the phones that subscribed, and every delivery."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, JSONType, UTCDateTime, utcnow


class VapidKey(Base):
    """The one application-server key pair (RFC 8292), made on first use and kept.

    Always the row with id 1: inserting it with ON CONFLICT DO NOTHING lets several
    server processes starting together agree on one key.
    """

    __tablename__ = "vapid_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    private_key_pem: Mapped[str] = mapped_column(Text)  # PKCS#8 PEM, P-256
    # URL-safe base64 (no padding) of the uncompressed point: the browser's applicationServerKey.
    public_key: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))  # the JWT `sub`: mailto: or https: contact
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(Base):
    """One browser's push subscription (a phone, a desk PC); a user may have any number."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))  # the browser's ECDH public key, base64url
    auth: Mapped[str] = mapped_column(String(50))  # the 16-byte auth secret, base64url
    label: Mapped[str | None] = mapped_column(String(100))  # what the user calls the device
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(default=0)  # consecutive; reset by a success


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # claimed by a sender; the HTTP request may be on the wire
    SENT = "sent"  # the push service accepted it (201/200/202)
    FAILED = "failed"  # gave up: permanent error, attempts exhausted, TTL passed or outcome unknown
    GONE = "gone"  # the subscription no longer exists (404/410, unsubscribed, re-bound)


class PushDelivery(Base):
    """One push of one ticket step to one subscription: the delivery log, and the outbox.

    UNIQUE(ticket_id, step, subscription_id) is the at-most-once guarantee: enqueueing
    the same step again inserts nothing.
    """

    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint("ticket_id", "step", "subscription_id"),
        Index("ix_push_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))  # e.g. "dispatched", "escalated:1"
    # SET NULL keeps the log when a subscription is removed; such a row is never sent.
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="SET NULL"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, object]] = mapped_column(JSONType)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")  # RFC 8030 Urgency
    ttl: Mapped[int] = mapped_column(default=3600)  # seconds the push service may hold it
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it last became 'sending'
    http_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
