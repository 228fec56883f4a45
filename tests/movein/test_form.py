"""The signed inspection form as a PDF, in Chinese and in English."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader

from tests.conftest import login
from tests.movein.support import (
    Client,
    Sessions,
    move_in_item,
    payload,
    photos,
    smart_readings,
    sync,
    upload,
    vacant_units,
)
from tests.pwa.support import TINY_JPEG

HANDOVER = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _images(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


async def test_the_form_in_chinese_and_english(mclient: Client, mdb: Sessions) -> None:
    spec1 = await login(mclient, "spec1")
    unit = (await vacant_units(mclient, spec1))[0]
    await smart_readings(mdb, unit, "water", [(HANDOVER + timedelta(minutes=20), 19.0)])
    shots = await photos(mclient, spec1)
    unreadable = await upload(mclient, spec1, TINY_JPEG)  # valid magic number, no picture in it
    body = payload(unit, shots, HANDOVER, owner="欧阳娜娜",
                   readings={"water": 12.5, "electricity": 345.6, "gas": 3.2},
                   proxy={"name": "陈小明", "phone": "13900001111",
                          "power_of_attorney": "委托书编号 2026-118", "attachment_id": unreadable})
    item = move_in_item(body)
    assert (await sync(mclient, spec1, item)).status_code == 200

    desk = await login(mclient, "desk")
    response = await mclient.get(f"/api/move-ins/{item['id']}.pdf", headers=desk)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert unit in response.headers["content-disposition"]
    text = _text(response.content)
    for words in (unit, "欧阳娜娜", "陈小明", "委托书编号 2026-118", "入伙房屋验收表", "水表", "12.5 m³",
                  "19 m³", "不符，待核查", "电表", "345.6 kWh", "无智能表数据", "0012340001", "W-556201",
                  "墙面", "不合格", "2026-11-23 09:30", "1#楼专员 李明", "工程部 赵强"):
        assert words in text, words
    # Two defect photos, three meter photos, two signatures; the broken upload is named, not fatal.
    assert _images(response.content) == 7
    assert "（图片无法读取）" in text

    english = await mclient.get(f"/api/move-ins/{item['id']}.pdf", params={"lang": "en"}, headers=spec1)
    assert english.status_code == 200
    text = _text(english.content)
    for words in ("Move-in house inspection form", "Water meter", "12.5 m³", "19 m³",
                  "Flagged #", "No smart meter", "Owner (or proxy)", "Defect", unit, "欧阳娜娜"):
        assert words in text, words
    assert "水表" not in text

    bad = await mclient.get(f"/api/move-ins/{item['id']}.pdf", params={"lang": "fr"}, headers=spec1)
    assert bad.status_code == 400
