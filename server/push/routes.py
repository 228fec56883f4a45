"""/api/push: the VAPID key, subscriptions; /api/tickets/{id}/deliveries: the delivery log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody

from server.deps import DbSession, User
from server.push import service
from server.push.keys import ensure_vapid_key
from server.push.schemas import (
    DeliveryLog,
    SubscriptionCreate,
    SubscriptionDelete,
    SubscriptionRead,
    VapidPublicKey,
)


class PushController(Controller):
    path = "/api/push"
    tags = ["push"]

    @get("/vapid-public-key", summary="The applicationServerKey for pushManager.subscribe()")
    async def vapid_public_key(self, db: DbSession) -> VapidPublicKey:
        keys = await ensure_vapid_key(db)
        return VapidPublicKey(public_key=keys.public_key)

    @post("/subscriptions", status_code=200,
          summary="Store this browser's push subscription (idempotent by endpoint)")
    async def subscribe(self, data: JSONBody[SubscriptionCreate], db: DbSession, user: User,
                        request: Request[Any, Any, Any]) -> SubscriptionRead:
        try:
            return await service.subscribe(db, user, data, request.headers.get("user-agent"))
        except service.SubscriptionInvalid as exc:
            # 400 naming the field, like msgspec's own validation errors (server/errors.py).
            raise ValidationException(
                detail=f"Validation failed for {request.method} {request.url.path}",
                extra=[{"key": exc.field, "source": "body", "message": exc.message}],
            ) from None

    @delete("/subscriptions", status_code=204, summary="Forget this browser's subscription (logout)")
    async def unsubscribe(self, data: JSONBody[SubscriptionDelete], db: DbSession, user: User) -> None:
        await service.unsubscribe(db, user, data.endpoint)

    @get("/subscriptions", summary="My push subscriptions (one per device)")
    async def list_subscriptions(self, db: DbSession, user: User) -> list[SubscriptionRead]:
        return await service.list_subscriptions(db, user)


class TicketDeliveryController(Controller):
    path = "/api/tickets"
    tags = ["push"]

    @get("/{ticket_id:int}/deliveries", summary="The push delivery log of a ticket, per step")
    async def deliveries(self, db: DbSession, user: User, ticket_id: FromPath[int]) -> DeliveryLog:
        return await service.delivery_log(db, user, ticket_id)
