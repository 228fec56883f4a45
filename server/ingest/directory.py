"""Which device a topic names: a cache over the devices table, loaded a batch at a time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from server.contract.v1 import Topic
from server.devices.models import Device
from server.estates.models import Building, Site


@dataclass(frozen=True)
class DeviceRef:
    id: int
    site_id: int
    site: str
    building_id: int
    building: str
    unit_id: int | None
    kind: str
    slug: str


def _ref_query() -> Any:
    """The columns of a DeviceRef, joined to its site and building."""
    return (
        select(
            Device.id,
            Device.site_id,
            Site.slug,
            Device.building_id,
            Building.slug,
            Device.unit_id,
            Device.kind,
            Device.slug,
        )
        .join(Site, Site.id == Device.site_id)
        .join(Building, Building.id == Device.building_id)
    )


class DeviceDirectory:
    """Maps (site, device slug) to the device row; unknown slugs are remembered briefly.

    The negative cache keeps a flood from an unregistered device cheap, and expires
    so a device added by an admin is recognised within ``miss_ttl_s``.
    """

    def __init__(self, miss_ttl_s: float = 10.0) -> None:
        self._known: dict[tuple[str, str], DeviceRef] = {}
        self._missing: dict[tuple[str, str], float] = {}
        self._auto_register_sites: dict[str, tuple[bool, float]] = {}
        self.miss_ttl_s = miss_ttl_s

    def forget(self) -> None:
        self._known.clear()
        self._missing.clear()
        self._auto_register_sites.clear()

    async def resolve(self, session: AsyncSession, topics: list[Topic]) -> dict[tuple[str, str], DeviceRef]:
        """Look up every topic's device; absent keys are unknown devices."""
        now = time.monotonic()
        wanted = {(t.site, t.device) for t in topics}
        to_load = [key for key in wanted if key not in self._known and self._missing.get(key, 0.0) <= now]
        if to_load:
            for chunk_start in range(0, len(to_load), 500):
                chunk = to_load[chunk_start : chunk_start + 500]
                rows = await session.execute(_ref_query().where(tuple_(Site.slug, Device.slug).in_(chunk)))
                for row in rows:
                    ref = DeviceRef(*row)
                    self._known[(ref.site, ref.slug)] = ref
            for key in to_load:
                if key not in self._known:
                    self._missing[key] = now + self.miss_ttl_s
        return {key: self._known[key] for key in wanted if key in self._known}

    async def by_id(self, session: AsyncSession, device_id: int) -> DeviceRef | None:
        """The device with this id (for the timed rules, which start from stored rows)."""
        row = (await session.execute(_ref_query().where(Device.id == device_id))).first()
        return DeviceRef(*row) if row is not None else None

    async def auto_register(self, session: AsyncSession, topic: Topic) -> DeviceRef | None:
        """Create the device a topic names when its site allows it and the building exists."""
        now = time.monotonic()
        allowed, until = self._auto_register_sites.get(topic.site, (False, 0.0))
        if until <= now:
            options = await session.scalar(select(Site.options).where(Site.slug == topic.site))
            allowed = bool(options and options.get("auto_register_devices"))
            self._auto_register_sites[topic.site] = (allowed, now + self.miss_ttl_s)
        if not allowed:
            return None
        row = (
            await session.execute(
                select(Site.id, Building.id)
                .join(Building, Building.site_id == Site.id)
                .where(Site.slug == topic.site, Building.slug == topic.building)
            )
        ).first()
        if row is None:
            return None
        device = Device(
            site_id=row[0],
            building_id=row[1],
            kind=topic.kind.value,
            slug=topic.device,
            vendor="auto-registered",
        )
        async with session.begin_nested():
            session.add(device)
            await session.flush()
        ref = DeviceRef(
            device.id, row[0], topic.site, row[1], topic.building, None, topic.kind.value, topic.device
        )
        self._known[(topic.site, topic.device)] = ref
        self._missing.pop((topic.site, topic.device), None)
        return ref
