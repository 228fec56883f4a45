"""Checkpoints for an estate: every vacant and renovating unit, and each building's public spots.

Idempotent, and re-runnable as units change state: a unit that became occupied
has its checkpoint deactivated, one that started renovating switches checklist.
``fieldops demo`` calls :func:`seed_checkpoints` after loading the demo estate.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.estates.models import Building, Unit, UnitState
from server.patrols.models import Checkpoint, CheckpointKind

# Building-wide public spots: (place, Chinese name, floor or None for "whole building").
BUILDING_SPOTS = (
    ("lobby", "大堂", 1),
    ("stairwell", "楼梯间", None),
    ("fire_door", "消防通道门", 1),
    ("rubbish_room", "垃圾房", 1),
    ("machine_room", "电梯机房", None),
)
UNIT_KINDS = {UnitState.VACANT: (CheckpointKind.VACANT_UNIT, "空置房"),
              UnitState.RENOVATING: (CheckpointKind.RENOVATION_UNIT, "装修户")}


def _public(building: Building, place: str, name: str, floor: int | None) -> dict[str, object]:
    where = f"{floor}层 " if floor is not None and place == "corridor" else ""
    slug = f"{building.slug}-f{floor:02d}-{place}" if place == "corridor" else f"{building.slug}-{place}"
    return {"slug": slug, "floor": floor, "place": place, "kind": CheckpointKind.PUBLIC_AREA,
            "template": "public_area", "label": f"{building.name} {where}{name}", "unit_id": None}


async def seed_checkpoints(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """Add missing checkpoints and align unit checkpoints with unit states; return counts."""
    now = now or utcnow()
    counts = {"added": 0, "updated": 0, "deactivated": 0}
    existing = {(c.building_id, c.slug): c for c in await session.scalars(select(Checkpoint))}
    for building in await session.scalars(select(Building).order_by(Building.id)):
        wanted = [_public(building, p, n, f) for p, n, f in BUILDING_SPOTS]
        wanted += [_public(building, "corridor", "走廊", floor) for floor in range(1, building.floors + 1)]
        for unit in await session.scalars(select(Unit).where(Unit.building_id == building.id)):
            key = (building.id, unit.slug)
            if unit.state not in UNIT_KINDS:
                if key in existing and existing[key].active:
                    existing[key].active = False
                    counts["deactivated"] += 1
                continue
            kind, name = UNIT_KINDS[unit.state]
            wanted.append({"slug": unit.slug, "floor": unit.floor, "place": "unit", "kind": kind,
                           "template": str(kind), "unit_id": unit.id,
                           "label": f"{building.name} {unit.floor}层 {unit.floor}{unit.number}室 {name}"})
        for spec in wanted:
            found = existing.get((building.id, str(spec["slug"])))
            if found is None:
                session.add(Checkpoint(site_id=building.site_id, building_id=building.id, active=True,
                                       created_at=now, **spec))
                counts["added"] += 1
            elif (found.kind, found.label, found.active) != (spec["kind"], spec["label"], True):
                found.kind, found.template, found.label = str(spec["kind"]), str(spec["template"]), \
                    str(spec["label"])
                found.active = True
                counts["updated"] += 1
    await session.flush()
    return counts
