"""The phone's outbox, replayed: idempotent, in order, stopping at the first failure.

Each item carries a client UUID. The same UUID with the same content is answered
again with what it produced the first time; the same UUID with different content
is a conflict (never a silent overwrite). Each item runs in its own savepoint, so
a failing item leaves no trace and the items before it stay committed — the phone
drops those from its outbox and keeps the failing one at the head.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.schemas import CurrentUser
from server.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from server.estates.models import Building, Site, Unit
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


@dataclass
class SyncContext:
    """What every outbox item's handler may use: one batch, one transaction."""

    session: AsyncSession
    user: CurrentUser
    batch: SyncBatch
    config: PatrolConfig
    now: datetime
    tag_key: bytes
    client: str
    readings: dict[tuple[int, str], Any] = field(default_factory=dict)  # smart meter values, read once
    # Checkpoints, buildings and units the batch names, loaded at once and held here: the
    # session's identity map keeps objects only while someone refers to them, so without
    # this every item loaded them again (three queries an item; measured, bench/pwa_sync.py).
    places: list[Any] = field(default_factory=list)


Handler = Callable[[SyncContext, SyncItem], Awaitable[tuple[dict[str, Any], list[Outcome]]]]


@dataclass(frozen=True)
class OutboxKind:
    audit_kind: str  # ClientAction.kind
    handle: Handler
    # Ticket actions remember their client id in the ticket lifecycle itself (the same id may
    # arrive through the tickets API); the replay check is then the lifecycle's.
    self_recorded: bool = False


def outbox_kinds() -> dict[str, OutboxKind]:
    """Every kind of outbox item the phone may send, and who stores it.

    Imported here, not at module level: those areas import this module's context.
    """
    from server.movein.sync import store_move_in
    from server.tickets.outbox import act_from_outbox, create_from_outbox

    return {
        "scan": OutboxKind("patrol.scan", _scan),
        "patrol_run": OutboxKind("patrol.run", _run),
        "move_in": OutboxKind("move_in.inspection", store_move_in),
        "ticket_action": OutboxKind("ticket.action", act_from_outbox, self_recorded=True),
        "ticket_create": OutboxKind("ticket.create", create_from_outbox, self_recorded=True),
    }


@dataclass
class SyncOutcome:
    result: SyncResult
    status: int  # 200, or the failed item's status
    tickets: list[Outcome] = field(default_factory=list)  # to publish after commit


def fingerprint(item: SyncItem) -> str:
    """The content of an item, independent of key order and time-zone spelling."""
    canonical = {
        "kind": item.kind,
        "device_time": item.device_time.astimezone(UTC).isoformat(),
        "payload": item.payload,
    }
    return hashlib.sha256(msgspec.json.encode(canonical, order="sorted")).hexdigest()


async def sync_batch(
    session: AsyncSession, user: CurrentUser, batch: SyncBatch, now: datetime, tag_key: bytes, client: str
) -> SyncOutcome:
    config = await _config(session)
    context = SyncContext(session, user, batch, config, now, tag_key, client)
    context.places = await _load_places(session, batch, tag_key)
    kinds = outbox_kinds()
    earlier = {
        a.id: a
        for a in await session.scalars(
            select(ClientAction).where(ClientAction.id.in_([i.id for i in batch.items]))
        )
    }
    # Optimistic: one savepoint for the batch, not one per item (two round trips each, most of
    # a sync's time on SQLite). A refused item may have written part of itself before the
    # refusal, so then the batch is rolled back and the items before it are applied again.
    items, failed = batch.items, None
    while True:
        applied = _Applied()
        try:
            async with session.begin_nested():
                await _apply(context, kinds, items, dict(earlier), applied)
        except _Refused:
            failed = applied.failed
            items = items[: len(applied.accepted)]
            continue
        break
    accepted, tickets = applied.accepted, applied.tickets
    await _record_device(session, user, batch, now, len(accepted), config)
    return SyncOutcome(
        SyncResult(accepted=accepted, failed=failed, server_time=now),
        200 if failed is None else failed.status,
        tickets,
    )


@dataclass
class _Applied:
    accepted: list[ItemResult] = field(default_factory=list)
    tickets: list[Outcome] = field(default_factory=list)
    failed: ItemFailure | None = None


class _Refused(Exception):
    """Rolls the batch's savepoint back; the refusal itself is in ``_Applied.failed``."""


async def _apply(ctx: SyncContext, kinds: dict[str, OutboxKind], items: list[SyncItem],
                 earlier: dict[str, ClientAction], applied: _Applied) -> None:
    for item in items:
        try:
            result, new_tickets = await _one(ctx, kinds[item.kind], item, earlier)
        except DomainError as exc:
            applied.failed = ItemFailure(
                id=item.id, status=exc.status, title=exc.title, detail=exc.detail,
                extra=dict(exc.extra), code=exc.code,
            )
            raise _Refused from exc
        applied.accepted.append(result)
        applied.tickets += new_tickets


