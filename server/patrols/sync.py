"""The phone's outbox, replayed: idempotent, in order, stopping at the first failure.

Each item carries a client UUID. The same UUID with the same content is answered
again with what it produced the first time; the same UUID with different content
is a conflict (never a silent overwrite). Each item runs in its own savepoint, so
a failing item leaves no trace and the items before it stay committed — the phone
drops those from its outbox and keeps the failing one at the head.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.schemas import CurrentUser
from server.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from server.estates.models import Site
from server.patrols import plausibility
from server.patrols.config import PatrolConfig, patrol_config
from server.patrols.models import Checkpoint, FlagKind, PatrolDevice, PatrolFlag, PatrolScan
from server.patrols.runs import store_run
from server.patrols.schemas import (
    ItemFailure,
    ItemResult,
    RunPayload,
    ScanPayload,
    SyncBatch,
    SyncItem,
    SyncResult,
)
from server.patrols.tags import BadTag, verify_tag
from server.tickets.lifecycle import Outcome
from server.tickets.models import ClientAction

T = TypeVar("T")
_KIND = {"scan": "patrol.scan", "patrol_run": "patrol.run"}


@dataclass
class SyncOutcome:
    result: SyncResult
    status: int  # 200, or the failed item's status
    tickets: list[Outcome] = field(default_factory=list)  # to publish after commit


def fingerprint(item: SyncItem) -> str:
    """The content of an item, independent of key order and time-zone spelling."""
    canonical = {"kind": item.kind, "device_time": item.device_time.astimezone(UTC).isoformat(),
                 "payload": item.payload}
    return hashlib.sha256(msgspec.json.encode(canonical, order="sorted")).hexdigest()


async def sync_batch(session: AsyncSession, user: CurrentUser, batch: SyncBatch, now: datetime,
                     tag_key: bytes, client: str) -> SyncOutcome:
    config = await _config(session)
    earlier = {a.id: a for a in await session.scalars(
        select(ClientAction).where(ClientAction.id.in_([i.id for i in batch.items])))}
    accepted: list[ItemResult] = []
    failed: ItemFailure | None = None
    tickets: list[Outcome] = []
    readings: dict[tuple[int, str], Any] = {}  # smart meter values, read once per batch
    for item in batch.items:
        try:
            async with session.begin_nested():
                result, new_tickets = await _one(session, user, batch, item, earlier, config, now,
                                                 tag_key, client, readings)
        except DomainError as exc:
            failed = ItemFailure(id=item.id, status=exc.status, title=exc.title, detail=exc.detail,
                                 extra=dict(exc.extra))
            break
        accepted.append(result)
        tickets += new_tickets
    await _record_device(session, user, batch, now, len(accepted), config)
    return SyncOutcome(SyncResult(accepted=accepted, failed=failed, server_time=now),
                       200 if failed is None else failed.status, tickets)


async def _one(session: AsyncSession, user: CurrentUser, batch: SyncBatch, item: SyncItem,
               earlier: dict[str, ClientAction], config: PatrolConfig, now: datetime, tag_key: bytes,
               client: str, readings: dict[tuple[int, str], Any]) -> tuple[ItemResult, list[Outcome]]:
    print_ = fingerprint(item)
    seen = earlier.get(item.id)
    if seen is not None:
        if seen.fingerprint != print_ or seen.user_id != user.id or seen.kind != _KIND[item.kind]:
            raise Conflict("This outbox item was already synced with different content; nothing "
                           "was changed. Export it and tell your supervisor.", item_id=item.id)
        return ItemResult(id=item.id, status="replayed", result=dict(seen.result)), []
    tickets: list[Outcome] = []
    if item.kind == "scan":
        result = await _scan(session, user, batch, item, config, now, tag_key)
    else:
        payload = _decode(item.payload, RunPayload)
        checkpoint = await _checkpoint(session, user, payload.tag, tag_key)
        result, tickets = await store_run(session, user, checkpoint, item.id, batch.device_id, payload,
                                          now, client, readings)
    await session.execute(insert(ClientAction).values(
        id=item.id, user_id=user.id, fingerprint=print_, kind=_KIND[item.kind], result=result,
        device_time=item.device_time, received_at=now))
    # A later item in the same batch with this id is then a replay (or a conflict).
    earlier[item.id] = ClientAction(id=item.id, user_id=user.id, fingerprint=print_,
                                    kind=_KIND[item.kind], result=result)
    return ItemResult(id=item.id, status="created", result=result), tickets


async def _scan(session: AsyncSession, user: CurrentUser, batch: SyncBatch, item: SyncItem,
                config: PatrolConfig, now: datetime, tag_key: bytes) -> dict[str, Any]:
    payload = _decode(item.payload, ScanPayload)
    checkpoint = await _checkpoint(session, user, payload.tag, tag_key)
    scan = PatrolScan(id=item.id, checkpoint_id=checkpoint.id, user_id=user.id, device_id=batch.device_id,
                      via=payload.via, scanned_at=item.device_time, received_at=now)
    session.add(scan)
    await session.flush()
    flags = await plausibility.check_scan(session, scan, checkpoint, config.plausibility, now)
    return {"scan_id": scan.id, "checkpoint_id": checkpoint.id, "flags": [f.kind for f in flags]}


async def _checkpoint(session: AsyncSession, user: CurrentUser, tag: str, tag_key: bytes) -> Checkpoint:
    try:
        checkpoint_id = verify_tag(tag_key, tag)
    except BadTag as exc:
        raise InvalidInput.at("payload.tag", f"Tag refused: {exc}.", "bad tag") from None
    checkpoint = await session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise NotFound(f"No checkpoint {checkpoint_id}.")
    if not user.may_see_building(checkpoint.building_id):
        raise Forbidden(f"Checkpoint {checkpoint.slug} is not in your buildings.")
    return checkpoint


def _decode(payload: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(payload, kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"Outbox item payload is invalid: {exc}") from None


async def _config(session: AsyncSession) -> PatrolConfig:
    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    return patrol_config(site.options if site else None)


async def _record_device(session: AsyncSession, user: CurrentUser, batch: SyncBatch, now: datetime,
                         accepted: int, config: PatrolConfig) -> None:
    """The phone's last sync, so a supervisor sees one that has not synced for hours."""
    offset = (batch.sent_at - now).total_seconds()
    device = await session.get(PatrolDevice, batch.device_id)
    if device is None:
        device = PatrolDevice(id=batch.device_id, items_synced=0)
        session.add(device)
    device.user_id = user.id
    device.app_version = batch.app_version
    device.last_sync_at = now
    device.last_device_time = batch.sent_at
    device.clock_offset_s = offset
    device.items_synced = (device.items_synced or 0) + accepted
    skew = plausibility.clock_skew(batch.sent_at, now, config.plausibility)
    if skew is not None:
        session.add(PatrolFlag(kind=FlagKind.CLOCK_SKEW, user_id=user.id, device_id=batch.device_id,
                               at=now, detail={"offset_s": round(skew, 1)}))
