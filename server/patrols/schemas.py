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
    # scan / patrol_run (patrols), move_in (server.movein), ticket_action and ticket_create
    # (server.tickets.outbox)
    kind: Literal["scan", "patrol_run", "move_in", "ticket_action", "ticket_create"]
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
    # The refusal's stable name (errors.DomainError.code): the phone tells "this UUID was
    # used for other content" (client_action.reused) from a step the server refuses now.
    code: str = "bad_request"


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


class KindCompliance(msgspec.Struct):
    """Patrols of one kind of checkpoint: judged periods (ended) and the periods still running."""

    kind: str
    due: int  # patrols the ended periods required
    done: int  # … of which were made (a patrol beyond a period's quota counts once)
    missed: int  # due − done
    open_required: int  # patrols the periods still running require
    open_done: int
    overdue: int  # … already past their due time in those periods


class SpecialistCompliance(msgspec.Struct):
    user_id: int | None
    username: str | None
    display_name: str | None
    assigned: bool  # 楼栋客服专员 of the building: its missed patrols are theirs to answer for
    counted: int  # their patrols that counted towards a due patrol in an ended period
    runs: int  # every patrol they made in the building in the range
    defects: int
    flags: int  # plausibility flags on their patrols


class MissedPeriod(msgspec.Struct):
    checkpoint_id: int
    slug: str
    label: str
    kind: str
    floor: int | None
    period_start: datetime
    period_end: datetime
    required: int
    done: int
    last_at: datetime | None  # the last patrol in the period, if any


class BuildingCompliance(msgspec.Struct):
    building: str
    name: str
    due: int
    done: int
    missed: int
    open_required: int
    open_done: int
    overdue: int
    kinds: list[KindCompliance]
    specialists: list[SpecialistCompliance]
    missed_periods: list[MissedPeriod]


class ComplianceReport(msgspec.Struct):
    """The supervisor's compliance page: per building and specialist, due, done and missed patrols."""

    since: datetime
    until: datetime
    now: datetime
    timezone: str
    stale_device_hours: float  # a phone silent this long is marked on the phones list
    clock_skew_seconds: float  # a phone clock this far off the server's is flagged
    buildings: list[BuildingCompliance]
