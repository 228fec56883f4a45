"""Helpers shared by the patrol tests: outbox items, a JPEG, waiting with a deadline."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# The smallest valid JPEG (1×1 px): enough for the server's magic-number check.
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////"
    "////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)


def until(check: Callable[[], Any], timeout: float = 15, what: Any = "condition") -> Any:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds (no bare sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.1)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def scan_item(tag: str, at: datetime, *, via: str = "qr", item_id: str | None = None) -> dict[str, Any]:
    return {
        "id": item_id or str(uuid.uuid4()),
        "kind": "scan",
        "device_time": iso(at),
        "payload": {"tag": tag, "via": via},
    }


def vacant_answers(*, defect_photo: str | None = None, water: float = 12.5) -> list[dict[str, Any]]:
    keys = [
        "entry_door",
        "walls",
        "doors_windows",
        "leaks",
        "intercom",
        "gas_meter",
        "lock",
        "occupation",
        "cleaning",
    ]
    answers: list[dict[str, Any]] = [{"item": k, "status": "ok"} for k in keys]
    if defect_photo:
        answers[3] = {"item": "leaks", "status": "defect", "note": "天花板渗水", "photo_id": defect_photo}
    answers.append({"item": "water_meter", "number": water})
    return answers


def run_item(
    tag: str,
    at: datetime,
    answers: list[dict[str, Any]],
    *,
    template: str = "vacant_unit",
    item_id: str | None = None,
    via: str = "qr",
) -> dict[str, Any]:
    return {
        "id": item_id or str(uuid.uuid4()),
        "kind": "patrol_run",
        "device_time": iso(at),
        "payload": {
            "tag": tag,
            "via": via,
            "template": template,
            "template_version": 1,
            "started_at": iso(at),
            "finished_at": iso(at),
            "answers": answers,
        },
    }


def batch(
    items: list[dict[str, Any]], *, sent_at: datetime | None = None, device_id: str = "phone-test-0001"
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "sent_at": iso(sent_at or datetime.now(UTC)),
        "app_version": "test",
        "items": items,
    }
