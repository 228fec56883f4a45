"""The calendar API (admin and supervisor edit, others read) and the SLA API (scoped to buildings)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.sla.breaches import evaluate
from tests.conftest import login
from tests.sla.conftest import Estate, change_ticket, local, open_ticket


async def test_the_year_lists_holidays_and_tiaoxiu_days(sla_client: Any) -> None:
    headers = await login(sla_client, "desk")
    year = (await sla_client.get("/api/calendar/xinwaitan/2026", headers=headers)).json()
    assert year["officially_covered"] is True
    assert year["warning"] is None
    days = {d["day"]: d for d in year["days"]}
    assert days["2026-10-10"]["is_working"] is True
    assert days["2026-10-10"]["name"] == "国庆节调休上班"
    assert days["2026-10-01"] == {"day": "2026-10-01", "is_working": False, "name": "国庆节",
                                  "source": "official", "official_is_working": False,
                                  "official_name": "国庆节", "note": "", "edited_by": None,
                                  "edited_by_name": None, "edited_at": None}
    assert "2026-11-09" not in days  # an ordinary Monday is not listed


async def test_2027_says_it_needs_the_admin(sla_client: Any) -> None:
    headers = await login(sla_client, "admin")
    year = (await sla_client.get("/api/calendar/xinwaitan/2027", headers=headers)).json()
    assert year["officially_covered"] is False
    assert "2027" in year["warning"]
    assert "Monday to Friday" in year["warning"]  # what deadlines do meanwhile (not refused)
    assert year["days"] == []
    response = await sla_client.put("/api/calendar/xinwaitan/days/2027-01-01", headers=headers,
                                    json={"is_working": False, "note": "元旦"})
    assert response.status_code == 200
    assert "maintained by hand" in response.json()["warning"]


async def test_admin_and_supervisor_edit_and_the_edit_is_kept_with_who_and_when(sla_client: Any) -> None:
    admin = await login(sla_client, "admin")
    response = await sla_client.put("/api/calendar/xinwaitan/days/2026-11-09", headers=admin,
                                    json={"is_working": False, "note": "小区停电检修"})
    assert response.status_code == 200, response.text
    day = next(d for d in response.json()["days"] if d["day"] == "2026-11-09")
    assert day["is_working"] is False
    assert day["source"] == "override"
    assert day["official_is_working"] is True
    assert day["edited_by"] == "admin"
    assert day["edited_at"] is not None

    supervisor = await login(sla_client, "supervisor")
    response = await sla_client.put("/api/calendar/xinwaitan/days/2026-11-09", headers=supervisor,
                                    json={"is_working": True, "note": "恢复上班"})
    day = next(d for d in response.json()["days"] if d["day"] == "2026-11-09")
    assert (day["is_working"], day["edited_by"], day["name"]) == (True, "supervisor", "恢复上班")
    assert day["edited_by_name"] == "客服主管 刘洋"

    # Over an official holiday: the site's note names the row, the official name is kept.
    response = await sla_client.put("/api/calendar/xinwaitan/days/2026-10-07", headers=admin,
                                    json={"is_working": True, "note": "物业值班"})
    day = next(d for d in response.json()["days"] if d["day"] == "2026-10-07")
    assert (day["name"], day["official_name"], day["official_is_working"]) == ("物业值班", "国庆节", False)

    assert (await sla_client.delete("/api/calendar/xinwaitan/days/2026-11-09",
                                    headers=admin)).status_code == 204
    year = (await sla_client.get("/api/calendar/xinwaitan/2026", headers=admin)).json()
    assert "2026-11-09" not in {d["day"] for d in year["days"]}
    again = await sla_client.delete("/api/calendar/xinwaitan/days/2026-11-09", headers=admin)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_a_specialist_cannot_edit_the_calendar(sla_client: Any) -> None:
    headers = await login(sla_client, "spec1")
    for response in (
        await sla_client.put("/api/calendar/xinwaitan/days/2026-11-09", headers=headers,
                             json={"is_working": False, "note": "x"}),
        await sla_client.delete("/api/calendar/xinwaitan/days/2026-10-10", headers=headers),
    ):
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await sla_client.get("/api/calendar/xinwaitan/2026", headers=headers)).status_code == 200


async def test_calendar_bad_input(sla_client: Any) -> None:
    headers = await login(sla_client, "admin")
    bad_body = await sla_client.put("/api/calendar/xinwaitan/days/2026-11-09", headers=headers,
                                    json={"is_working": "maybe"})
    assert bad_body.status_code == 400
    assert "is_working" in bad_body.json()["detail"]
    unknown = await sla_client.put("/api/calendar/atlantis/days/2026-11-09", headers=headers,
                                   json={"is_working": False})
    assert unknown.status_code == 404
    assert (await sla_client.get("/api/calendar/xinwaitan/99999", headers=headers)).status_code == 422
    assert (await sla_client.put("/api/calendar/xinwaitan/days/2026-13-40", headers=headers,
                                 json={"is_working": False})).status_code in (400, 404)


async def test_a_tickets_clocks(sla_client: Any, db: async_sessionmaker[AsyncSession],
                                estate: Estate) -> None:
    opened = local(2026, 11, 8, 3)
    ticket = await open_ticket(db, estate, opened)
    await change_ticket(db, ticket, acknowledged_at=opened + timedelta(minutes=1),
                        delay_announced_at=opened + timedelta(minutes=10))
    async with db() as session, session.begin():
        await evaluate(session, opened + timedelta(minutes=16))
    sla = (await sla_client.get(f"/api/tickets/{ticket}/sla", headers=await login(sla_client, "spec1")))
    assert sla.status_code == 200, sla.text
    clocks = {c["clock"]: c for c in sla.json()["clocks"]}
    assert clocks["ack"]["state"] == "met"
    assert clocks["ack"]["breached"] is False
    assert clocks["on_site"]["state"] == "overdue"  # its opening is in the past: the wall clock ran on
    assert clocks["on_site"]["breached"] is True
    assert clocks["on_site"]["announced"] is True
    assert clocks["on_site"]["breach_recorded_at"] is not None
    other_building = await sla_client.get(f"/api/tickets/{ticket}/sla",
                                          headers=await login(sla_client, "spec2"))
    assert other_building.status_code == 404


async def test_breaches_are_listed_counted_and_scoped(sla_client: Any, db: async_sessionmaker[AsyncSession],
                                                      estate: Estate) -> None:
    opened = local(2026, 11, 8, 3)
    in_b1 = await open_ticket(db, estate, opened)
    in_b2 = await open_ticket(db, estate, opened, building_id=estate.b2)
    await change_ticket(db, in_b2, delay_announced_at=opened + timedelta(minutes=5))
    async with db() as session, session.begin():
        await evaluate(session, opened + timedelta(minutes=20))

    desk = (await sla_client.get("/api/sla/breaches", headers=await login(sla_client, "desk"))).json()
    assert desk["total"] == 4
    assert desk["by_clock"] == {"ack": 2, "on_site": 2}
    assert desk["announced"] == 1
    spec2 = (await sla_client.get("/api/sla/breaches", headers=await login(sla_client, "spec2"))).json()
    assert {b["ticket_id"] for b in spec2["items"]} == {in_b2}
    assert spec2["total"] == 2
    headers = await login(sla_client, "manager")
    on_site_b1 = (await sla_client.get("/api/sla/breaches", headers=headers,
                                       params={"clock": "on_site", "building": "b1"})).json()
    assert [(b["ticket_id"], b["clock"], b["announced"]) for b in on_site_b1["items"]] == [
        (in_b1, "on_site", False)]
    later = (await sla_client.get("/api/sla/breaches", headers=headers,
                                  params={"since": (opened + timedelta(minutes=3)).isoformat()})).json()
    assert later["by_clock"] == {"on_site": 2}
    assert (await sla_client.get("/api/sla/breaches?clock=lunch", headers=headers)).status_code == 422
    naive = await sla_client.get("/api/sla/breaches?since=2026-11-08T03:00:00", headers=headers)
    assert naive.status_code == 422
    assert "since" in naive.text
