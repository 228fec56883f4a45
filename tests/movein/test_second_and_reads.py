"""Rectifications → second inspection due → stage second clears it; the read API and its scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from server.estates.models import AccessCard
from tests.conftest import login
from tests.movein.support import Client, Sessions, count, move_in_item, payload, photos, sync, vacant_units
from tests.pwa.conftest import Clock

HANDOVER = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


async def _due(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get("/api/move-ins/due", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _resolve(client: Client, headers: dict[str, str], ticket_id: int) -> None:
    response = await client.post(f"/api/tickets/{ticket_id}/actions", headers=headers,
                                 json={"action": "resolve", "note": "已整改"})
    assert response.status_code == 200, response.text


async def test_second_inspection_is_due_once_every_rectification_is_resolved(
        mclient: Client, mdb: Sessions, clock: Clock) -> None:
    spec1, desk = await login(mclient, "spec1"), await login(mclient, "desk")
    unit = (await vacant_units(mclient, spec1))[0]
    shots = await photos(mclient, spec1)
    handover = move_in_item(payload(unit, shots, HANDOVER))
    response = await sync(mclient, spec1, handover)
    assert response.status_code == 200, response.text
    tickets = response.json()["accepted"][0]["result"]["tickets"]

    [item] = await _due(mclient, spec1)
    assert (item["unit"], item["due"], item["inspection_id"]) == (unit, "rectification_open", handover["id"])
    assert sorted(t["id"] for t in item["tickets"]) == sorted(tickets)
    assert await _due(mclient, await login(mclient, "spec2")) == []  # building 2's specialist

    await _resolve(mclient, desk, tickets[0])
    assert [d["due"] for d in await _due(mclient, spec1)] == ["rectification_open"]
    await _resolve(mclient, desk, tickets[1])
    [item] = await _due(mclient, spec1)
    assert item["due"] == "second_inspection"
    assert item["first_inspection_id"] == handover["id"]
    assert item["since"] is not None
    assert [d["unit"] for d in await _due(mclient, desk)] == [unit]  # the desk sees the estate
    detail = (await mclient.get(f"/api/move-ins/{handover['id']}", headers=spec1)).json()
    assert detail["due"] == "second_inspection"
    assert {a["ticket_status"] for a in detail["answers"] if a["status"] == "defect"} == {"resolved"}

    clock.now = clock.now + timedelta(days=3)
    second_shots = await photos(mclient, spec1, defects=0)
    second = move_in_item(payload(unit, second_shots, HANDOVER + timedelta(days=3), stage="second",
                                  defects=False, readings={}, cards=[]))
    response = await sync(mclient, spec1, second)
    assert response.status_code == 200, response.text
    result = response.json()["accepted"][0]["result"]
    assert (result["stage"], result["first_inspection_id"]) == ("second", handover["id"])
    assert result["tickets"] == []
    assert await _due(mclient, spec1) == []

    first = (await mclient.get(f"/api/move-ins/{handover['id']}", headers=spec1)).json()
    assert first["second_inspection_ids"] == [second["id"]]
    assert first["due"] is None
    listed = (await mclient.get("/api/move-ins", params={"unit": unit}, headers=desk)).json()
    assert [(i["id"], i["stage"]) for i in listed["items"]] == [(second["id"], "second"),
                                                               (handover["id"], "handover")]
    assert listed["total"] == 2


async def test_a_second_inspection_that_finds_defects_starts_the_cycle_again(
        mclient: Client, mdb: Sessions) -> None:
    spec1, desk = await login(mclient, "spec1"), await login(mclient, "desk")
    unit = (await vacant_units(mclient, spec1))[1]
    shots = await photos(mclient, spec1, defects=1)
    handover = move_in_item(payload(unit, shots, HANDOVER))
    [ticket] = (await sync(mclient, spec1, handover)).json()["accepted"][0]["result"]["tickets"]
    await _resolve(mclient, desk, ticket)
    again = await photos(mclient, spec1, defects=1)
    # The owner's card listed again (and one more handed over): registered once, no conflict.
    second = move_in_item(payload(unit, again, HANDOVER + timedelta(days=2), stage="second", readings={},
                                  cards=["0012340001", "0012340003"]))
    [new_ticket] = (await sync(mclient, spec1, second)).json()["accepted"][0]["result"]["tickets"]
    detail = (await mclient.get(f"/api/move-ins/{second['id']}", headers=spec1)).json()
    assert [c["registered"] for c in detail["access_cards"]] == [True, True]
    assert await count(mdb, AccessCard) == 3
    [item] = await _due(mclient, spec1)
    assert (item["due"], item["inspection_id"], [t["id"] for t in item["tickets"]]) == (
        "rectification_open", second["id"], [new_ticket])


async def test_read_api_scope_templates_and_unit_search(mclient: Client, mdb: Sessions) -> None:
    spec1, spec2 = await login(mclient, "spec1"), await login(mclient, "spec2")
    supervisor = await login(mclient, "supervisor")
    unit = (await vacant_units(mclient, spec1))[0]
    shots = await photos(mclient, spec1)
    item = move_in_item(payload(unit, shots, HANDOVER))
    assert (await sync(mclient, spec1, item)).status_code == 200

    assert (await mclient.get(f"/api/move-ins/{item['id']}", headers=spec2)).status_code == 404
    assert (await mclient.get(f"/api/move-ins/{item['id']}.pdf", headers=spec2)).status_code == 404
    assert (await mclient.get("/api/move-ins", headers=spec2)).json()["total"] == 0
    assert (await mclient.get("/api/move-ins", params={"building": "b1"}, headers=supervisor)
            ).json()["total"] == 1
    detail = (await mclient.get(f"/api/move-ins/{item['id']}", headers=supervisor)).json()
    assert detail["unit"] == unit
    assert detail["owner_name"] == "张伟"
    assert [c["card_number"] for c in detail["access_cards"] if c["registered"]] == ["0012340001",
                                                                                     "0012340002"]
    assert detail["utility_cards"] == {"electricity": "E-778812", "water": "W-556201", "gas": "G-330918"}
    assert len(detail["ticket_ids"]) == 2
    assert detail["inspector"] == "1#楼专员 李明"
    walls = next(a for a in detail["answers"] if a["item"] == "walls")
    assert (walls["status"], walls["section"], walls["ticket_status"]) == ("defect", "walls", "new")
    assert (await mclient.get("/api/move-ins/00000000-0000-0000-0000-000000000000",
                              headers=spec1)).status_code == 404

    [template] = (await mclient.get("/api/move-ins/templates", headers=spec1)).json()
    assert (template["name"], template["version"]) == ("move_in", 1)
    assert {s["key"] for s in template["sections"]} >= {"doors", "windows", "walls", "floors", "ceiling",
                                                        "plumbing", "electrical", "gas", "intercom",
                                                        "balcony", "keys_locks"}
    assert {m["quantity"]: m["tolerance"] for m in template["meters"]} == {
        "water": 0.5, "electricity": 2.0, "gas": 0.5}
    assert all(i["zh"] and i["en"] and i["section"] for i in template["items"])

    units = (await mclient.get("/api/move-ins/units", params={"limit": 500}, headers=spec1)).json()
    states = [u["state"] for u in units["items"]]
    assert states == sorted(states, key=lambda s: s != "vacant")  # vacant first
    assert {u["building"] for u in units["items"]} == {"b1"}
    found = (await mclient.get("/api/move-ins/units", params={"q": unit.split("-")[1]},
                               headers=spec1)).json()["items"]
    mine = next(u for u in found if u["slug"] == unit)
    assert (mine["state"], mine["owner"], mine["handover_inspection_id"]) == ("occupied", "张伟", item["id"])
    by_owner = (await mclient.get("/api/move-ins/units", params={"q": "张伟"}, headers=spec1)).json()
    assert unit in [u["slug"] for u in by_owner["items"]]
    assert (await mclient.get("/api/move-ins/units", params={"q": unit},
                              headers=spec2)).json()["items"] == []
