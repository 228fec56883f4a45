"""Plausibility flags: signs that a patrol was not walked the way it claims.

Scans are judged by the phone's own times (when the specialist was there), so a
batch synced hours later is judged the same as one synced at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.patrols.config import Plausibility
from server.patrols.models import Checkpoint, FlagKind, PatrolFlag, PatrolScan


async def check_scan(session: AsyncSession, scan: PatrolScan, checkpoint: Checkpoint,
                     rules: Plausibility, now: datetime) -> list[PatrolFlag]:
    """Flags for a scan just stored: a floor jump, or the same tag over and over."""
    flags: list[PatrolFlag] = []
    window = timedelta(seconds=rules.floor_jump_seconds)
    if checkpoint.floor is not None:
        neighbours = await session.execute(
            select(PatrolScan.scanned_at, Checkpoint.floor, Checkpoint.slug)
            .join(Checkpoint, Checkpoint.id == PatrolScan.checkpoint_id)
            .where(PatrolScan.user_id == scan.user_id, PatrolScan.id != scan.id,
                   Checkpoint.building_id == checkpoint.building_id,
                   PatrolScan.scanned_at.between(scan.scanned_at - window, scan.scanned_at + window),
                   Checkpoint.floor.is_not(None))
        )
        here = checkpoint.floor
        for at, floor, slug in neighbours:
            if floor is not None and abs(floor - here) >= rules.floor_jump_min_floors:
                flags.append(_flag(FlagKind.FLOOR_JUMP, scan, checkpoint, now, {
                    "other": slug, "floors": abs(floor - here),
                    "seconds": abs((scan.scanned_at - at).total_seconds())}))
                break
    repeat_window = timedelta(seconds=rules.repeat_scan_window_seconds)
    same = await session.scalar(
        select(func.count()).select_from(PatrolScan).where(
            PatrolScan.user_id == scan.user_id, PatrolScan.checkpoint_id == scan.checkpoint_id,
            PatrolScan.scanned_at.between(scan.scanned_at - repeat_window, scan.scanned_at))
    ) or 0
    # Flag once, when the count reaches the threshold, not on every scan after it.
    if same == rules.repeat_scan_count:
        flags.append(_flag(FlagKind.REPEAT_SCAN, scan, checkpoint, now,
                           {"count": same, "window_s": rules.repeat_scan_window_seconds}))
    session.add_all(flags)
    return flags


def _flag(kind: FlagKind, scan: PatrolScan, checkpoint: Checkpoint, now: datetime,
          detail: dict[str, object]) -> PatrolFlag:
    return PatrolFlag(kind=kind, user_id=scan.user_id, device_id=scan.device_id,
                      checkpoint_id=checkpoint.id, at=now,
                      detail={"scanned_at": scan.scanned_at.isoformat(), **detail})


def clock_skew(sent_at: datetime, now: datetime, rules: Plausibility) -> float | None:
    """Seconds the phone's clock is off, when beyond the tolerance; else None."""
    offset = (sent_at - now).total_seconds()
    return offset if abs(offset) > rules.clock_skew_seconds else None
