"""Wire shapes of devices."""

from __future__ import annotations

from datetime import datetime

import msgspec


class DeviceRead(msgspec.Struct):
    id: int
    slug: str
    kind: str
    building: str
    unit: str | None
    role: str | None
    vendor: str | None
    online: bool | None  # null until the device has reported a status
    last_seen_at: datetime | None
    status_changed_at: datetime | None


class DevicePage(msgspec.Struct):
    items: list[DeviceRead]
    total: int
    limit: int
    offset: int
