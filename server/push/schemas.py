"""Wire shapes: the push payload the service worker reads, subscriptions, the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec


class PushPayload(msgspec.Struct, kw_only=True):
    """What the service worker receives (decrypted) and shows as a notification.

    ``url`` is what a tap opens (``/app/#/tickets/{id}``); ``tag`` makes a newer
    notification for the same ticket replace the older one on the phone;
    ``require_interaction`` keeps critical alarms on screen until touched.
    """

    ticket_id: int
    title: str
    body: str
    severity: str
    url: str
    tag: str
    require_interaction: bool
    step: str
    sent_at: datetime  # when the step happened (not when the push left)


class SubscriptionKeys(msgspec.Struct):
    p256dh: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    auth: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class SubscriptionCreate(msgspec.Struct):
    """The browser's ``PushSubscription.toJSON()`` plus an optional device label.

    Unknown fields (``expirationTime``) are ignored: the JSON comes straight from the browser.
    """

    endpoint: Annotated[str, msgspec.Meta(min_length=8, max_length=1024)]
    keys: SubscriptionKeys
    label: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class SubscriptionDelete(msgspec.Struct):
    endpoint: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class SubscriptionRead(msgspec.Struct):
    id: int
    endpoint: str
    label: str | None
    user_agent: str | None
    created_at: datetime
    last_success_at: datetime | None
    failures: int


class VapidPublicKey(msgspec.Struct):
    public_key: str  # pass to pushManager.subscribe({applicationServerKey})


class DeliveryRead(msgspec.Struct):
    id: int
    step: str
    user_id: int | None
    subscription_id: int | None  # null once the subscription is gone
    subscription_label: str | None
    status: str
    urgency: str
    ttl: int
    attempts: int
    http_status: int | None
    error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    payload: dict[str, Any]


class DeliveryLog(msgspec.Struct):
    ticket_id: int
    items: list[DeliveryRead]
