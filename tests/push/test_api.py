"""The push HTTP API: subscriptions (validation, idempotency, shared phones) and the delivery log."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import login
from tests.push.conftest import current_user, enqueue, make_ticket, with_push_routes

Client = AsyncTestClient[Litestar]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_subscription(endpoint: str = "https://fcm.googleapis.com/fcm/send/abc123") -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    # What PushSubscription.toJSON() sends, expirationTime included.
    return {"endpoint": endpoint, "expirationTime": None,
            "keys": {"p256dh": _b64(point), "auth": _b64(os.urandom(16))}}


@pytest.fixture
async def api(app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=with_push_routes(app)) as client:
        yield client


async def test_subscribe_list_and_unsubscribe(api: Client) -> None:
    headers = await login(api, "spec1")
    phone, tablet = browser_subscription(), browser_subscription("https://updates.push.services.mozilla.com/wpush/v2/x")
    first = await api.post("/api/push/subscriptions", json={**phone, "label": "李明的手机"}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["label"] == "李明的手机"
    assert (await api.post("/api/push/subscriptions", json=tablet, headers=headers)).status_code == 200

    # The app re-sends its subscription on every start: same row, keys refreshed, label kept.
    again = await api.post("/api/push/subscriptions", json=phone | {"keys": browser_subscription()["keys"]},
                           headers={**headers, "User-Agent": "Mozilla/5.0 (Linux; Android 14)"})
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["label"] == "李明的手机"
    assert again.json()["user_agent"].startswith("Mozilla/5.0")

    mine = (await api.get("/api/push/subscriptions", headers=headers)).json()
    assert sorted(s["endpoint"] for s in mine) == sorted([phone["endpoint"], tablet["endpoint"]])

    gone = await api.request("DELETE", "/api/push/subscriptions", json={"endpoint": phone["endpoint"]},
                             headers=headers)
    assert gone.status_code == 204
    mine = (await api.get("/api/push/subscriptions", headers=headers)).json()
    assert [s["endpoint"] for s in mine] == [tablet["endpoint"]]


async def test_a_shared_phone_moves_to_whoever_subscribed_last(api: Client) -> None:
    spec1, spec2 = await login(api, "spec1"), await login(api, "spec2")
    phone = browser_subscription()
    await api.post("/api/push/subscriptions", json=phone, headers=spec1)
    await api.post("/api/push/subscriptions", json=phone, headers=spec2)
    assert (await api.get("/api/push/subscriptions", headers=spec1)).json() == []
    assert [s["endpoint"] for s in (await api.get("/api/push/subscriptions", headers=spec2)).json()] == [
        phone["endpoint"]]
    # Logging out as spec1 on another device does not remove spec2's subscription.
    await api.request("DELETE", "/api/push/subscriptions", json={"endpoint": phone["endpoint"]},
                      headers=spec1)
    assert len((await api.get("/api/push/subscriptions", headers=spec2)).json()) == 1


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, name = path.split(".")
        target = body
        for parent in parents:
            target = target[parent]
        if value is _DROP:
            del target[name]
        else:
            target[name] = value

    return change


_DROP = object()


@pytest.mark.parametrize(("change", "field"), [
    (_set("endpoint", _DROP), "endpoint"),
    (_set("endpoint", "ftp://push.example.com/x"), "endpoint"),
    (_set("endpoint", "http://push.example.com/x"), "endpoint"),  # plain http only to loopback
    (_set("endpoint", "https://user:pw@push.example.com/x"), "endpoint"),
    (_set("keys.p256dh", _DROP), "p256dh"),
    (_set("keys.p256dh", "bm90IGEga2V5"), "keys.p256dh"),
    (_set("keys.auth", "c2hvcnQ"), "keys.auth"),
    (_set("label", "x" * 101), "label"),
])
async def test_invalid_subscriptions_answer_400_naming_the_field(
        api: Client, change: Callable[[dict[str, Any]], None], field: str) -> None:
    body = browser_subscription()
    change(body)
    response = await api.post("/api/push/subscriptions", json=body, headers=await login(api, "spec1"))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]


async def test_anonymous_is_refused(api: Client) -> None:
    body = browser_subscription()
    assert (await api.post("/api/push/subscriptions", json=body)).status_code == 401
    assert (await api.get("/api/push/subscriptions")).status_code == 401
    assert (await api.request("DELETE", "/api/push/subscriptions", json=body)).status_code == 401
    assert (await api.get("/api/tickets/1/deliveries")).status_code == 401


async def test_delivery_log_follows_building_scope(api: Client, db: async_sessionmaker[AsyncSession]) -> None:
    spec1 = await login(api, "spec1")
    await api.post("/api/push/subscriptions", json=browser_subscription(), headers=spec1)
    ticket = await make_ticket(db, building="b1")
    user = await current_user(db, "spec1")
    await enqueue(db, ticket, user, step="dispatched")
    await enqueue(db, ticket, user, step="escalated:1")

    for username in ("spec1", "desk", "supervisor", "manager", "admin"):
        response = await api.get(f"/api/tickets/{ticket.id}/deliveries", headers=await login(api, username))
        assert response.status_code == 200, (username, response.text)
        log = response.json()
        assert [d["step"] for d in log["items"]] == ["dispatched", "escalated:1"]
        assert all(d["status"] == "pending" and d["user_id"] == user.id for d in log["items"])
        assert log["items"][0]["payload"]["url"] == f"/app/#/tickets/{ticket.id}"
    for username in ("spec2", "engineer"):  # another building; no building at all
        response = await api.get(f"/api/tickets/{ticket.id}/deliveries", headers=await login(api, username))
        assert response.status_code == 404, username
    assert (await api.get("/api/tickets/999999/deliveries", headers=spec1)).status_code == 404


async def test_the_first_receiver_hears_when_someone_else_resolves_it(api: Client) -> None:
    """首问责任制: spec1 took the request on the stairs; engineering resolves it; spec1's phone is told."""
    spec1, desk, engineer = [await login(api, u) for u in ("spec1", "desk", "engineer")]
    subscribed = await api.post("/api/push/subscriptions", json=browser_subscription(), headers=spec1)
    assert subscribed.status_code == 200
    body = {"kind": "repair", "title": "楼道水管滴水", "source": "walk_in", "building": "b1",
            "unit": "b1-1203"}
    ticket = (await api.post("/api/tickets", json=body, headers=spec1)).json()
    staff = (await api.get("/api/staff", headers=desk)).json()
    engineer_id = next(p["id"] for p in staff if p["username"] == "engineer")
    for action in ({"action": "dispatch", "assignee_id": engineer_id},
                   {"action": "resolve", "note": "更换了接头"}):
        who = desk if action["action"] == "dispatch" else engineer
        response = await api.post(f"/api/tickets/{ticket['id']}/actions", json=action, headers=who)
        assert response.status_code == 200, response.text
    log = (await api.get(f"/api/tickets/{ticket['id']}/deliveries", headers=spec1)).json()["items"]
    spec1_id = (await api.get("/api/auth/me", headers=spec1)).json()["id"]
    assert [(d["step"], d["user_id"]) for d in log] == [("resolved:0", spec1_id)]
    assert log[0]["payload"]["body"] == "已办结：更换了接头"

    # The first receiver resolving it themself is told nothing.
    mine = (await api.post("/api/tickets", json={**body, "title": "门禁卡失效"}, headers=spec1)).json()
    response = await api.post(f"/api/tickets/{mine['id']}/actions", json={"action": "resolve"}, headers=spec1)
    assert response.status_code == 200, response.text
    assert (await api.get(f"/api/tickets/{mine['id']}/deliveries", headers=spec1)).json()["items"] == []
