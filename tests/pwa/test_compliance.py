"""The supervisor's compliance report (GET /api/patrols/compliance) with a controlled clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import login
from tests.pwa.conftest import Clock
from tests.pwa.support import batch, run_item, vacant_answers

SH = ZoneInfo("Asia/Shanghai")
Client = AsyncTestClient[Litestar]


async def _january_patrols(client: Client, clock: Clock) -> tuple[dict[str, Any], dict[str, Any], int]:
    """spec1 patrols unit A once and unit B three times in January; the supervisor walks one corridor."""
    spec1 = await login(client, "spec1")
    points = (await client.get("/api/patrols/checkpoints", headers=spec1)).json()
    vacant = [c for c in points if c["kind"] == "vacant_unit" and c["building"] == "b1"]
    once, thrice = vacant[:2]
    corridor = next(c for c in points if c["slug"] == "b1-f02-corridor")
    january = datetime(2026, 1, 5, 10, tzinfo=SH)
    clock.now = january + timedelta(days=14)
    runs = [
        run_item(once["tag"], january, vacant_answers()),
        run_item(thrice["tag"], january, vacant_answers()),
        run_item(thrice["tag"], january + timedelta(days=2), vacant_answers()),
        run_item(thrice["tag"], january + timedelta(days=14), vacant_answers()),
    ]
    response = await client.post("/api/patrols/sync", json=batch(runs, sent_at=clock.now), headers=spec1)
    assert response.status_code == 200, response.text
    assert response.json()["failed"] is None, response.text
    supervisor = await login(client, "supervisor")
    walk = [
        run_item(
            corridor["tag"],
            january,
            [
                {"item": k, "status": "ok"}
                for k in ("floor_clean", "tiles", "fire_doors", "facilities", "lights", "rubbish")
            ],
            template="public_area",
        )
    ]
    response = await client.post(
        "/api/patrols/sync", json=batch(walk, sent_at=clock.now, device_id="phone-sup-1"), headers=supervisor
    )
    assert response.status_code == 200, response.text
    assert response.json()["failed"] is None, response.text
    return once, thrice, len(vacant)


async def _report(client: Client, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await client.get("/api/patrols/compliance", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _kind(building: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(k for k in building["kinds"] if k["kind"] == kind)


async def test_a_finished_month_counts_due_done_and_missed_per_building_and_specialist(
    pclient: Client, clock: Clock
) -> None:
    once, thrice, units = await _january_patrols(pclient, clock)
    clock.now = datetime(2026, 2, 3, 9, tzinfo=SH)
    supervisor = await login(pclient, "supervisor")
    body = await _report(pclient, supervisor, month="2026-01")
    assert body["since"].startswith("2026-01-01T00:00:00")
    assert body["until"].startswith("2026-02-01T00:00:00")
    assert [b["building"] for b in body["buildings"]] == ["b1", "b2"]
    b1 = body["buildings"][0]

    vacant = _kind(b1, "vacant_unit")
    # Twice a month per unit; the third patrol of unit B adds nothing to the quota.
    assert (vacant["due"], vacant["done"], vacant["missed"]) == (2 * units, 3, 2 * units - 3)
    public = _kind(b1, "public_area")
    assert public["done"] == 1
    assert public["due"] % 31 == 0
    assert (b1["due"], b1["missed"]) == (sum(k["due"] for k in b1["kinds"]), b1["due"] - b1["done"])
    assert b1["open_required"] == 0  # January is over: nothing is still running

    people = {s["username"]: s for s in b1["specialists"]}
    assert people["spec1"]["assigned"] is True
    assert (people["spec1"]["counted"], people["spec1"]["runs"]) == (3, 4)
    # Someone outside the building's staff who patrolled it shows too, not as its specialist.
    assert people["supervisor"]["assigned"] is False
    assert (people["supervisor"]["counted"], people["supervisor"]["runs"]) == (1, 1)
    assert "spec2" not in people

    missed = {(m["checkpoint_id"], m["period_start"][:10]) for m in b1["missed_periods"]}
    assert (once["id"], "2026-01-01") in missed
    assert not any(cid == thrice["id"] for cid, _ in missed)
    unit_a = next(m for m in b1["missed_periods"] if m["checkpoint_id"] == once["id"])
    assert (unit_a["done"], unit_a["required"], unit_a["kind"]) == (1, 2, "vacant_unit")
    assert unit_a["last_at"].startswith("2026-01-05T02:00:00")
    assert len([m for m in b1["missed_periods"] if m["slug"] == "b1-f02-corridor"]) == 30  # walked once
    assert sum(m["required"] - m["done"] for m in b1["missed_periods"]) == b1["missed"]

    b2 = body["buildings"][1]
    assert [s["username"] for s in b2["specialists"]] == ["spec2"]
    assert b2["done"] == 0
    assert b2["missed"] == b2["due"] > 0


async def test_the_running_month_shows_what_is_open_and_overdue(pclient: Client, clock: Clock) -> None:
    _once, _thrice, units = await _january_patrols(pclient, clock)
    clock.now = datetime(2026, 1, 20, 9, tzinfo=SH)  # past mid-month: each unit's first patrol is due
    supervisor = await login(pclient, "supervisor")
    b1 = (await _report(pclient, supervisor, building="b1"))["buildings"]  # default: this month
    assert [b["building"] for b in b1] == ["b1"]
    vacant = _kind(b1[0], "vacant_unit")
    assert (vacant["due"], vacant["missed"]) == (0, 0)  # the month has not ended: nothing missed yet
    assert (vacant["open_required"], vacant["open_done"]) == (2 * units, 3)
    assert vacant["overdue"] == units - 2  # every unit but A and B is late for its first patrol
    # The days already over are judged: 19 days of corridors.
    assert len([m for m in b1[0]["missed_periods"] if m["slug"] == "b1-f03-corridor"]) == 19


async def test_ranges_scope_and_roles(pclient: Client, clock: Clock) -> None:
    clock.now = datetime(2026, 2, 3, 9, tzinfo=SH)
    supervisor = await login(pclient, "supervisor")
    body = await _report(pclient, supervisor, first="2026-01-10", last="2026-01-11", building="b2")
    assert body["since"].startswith("2026-01-10T00:00:00")
    assert body["until"].startswith("2026-01-12T00:00:00")
    corridor = [m for m in body["buildings"][0]["missed_periods"] if m["slug"] == "b2-f01-corridor"]
    assert [m["period_start"][:10] for m in corridor] == ["2026-01-10", "2026-01-11"]
    assert body["stale_device_hours"] == 4

    for params, field in [
        ({"month": "2026-13"}, "month"),
        ({"first": "2026-01-10"}, "last"),
        ({"first": "2026-01-10", "last": "2026-01-09"}, "last"),
        ({"month": "2026-01", "first": "2026-01-01", "last": "2026-01-02"}, "month"),
        ({"first": "2025-01-01", "last": "2026-01-31"}, "last"),
    ]:
        response = await pclient.get("/api/patrols/compliance", headers=supervisor, params=params)
        assert response.status_code in (400, 422), (params, response.text)
        assert field in response.text
    assert (
        await pclient.get("/api/patrols/compliance", headers=supervisor, params={"building": "b9"})
    ).status_code == 404
    spec1 = await login(pclient, "spec1")
    assert (await pclient.get("/api/patrols/compliance", headers=spec1)).status_code == 403
