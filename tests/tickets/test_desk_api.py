"""What the control desk reads from the API: the estate, staff names on tickets, error codes, HEAD."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from server.tickets.changes import TicketChange
from tests.conftest import login

Client = AsyncTestClient[Litestar]


async def _request(client: Client, headers: dict[str, str], **changes: object) -> dict:
    body: dict[str, object] = {
        "kind": "repair",
        "title": "厨房水管漏水",
        "building": "b1",
        "unit": "b1-1203",
        "requester_name": "王先生",
        "requester_phone": "13900001111",
        **changes,
    }
    response = await client.post("/api/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _act(client: Client, headers: dict[str, str], ticket_id: int, action: str, **fields: object):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/tickets/{ticket_id}/actions", json={"action": action, **fields}, headers=headers
    )


async def _staff_id(client: Client, headers: dict[str, str], username: str) -> int:
    people = (await client.get("/api/staff", headers=headers)).json()
    return int(next(p["id"] for p in people if p["username"] == username))


async def test_the_estate_names_its_zone_and_only_the_callers_buildings(client: Client) -> None:
    desk = await login(client, "desk")
    estate = (await client.get("/api/estate", headers=desk)).json()
    assert (estate["slug"], estate["name"], estate["timezone"]) == ("xinwaitan", "新外滩", "Asia/Shanghai")
    assert estate["buildings"] == [
        {"slug": "b1", "name": "1#楼", "floors": 18},
        {"slug": "b2", "name": "2#楼", "floors": 18},
    ]
    # A building specialist sees the estate's name and zone, but only their own building.
    spec2 = (await client.get("/api/estate", headers=await login(client, "spec2"))).json()
    assert (spec2["name"], spec2["timezone"]) == ("新外滩", "Asia/Shanghai")
    assert [b["slug"] for b in spec2["buildings"]] == ["b2"]
    anonymous = await client.get("/api/estate")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.required"


async def test_ticket_reads_name_the_assignee_the_first_receiver_and_each_actor(client: Client) -> None:
    desk = await login(client, "desk")
    ticket = await _request(client, desk)
    assert (ticket["first_receiver_name"], ticket["assignee_name"]) == ("客服中心 王芳", None)
    spec1_id = await _staff_id(client, desk, "spec1")
    dispatched = (await _act(client, desk, ticket["id"], "dispatch", assignee_id=spec1_id)).json()
    assert dispatched["assignee_name"] == "1#楼专员 李明"
    spec1 = await login(client, "spec1")
    await _act(client, spec1, ticket["id"], "arrive")

    listed = (await client.get("/api/tickets", headers=desk)).json()["items"]
    row = next(t for t in listed if t["id"] == ticket["id"])
    assert (row["assignee_name"], row["first_receiver_name"]) == ("1#楼专员 李明", "客服中心 王芳")

    detail = (await client.get(f"/api/tickets/{ticket['id']}", headers=spec1)).json()
    assert [(a["action"], a["actor"], a["actor_name"]) for a in detail["audit"]] == [
        ("opened", "desk", "客服中心 王芳"),
        ("dispatch", "desk", "客服中心 王芳"),
        ("arrive", "spec1", "1#楼专员 李明"),
    ]
    # The dispatch step names its assignee by username; the detail says who that is.
    assert detail["audit"][1]["detail"]["assignee"] == "spec1"
    assert detail["staff_names"] == {"desk": "客服中心 王芳", "spec1": "1#楼专员 李明"}


async def test_problem_details_carry_a_stable_code(client: Client) -> None:
    desk = await login(client, "desk")
    ticket = await _request(client, desk, needs_on_site=False)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    first = await _act(client, desk, ticket["id"], "postpone", reason="等配件", promised_at=later)
    assert first.status_code == 200
    second = await _act(client, desk, ticket["id"], "postpone", reason="配件还没到", promised_at=later)
    assert second.status_code == 409
    problem = second.json()
    assert problem["code"] == "ticket.second_postponement_needs_approval"
    assert second.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)  # the RFC 9457 members stay

    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    in_past = await _act(client, desk, ticket["id"], "postpone", reason="x", promised_at=past)
    assert (in_past.status_code, in_past.json()["code"]) == (422, "ticket.promised_at_in_past")
    assert in_past.json()["errors"][0]["field"] == "promised_at"

    no_reason = await _act(client, desk, ticket["id"], "postpone", promised_at=later)
    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "validation.field")

    complaint = await _request(client, desk, kind="complaint", title="楼道噪音")
    invalid = await _act(client, desk, complaint["id"], "classify", classification="invalid")
    assert (invalid.status_code, invalid.json()["code"]) == (403, "ticket.invalid_class_needs_supervisor")

    await _act(client, desk, complaint["id"], "acknowledge")
    again = (await _act(client, desk, complaint["id"], "acknowledge")).json()
    assert (again["code"], again["action"], again["ticket_status"]) == (
        "ticket.wrong_status",
        "acknowledge",
        "acknowledged",
    )

    spec1 = await login(client, "spec1")
    refused = (await _act(client, spec1, complaint["id"], "cancel", reason="重复")).json()
    assert (refused["code"], refused["action"]) == ("ticket.role_may_not", "cancel")
    missing = await client.get("/api/tickets/999999", headers=desk)
    assert (missing.status_code, missing.json()["code"]) == (404, "ticket.not_found")
    bad_filter = await client.get("/api/tickets?status=lost", headers=desk)
    assert bad_filter.json()["code"] == "validation.field"
    bad_json = await client.post(
        "/api/tickets", content=b"{not json", headers={**desk, "Content-Type": "application/json"}
    )
    assert bad_json.json()["code"] == "request.bad_json"


async def test_the_desk_and_the_app_answer_head(client: Client) -> None:
    for path in ("/desk/", "/app/", "/desk/index.html", "/desk/js/main.js"):
        head = await client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
        get = await client.get(path)
        assert head.headers["content-length"] == str(len(get.content)), path
    assert (await client.head("/desk/no-such-file.js")).status_code == 404


async def test_the_desk_hears_of_a_step_before_its_response_goes_out(
    client: Client, app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone on a slow link receiving its response must not hold back the desk's view."""
    desk = await login(client, "desk")
    ticket = await _request(client, desk)
    order: list[str] = []
    bus = app.state.changes
    publish = bus.publish

    def recording_publish(changes: Iterable[TicketChange]) -> None:
        changes = list(changes)
        order.extend(f"published {c.action}" for c in changes)
        publish(changes)

    handler = app.asgi_handler

    async def recording_handler(scope: Any, receive: Any, send: Any) -> None:
        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start" and scope["method"] == "POST":
                order.append("response")
            await send(message)

        await handler(scope, receive, recording_send)

    monkeypatch.setattr(bus, "publish", recording_publish)
    monkeypatch.setattr(app, "asgi_handler", recording_handler)
    response = await _act(client, desk, ticket["id"], "acknowledge")
    assert response.status_code == 200, response.text
    assert order == ["published acknowledge", "response"]


