"""Daily clearing and the monthly complaint summary: JSON, CSV and XLSX agree."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from server.app import create_app
from tests.conftest import login, make_settings
from tests.ingest.conftest import FakeClock

Client = AsyncTestClient[Litestar]


@pytest.fixture
def clock() -> FakeClock:
    clock = FakeClock()
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    return clock


@pytest.fixture
async def client_at(tmp_path: Path, sqlite_demo_url: str, clock: FakeClock):  # type: ignore[no-untyped-def]
    app = create_app(make_settings(tmp_path, sqlite_demo_url), clock=clock)
    async with AsyncTestClient(app=app) as client:
        yield client


async def _open(client: Client, headers: dict[str, str], **body: object) -> int:
    response = await client.post(
        "/api/tickets", json={"source": "phone", "building": "b1", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _act(
    client: Client, headers: dict[str, str], ticket_id: int, action: str, **fields: object
) -> None:
    response = await client.post(
        f"/api/tickets/{ticket_id}/actions", json={"action": action, **fields}, headers=headers
    )
    assert response.status_code == 200, response.text


async def test_daily_clearing_lists_open_requests_overdue_first(client_at: Client, clock: FakeClock) -> None:
    desk = await login(client_at, "desk")
    late = await _open(client_at, desk, kind="repair", title="电梯按钮坏了", needs_on_site=True)
    clock.advance(20 * 60)  # the first one is now 5 minutes past its 15-minute on-site limit
    on_time = await _open(client_at, desk, kind="repair", title="楼道灯不亮", needs_on_site=True)
    done = await _open(client_at, desk, kind="help", title="帮忙搬东西")
    await _act(client_at, desk, done, "resolve")
    report = (await client_at.get("/api/reports/daily-clearing", headers=desk)).json()
    assert [r["ticket_id"] for r in report["rows"]] == [late, on_time]
    assert report["rows"][0]["overdue_minutes"] == 5
    assert report["rows"][0]["next_limit"] == "on_site"
    assert report["rows"][0]["owner"] == "客服中心 王芳"  # the first receiver owns it until dispatched
    assert report["overdue_count"] == 1
    assert report["day"] == "2026-11-20"

    csv_body = (await client_at.get("/api/reports/daily-clearing?format=csv", headers=desk)).content
    assert csv_body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(csv_body.decode("utf-8-sig"))))
    assert rows[0][0].startswith("工单号")
    assert [int(r[0]) for r in rows[1:]] == [late, on_time]
    assert rows[1][1] == "repair"


async def test_monthly_complaint_summary_and_its_xlsx(client_at: Client, clock: FakeClock) -> None:
    desk, supervisor = await login(client_at, "desk"), await login(client_at, "supervisor")
    ids = []
    for title in ("装修噪音", "垃圾未清", "停车位被占"):
        ids.append(await _open(client_at, desk, kind="complaint", title=title, classification="minor"))
    major = await _open(
        client_at,
        desk,
        kind="complaint",
        title="屋顶漏水多次未修",
        classification="major",
        department="engineering",
    )
    await _act(client_at, desk, ids[0], "resolve")  # on time
    await _act(client_at, desk, ids[0], "follow_up", satisfaction=5)
    clock.advance(25 * 3600)  # past the minor complaint's 24 hours
    await _act(client_at, desk, ids[1], "resolve")  # late
    await _act(client_at, desk, ids[1], "follow_up", satisfaction=3)
    await _act(client_at, supervisor, ids[2], "classify", classification="invalid")

    report = (await client_at.get("/api/reports/complaints?month=2026-11", headers=desk)).json()
    assert report["total"] == 4
    assert report["due_on"] == "2026-11-28"
    rows = {(r["classification"], r["department"]): r for r in report["rows"]}
    minor = rows[("minor", "customer_service")]
    assert (minor["received"], minor["resolved"], minor["resolved_on_time"]) == (2, 2, 1)
    assert minor["on_time_rate"] == pytest.approx(0.5)
    assert minor["average_satisfaction"] == pytest.approx(4.0)
    assert rows[("major", "engineering")]["still_open"] == 1
    assert rows[("invalid", "customer_service")]["received"] == 1
    assert major

    xlsx = await client_at.get("/api/reports/complaints?month=2026-11&format=xlsx", headers=desk)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[3]]
    assert header[0].startswith("投诉类别")
    by_key = {(r[0], r[1]): r for r in sheet.iter_rows(min_row=4, values_only=True)}
    xl_minor = by_key[("minor", "customer_service")]
    assert xl_minor[header.index("受理数 Received")] == minor["received"]
    assert xl_minor[header.index("按时处理 On time")] == minor["resolved_on_time"]
    assert xl_minor[header.index("及时率 On-time rate")] == pytest.approx(minor["on_time_rate"])
    assert xl_minor[header.index("平均满意度 Satisfaction")] == pytest.approx(minor["average_satisfaction"])

    empty = (await client_at.get("/api/reports/complaints?month=2026-10", headers=desk)).json()
    assert empty["total"] == 0
    bad = await client_at.get("/api/reports/complaints?month=November", headers=desk)
    assert bad.status_code == 400
    assert "month" in bad.text
    assert (
        await client_at.get(
            "/api/reports/complaints?month=2026-11", headers=await login(client_at, "engineer")
        )
    ).status_code == 403