async def _one(
    ctx: SyncContext, kind: OutboxKind, item: SyncItem, earlier: dict[str, ClientAction]
) -> tuple[ItemResult, list[Outcome]]:
    if kind.self_recorded:
        result, tickets = await kind.handle(ctx, item)
        replayed = all(t.replayed for t in tickets) and bool(tickets)
        return ItemResult(id=item.id, status="replayed" if replayed else "created", result=result), tickets
    print_ = fingerprint(item)
    seen = earlier.get(item.id)
    if seen is not None:
        if seen.fingerprint != print_ or seen.user_id != ctx.user.id or seen.kind != kind.audit_kind:
            raise Conflict(
                "This outbox item was already synced with different content; nothing "
                "was changed. Export it and tell your supervisor.",
                code="client_action.reused",
                item_id=item.id,
            )
        return ItemResult(id=item.id, status="replayed", result=dict(seen.result)), []
    result, tickets = await kind.handle(ctx, item)
    # Parameters apart from the statement: it is compiled once per process, not per item.
    await ctx.session.execute(
        insert(ClientAction),
        [{"id": item.id, "user_id": ctx.user.id, "fingerprint": print_, "kind": kind.audit_kind,
          "result": result, "device_time": item.device_time, "received_at": ctx.now}],
    )
    # A later item in the same batch with this id is then a replay (or a conflict).
    earlier[item.id] = ClientAction(
        id=item.id, user_id=ctx.user.id, fingerprint=print_, kind=kind.audit_kind, result=result
    )
    return ItemResult(id=item.id, status="created", result=result), tickets


async def _scan(ctx: SyncContext, item: SyncItem) -> tuple[dict[str, Any], list[Outcome]]:
    payload = decode_payload(item.payload, ScanPayload)
    checkpoint = await _checkpoint(ctx.session, ctx.user, payload.tag, ctx.tag_key)
    scan = PatrolScan(
        id=item.id,
        checkpoint_id=checkpoint.id,
        user_id=ctx.user.id,
        device_id=ctx.batch.device_id,
        via=payload.via,
        scanned_at=item.device_time,
        received_at=ctx.now,
    )
    ctx.session.add(scan)
    await ctx.session.flush()
    flags = await plausibility.check_scan(ctx.session, scan, checkpoint, ctx.config.plausibility, ctx.now)
    return {"scan_id": scan.id, "checkpoint_id": checkpoint.id, "flags": [f.kind for f in flags]}, []


async def _run(ctx: SyncContext, item: SyncItem) -> tuple[dict[str, Any], list[Outcome]]:
    payload = decode_payload(item.payload, RunPayload)
    checkpoint = await _checkpoint(ctx.session, ctx.user, payload.tag, ctx.tag_key)
    return await store_run(
        ctx.session,
        ctx.user,
        checkpoint,
        item.id,
        ctx.batch.device_id,
        payload,
        ctx.now,
        ctx.client,
        ctx.readings,
    )


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


async def _load_places(session: AsyncSession, batch: SyncBatch, tag_key: bytes) -> list[Any]:
    """Every checkpoint a tag in the batch names, with its building and unit (bad tags are
    refused later, item by item)."""
    ids = set()
    for item in batch.items:
        tag = item.payload.get("tag")
        if isinstance(tag, str):
            with contextlib.suppress(BadTag):
                ids.add(verify_tag(tag_key, tag))
    if not ids:
        return []
    checkpoints = list(await session.scalars(select(Checkpoint).where(Checkpoint.id.in_(ids))))
    building_ids = {c.building_id for c in checkpoints}
    unit_ids = {c.unit_id for c in checkpoints if c.unit_id is not None}
    buildings = list(await session.scalars(select(Building).where(Building.id.in_(building_ids))))
    units = list(await session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))) if unit_ids else []
    return [*checkpoints, *buildings, *units]


def decode_payload(payload: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(payload, kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"Outbox item payload is invalid: {exc}") from None


async def _config(session: AsyncSession) -> PatrolConfig:
    site = await session.scalar(select(Site).order_by(Site.id).limit(1))
    return patrol_config(site.options if site else None)


async def _record_device(
    session: AsyncSession,
    user: CurrentUser,
    batch: SyncBatch,
    now: datetime,
    accepted: int,
    config: PatrolConfig,
) -> None:
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
        session.add(
            PatrolFlag(
                kind=FlagKind.CLOCK_SKEW,
                user_id=user.id,
                device_id=batch.device_id,
                at=now,
                detail={"offset_s": round(skew, 1)},
            )
        )
