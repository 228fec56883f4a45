"""Requests opened at the desk through the API, for tests that drive a live server."""

from __future__ import annotations

from typing import Any

from tests.support.live_server import LiveServer


def staff_id(server: LiveServer, username: str) -> int:
    with server.api("desk") as api:
        people = api.get("/api/staff").json()
    return int(next(p["id"] for p in people if p["username"] == username))


def new_request(server: LiveServer, **fields: Any) -> dict[str, Any]:
    """A request opened at the desk (a phone call): repair in 1# 1203, needs someone on site."""
    body = {
        "kind": "repair",
        "title": "厨房水管漏水",
        "source": "phone",
        "building": "b1",
        "unit": "b1-1203",
        "requester_name": "王伟",
        "requester_phone": "13800001203",
        "needs_on_site": True,
        **fields,
    }
    with server.api("desk") as api:
        response = api.post("/api/tickets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())
