"""GET /api/desk/stream over a real socket: the first event's id, resuming, names, "last heard".

A real `fieldops serve` (uvicorn) streams the events; httpx reads them as EventSource would.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.desk_requests import new_request, staff_id
from tests.support.live_server import LiveServer
from tests.support.publisher import Publisher, topic

pytestmark = [pytest.mark.broker]


@dataclass
class Event:
    type: str = "message"
    id: str | None = None
    data: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


def _events(response: httpx.Response) -> Iterator[Event]:
    """The SSE wire format, as EventSource parses it (WHATWG HTML §9.2)."""
    event = Event()
    for line in response.iter_lines():
        if line == "":
            if event.data:
                yield event
            event = Event()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            event.data.append(value)
        elif name == "event":
            event.type = value
        elif name == "id":
            event.id = value


def _read_until(
    server: LiveServer,
    token: str,
    wanted: Callable[[Event], bool],
    *,
    last_event_id: str | None = None,
    seconds: float = 15,
) -> list[Event]:
    """Every event up to and including the first one ``wanted`` accepts; fails after ``seconds``."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    seen: list[Event] = []
    deadline = time.monotonic() + seconds
    timeout = httpx.Timeout(5, read=seconds)
    url = f"{server.base_url}/api/desk/stream"
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        for event in _events(response):
            seen.append(event)
            if wanted(event):
                return seen
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"not seen within {seconds} s: {[(e.type, e.id) for e in seen]}")


def _last_desk_event(server: LiveServer) -> int:
    path = server.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT coalesce(max(id), 0) FROM desk_events").fetchone()[0])


def test_the_first_event_carries_an_id_and_resuming_from_it_misses_nothing(server: LiveServer) -> None:
    new_request(server, title="first-connect id", unit="b1-0201")
    token = server.login("desk")
    start = _last_desk_event(server)
    assert start > 0

    # No Last-Event-ID: the very first event is `ready`, with the id the stream starts after.
    first = _read_until(server, token, lambda e: True)[0]
    assert (first.type, first.id) == ("ready", str(start))
    assert first.json() == {"last_event_id": start, "resumed": False}

    # While nobody listens, the ticket is dispatched; resuming from the ready id delivers it,
    # with the people's names in the ticket.
    ticket = new_request(server, title="missed while away", unit="b1-0202")
    with server.api("desk") as api:
        response = api.post(
            f"/api/tickets/{ticket['id']}/actions",
            json={"action": "dispatch", "assignee_id": staff_id(server, "spec1")},
        )
        assert response.status_code == 200, response.text
    events = _read_until(
        server,
        token,
        lambda e: (
            e.type == "ticket"
            and e.json()["action"] == "dispatch"
            and e.json()["ticket"]["id"] == ticket["id"]
        ),
        last_event_id=first.id,
    )
    assert events[0].type == "ready"
    assert events[0].json() == {"last_event_id": start, "resumed": True}
    ids = [int(e.id or 0) for e in events[1:]]
    assert ids == sorted(ids)
    assert ids[0] > start
    opened = next(
        e
        for e in events
        if e.type == "ticket" and e.json()["action"] == "opened" and e.json()["ticket"]["id"] == ticket["id"]
    )
    assert opened.json()["ticket"]["first_receiver_name"] == "客服中心 王芳"
    assert events[-1].json()["ticket"]["assignee_name"] == "1#楼专员 李明"


def _devices(server: LiveServer, building: str) -> dict[str, dict[str, Any]]:
    with server.api("desk") as api:
        items = api.get("/api/devices", params={"building": building, "kind": "sensor"}).json()["items"]
    return {d["slug"]: d for d in items}


def test_last_heard_times_are_streamed_within_the_callers_buildings(server: LiveServer) -> None:
    mine, theirs = _devices(server, "b2")["b2-smoke-mr"], _devices(server, "b1")["b1-smoke-mr"]
    token = server.login("spec2")
    publisher = Publisher(server.broker.url)
    status = {"state": "online", "ts": "2026-11-26T08:00:00+08:00"}
    try:
        # Both devices speak after the stream opened (b1's first); the stream says when b2's was heard.
        def heard(event: Event) -> bool:
            if event.type == "ready":
                publisher.publish(topic("b1-smoke-mr", "status"), status)
                publisher.flush()
                publisher.publish(topic("b2-smoke-mr", "status"), status)
                publisher.flush()
            return event.type == "seen" and any(d["id"] == mine["id"] for d in event.json()["devices"])

        events = _read_until(server, token, heard, seconds=20)
    finally:
        publisher.close()
    seen = next(d for d in events[-1].json()["devices"] if d["id"] == mine["id"])
    assert events[-1].id is None  # a summary, not a change: it does not move Last-Event-ID
    assert seen["last_seen_at"] == _devices(server, "b2")["b2-smoke-mr"]["last_seen_at"]
    # A specialist's stream never mentions another building's devices.
    mentioned = {d["id"] for e in events if e.type == "seen" for d in e.json()["devices"]}
    assert theirs["id"] not in mentioned
    assert _devices(server, "b1")["b1-smoke-mr"]["last_seen_at"] is not None  # it was heard, though