async def test_an_engineer_sees_and_works_the_tickets_sent_to_them_and_no_others(client: Client) -> None:
    """Engineering covers no building of its own but takes repairs in all of them."""
    desk, engineer = await login(client, "desk"), await login(client, "engineer")
    sent = await _request(client, desk, title="配电箱跳闸", building="b2", unit="b2-0402")
    other = await _request(client, desk, title="楼道灯不亮", building="b2", unit="b2-0402")
    engineer_id = await _staff_id(client, desk, "engineer")
    response = await _act(client, desk, sent["id"], "dispatch", assignee_id=engineer_id)
    assert response.status_code == 200, response.text

    mine = (await client.get("/api/tickets", params={"assignee": "me"}, headers=engineer)).json()["items"]
    assert [t["id"] for t in mine] == [sent["id"]]
    assert (await client.get(f"/api/tickets/{sent['id']}", headers=engineer)).status_code == 200
    assert (await client.get(f"/api/tickets/{sent['id']}/sla", headers=engineer)).status_code == 200
    for step in ("arrive", "resolve"):
        response = await _act(client, engineer, sent["id"], step)
        assert response.status_code == 200, response.text
    # A ticket not sent to them does not exist for them.
    assert (await client.get(f"/api/tickets/{other['id']}", headers=engineer)).status_code == 404
    assert (await _act(client, engineer, other["id"], "arrive")).status_code == 404
    listed = (await client.get("/api/tickets", headers=engineer)).json()["items"]
    assert other["id"] not in [t["id"] for t in listed]
