"""Bad input gets a 4xx, never a 500: every operation in the OpenAPI document, called with ids that
name nothing (also past PostgreSQL's 32-bit integers), bodies that are not what it takes and query
values that are nonsense, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import login

Client = AsyncTestClient[Litestar]

PATH_VALUES = ("99999999999", "999999999", "0", "-1", "no-such-thing", "2026-02-30", "x" * 300)
BODIES = (b"not json", b"{}", b"[]", b"null", json.dumps({"x": [1, 2, 3]}).encode(),
          b'{"kind": 5, "title": null, "items": "x", "device_id": 1, "action": "dispatch"}')
QUERY_VALUES = ("%%%x", "-1", "99999999999", "9" * 30)


def _calls(schema: dict[str, Any]) -> list[tuple[str, str, bytes | None, dict[str, str]]]:
    calls = []
    for template, operations in schema["paths"].items():
        if template.endswith("/stream"):
            continue  # server-sent events: an open stream, not an answer
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            queries: list[dict[str, str]] = [{}]
            names = [p["name"] for p in params if p["in"] == "query"]
            if names:
                queries += [dict.fromkeys(names, value) for value in QUERY_VALUES]
            bodies: tuple[bytes | None, ...] = (None,) if method in ("get", "head", "delete") else BODIES
            for value in PATH_VALUES:
                path = template
                for p in params:
                    if p["in"] == "path":
                        path = path.replace("{" + p["name"] + "}", value)
                calls += [(method.upper(), path, body, query) for body in bodies for query in queries]
    return calls


async def test_no_request_shape_gets_a_server_error(client: Client) -> None:
    headers = {**await login(client, "admin"), "content-type": "application/json"}
    schema = (await client.get("/schema/openapi.json")).json()
    calls = _calls(schema)
    assert len(calls) > 500, "the schema walk found too few operations"
    errors = []
    for method, path, body, query in calls:
        response = await client.request(method, path, content=body, params=query, headers=headers)
        if response.status_code >= 500:
            errors.append((method, path[:80], query, body, response.status_code, response.text[:200]))
    assert not errors, errors[:10]


async def test_ids_past_32_bits_name_nothing(client: Client) -> None:
    desk = await login(client, "desk")
    huge = 99_999_999_999
    response = await client.get(f"/api/tickets/{huge}", headers=desk)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    body = {"kind": "repair", "title": "漏水", "building": "b1", "unit": "b1-1203", "resident_id": huge}
    response = await client.post("/api/tickets", json=body, headers=desk)
    assert response.status_code == 400, response.text
    created = await client.post("/api/tickets", json={**body, "resident_id": None}, headers=desk)
    ticket_id = created.json()["id"]
    response = await client.post(f"/api/tickets/{ticket_id}/actions",
                                 json={"action": "dispatch", "assignee_id": huge}, headers=desk)
    assert response.status_code == 400, response.text
    for query, status in (({"assignee": str(huge)}, 422), ({"offset": str(huge)}, 400)):
        assert (await client.get("/api/tickets", params=query, headers=desk)).status_code == status, query
    assert (await client.get("/api/units", params={"floor": str(huge)}, headers=desk)).status_code == 400
