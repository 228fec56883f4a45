"""Helpers for the move-in tests: uploads, a complete inspection payload, smart meter readings."""

from __future__ import annotations

import io
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.devices.models import Device, MeterReading
from server.movein import templates
from tests.pwa.support import TINY_JPEG, batch, iso

Client = AsyncTestClient[Litestar]
Sessions = async_sessionmaker[AsyncSession]


_shade = itertools.count(1)


def signature_png() -> bytes:
    """A transparent PNG with a stroke on it, as a canvas signature is (each one different)."""
    picture = Image.new("RGBA", (120, 40), (0, 0, 0, 0))
    wobble = next(_shade) % 5 + 3
    for x in range(10, 110):
        picture.putpixel((x, 20 + (x % wobble) - 2), (0, 0, 0, 255))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def meter_jpeg() -> bytes:
    """A small photo; each one a different colour, so none is stored twice."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, next(_shade) * 7 % 256, 160)).save(out, format="JPEG")
    return out.getvalue()


async def upload(client: Client, headers: dict[str, str], data: bytes = TINY_JPEG,
                 content_type: str = "image/jpeg") -> str:
    attachment_id = str(uuid.uuid4())
    response = await client.put(f"/api/attachments/{attachment_id}", content=data,
                                headers={**headers, "Content-Type": content_type})
    assert response.status_code == 201, response.text
    return attachment_id


async def vacant_units(client: Client, headers: dict[str, str], building: str = "b1") -> list[str]:
    response = await client.get("/api/move-ins/units", params={"building": building, "limit": 500},
                                headers=headers)
    assert response.status_code == 200, response.text
    return [u["slug"] for u in response.json()["items"] if u["state"] == "vacant"]


@dataclass
class Photos:
    owner_signature: str
    staff_signature: str
    meters: dict[str, str]
    defects: list[str] = field(default_factory=list)


async def photos(client: Client, headers: dict[str, str], defects: int = 2) -> Photos:
    return Photos(
        owner_signature=await upload(client, headers, signature_png(), "image/png"),
        staff_signature=await upload(client, headers, signature_png(), "image/png"),
        meters={q: await upload(client, headers, meter_jpeg()) for q in ("water", "electricity", "gas")},
        defects=[await upload(client, headers, meter_jpeg()) for _ in range(defects)])


DEFECT_ITEMS = ("walls", "taps")


def answers(defect_photos: list[str]) -> list[dict[str, Any]]:
    """Every item of the current template: ok, gas valve n/a, a defect per photo given."""
    template = templates.current_templates()[0]
    result: list[dict[str, Any]] = []
    defects = dict(zip(DEFECT_ITEMS, defect_photos, strict=False))
    for item in template.checklist.items:
        if item.key in defects:
            result.append({"item": item.key, "status": "defect", "note": f"{item.zh}有问题",
                           "photo_id": defects[item.key]})
        else:
            result.append({"item": item.key, "status": "na" if item.key == "gas_valve" else "ok"})
    return result


def payload(unit: str, shots: Photos, handed_over_at: datetime, *, owner: str = "张伟",
            readings: dict[str, float] | None = None, cards: list[str] | None = None,
            stage: str = "handover", defects: bool = True, **changes: Any) -> dict[str, Any]:
    values = readings if readings is not None else {"water": 12.5, "electricity": 345.6, "gas": 3.2}
    body: dict[str, Any] = {
        "unit": unit, "stage": stage, "owner_name": owner, "owner_phone": "13800138000",
        "staff": ["工程部 赵强"], "template": "move_in", "template_version": 1,
        "started_at": iso(handed_over_at - timedelta(minutes=40)), "handed_over_at": iso(handed_over_at),
        "answers": answers(shots.defects if defects else []),
        "readings": [{"quantity": q, "value": v, "photo_id": shots.meters[q]} for q, v in values.items()],
        "keys": 4, "access_cards": cards if cards is not None else ["0012340001", "0012340002"],
        "utility_cards": {"electricity": "E-778812", "water": "W-556201", "gas": "G-330918"},
        "owner_signature_id": shots.owner_signature, "staff_signature_id": shots.staff_signature,
        "note": "业主要求尽快整改",
    }
    body.update(changes)
    return body


def move_in_item(body: dict[str, Any], *, item_id: str | None = None,
                 at: datetime | None = None) -> dict[str, Any]:
    return {"id": item_id or str(uuid.uuid4()), "kind": "move_in",
            "device_time": iso(at or datetime.now(UTC)), "payload": body}


async def sync(client: Client, headers: dict[str, str], *items: dict[str, Any]) -> Any:
    return await client.post("/api/patrols/sync", json=batch(list(items)), headers=headers)


async def smart_readings(db: Sessions, unit: str, quantity: str,
                         values: list[tuple[datetime, float]]) -> None:
    """Readings the unit's smart meter sent over MQTT (stored as the ingest stores them)."""
    async with db() as session, session.begin():
        meter = await session.scalar(select(Device).where(Device.slug == f"{unit}-{quantity[0]}"))
        assert meter is not None
        uom = {"water": "m3", "electricity": "kWh", "gas": "m3"}[quantity]
        for at, value in values:
            session.add(MeterReading(device_id=meter.id, reading_id=f"r-{uuid.uuid4().hex[:12]}",
                                     unit_id=meter.unit_id, quantity=quantity, value=value, uom=uom, ts=at,
                                     received_at=at))


async def count(db: Sessions, model: Any, *where: Any) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0
