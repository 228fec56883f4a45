"""Wire shapes of the patrol API and of the phone's outbox items."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from server.tickets.schemas_write import ClientId

DeviceId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
TagContent = Annotated[str, msgspec.Meta(max_length=64)]
ShortText = Annotated[str, msgspec.Meta(max_length=2000)]


class Answer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    item: Annotated[str, msgspec.Meta(max_length=48)]
    status: Literal["ok", "defect", "na"] | None = None
    number: float | None = None
    text: ShortText | None = None
    note: ShortText | None = None
    photo_id: ClientId | None = None


class ScanPayload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    tag: TagContent
    via: Literal["qr", "manual"] = "qr"


class RunPayload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    tag: TagContent
    via: Literal["qr", "manual"] = "qr"
    template: Annotated[str, msgspec.Meta(max_length=32)]
    template_version: int
    started_at: datetime
    finished_at: datetime
    answers: Annotated[list[Answer], msgspec.Meta(max_length=100)]


class SyncItem(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One outbox entry: the phone made its id and recorded its time."""

    id: ClientId
    kind: Literal["scan", "patrol_run"]
    device_time: datetime
    payload: dict[str, Any]


class SyncBatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    device_id: DeviceId
    sent_at: datetime  # the phone's clock when it sent the batch: compared with the server's
    app_version: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    items: Annotated[list[SyncItem], msgspec.Meta(max_length=500)]


class ItemResult(msgspec.Struct):
    id: str
    status: Literal["created", "replayed"]
    result: dict[str, Any]


class ItemFailure(msgspec.Struct):
    id: str
    status: int
    title: str
    detail: str
    extra: dict[str, Any] = {}


class SyncResult(msgspec.Struct):
    accepted: list[ItemResult]
    failed: ItemFailure | None
    server_time: datetime


class CheckpointRead(msgspec.Struct):
    id: int
    slug: str
    building: str
    floor: int | None
    kind: str
    place: str
    label: str
    template: str
    unit: str | None
    tag: str  # what its QR says: lets the phone refuse a forged tag while offline


class CheckpointDetail(msgspec.Struct):
    checkpoint: CheckpointRead
    hints: dict[str, Any]


class TemplateItemRead(msgspec.Struct):
    key: str
    type: str
    zh: str
    en: str
    required: bool
    hint: str | None


class TemplateRead(msgspec.Struct):
    name: str
    version: int
    zh: str
    en: str
    items: list[TemplateItemRead]


class DueItem(msgspec.Struct):
    checkpoint_id: int
    slug: str
    label: str
    kind: str
    floor: int | None
    building: str
    required: int  # patrols in the current period
    done: int
    due_by: datetime | None  # when the next one is due; None when the period's quota is met
    overdue: bool
    last_at: datetime | None


class TodayList(msgspec.Struct):
    now: datetime
    items: list[DueItem]


class MissedPatrol(msgspec.Struct):
    checkpoint_id: int
    slug: str
    label: str
    period_start: datetime
    period_end: datetime
    required: int
    done: int


class SpecialistReport(msgspec.Struct):
    user_id: int | None
    username: str | None
    display_name: str | None
    runs: int
    defects: int
    flags: int


class BuildingReport(msgspec.Struct):
    building: str
    name: str
    since: datetime
    until: datetime
    specialists: list[SpecialistReport]
    missed: list[MissedPatrol]
    flags: list[dict[str, Any]]


class DeviceSyncRead(msgspec.Struct):
    device_id: str
    user: str | None
    app_version: str | None
    last_sync_at: datetime
    clock_offset_s: float | None
    items_synced: int
    stale: bool


class TokenRefresh(msgspec.Struct):
    token: str
    expires_in: int
