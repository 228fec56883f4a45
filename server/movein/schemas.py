"""Wire shapes of move-in inspections: the phone's outbox item and the API's read shapes.

The outbox payload is the contract between the phone app and the server: new fields get
defaults, nothing is renamed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from server.patrols.schemas import Answer, TagContent
from server.tickets.schemas_write import ClientId

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^[0-9+ -]{3,32}$")]
CardNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z-]{1,64}$")]
UnitSlug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Quantity = Literal["water", "electricity", "gas"]


class Proxy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Someone receiving the unit for the owner, with a power of attorney."""

    name: Name
    phone: Phone | None = None
    power_of_attorney: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]  # its number / note
    attachment_id: ClientId | None = None  # a photo of the document


class MeterBase(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A register typed off the physical meter, with the photo that proves it."""

    quantity: Quantity
    value: Annotated[float, msgspec.Meta(ge=0)]
    photo_id: ClientId


class UtilityCards(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    electricity: CardNumber | None = None
    water: CardNumber | None = None
    gas: CardNumber | None = None


class MoveInPayload(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One move-in inspection, recorded on the phone (``kind: move_in`` in the outbox)."""

    unit: UnitSlug  # picked by scanning the unit's tag or by search
    tag: TagContent | None = None  # the scanned unit tag, when it was scanned
    stage: Literal["handover", "second"] = "handover"  # second: after the rectifications
    owner_name: Name
    owner_phone: Phone | None = None
    proxy: Proxy | None = None
    staff: Annotated[list[Name], msgspec.Meta(max_length=5)] = []  # accompanying staff besides me
    template: Annotated[str, msgspec.Meta(max_length=32)]
    template_version: int
    started_at: datetime
    handed_over_at: datetime  # the readings are compared with the smart meters at this time
    answers: Annotated[list[Answer], msgspec.Meta(max_length=100)]
    readings: Annotated[list[MeterBase], msgspec.Meta(max_length=3)] = []
    keys: Annotated[int, msgspec.Meta(ge=0, le=50)] = 0
    access_cards: Annotated[list[CardNumber], msgspec.Meta(max_length=20)] = []
    utility_cards: UtilityCards = msgspec.field(default_factory=UtilityCards)
    owner_signature_id: ClientId
    staff_signature_id: ClientId
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


# --- read shapes -------------------------------------------------------------------------------


class AnswerRead(msgspec.Struct):
    item: str
    section: str | None
    zh: str
    en: str
    status: str | None  # ok | defect | na
    note: str | None
    photo_id: str | None
    ticket_id: int | None  # the rectification ticket a defect opened
    ticket_status: str | None


class ReadingRead(msgspec.Struct):
    quantity: str
    uom: str
    typed: float  # read off the register by the specialist
    photo_id: str
    smart: float | None  # the smart meter's reading nearest the handover
    smart_at: datetime | None
    smart_device: str | None
    difference: float | None  # typed − smart
    tolerance: float
    status: str  # confirmed | flagged | no_meter
    opening: float | None  # the owner's opening reading (None while a flagged one is checked)
    ticket_id: int | None  # engineering's ticket for a flagged reading
    ticket_status: str | None


class CardRead(msgspec.Struct):
    card_number: str
    registered: bool  # still registered to this unit (not revoked, not moved elsewhere)


class MoveInSummary(msgspec.Struct):
    id: str
    unit: str
    building: str
    stage: str
    owner_name: str
    proxy_name: str | None
    inspector: str
    handed_over_at: datetime
    received_at: datetime
    defects: int
    flagged: int
    first_inspection_id: str | None


class MoveInPage(msgspec.Struct):
    items: list[MoveInSummary]
    total: int
    limit: int
    offset: int


class MoveInRead(msgspec.Struct):
    id: str
    unit: str
    building: str
    stage: str
    first_inspection_id: str | None
    second_inspection_ids: list[str]  # for a handover: the second inspections that followed it
    owner_name: str
    owner_phone: str | None
    resident_id: int | None
    proxy: Proxy | None
    staff: list[str]
    inspector_id: int | None
    inspector: str
    device_id: str
    template: str
    template_version: int
    started_at: datetime
    handed_over_at: datetime
    device_time: datetime
    received_at: datetime
    keys: int
    access_cards: list[CardRead]
    utility_cards: UtilityCards
    owner_signature_id: str
    staff_signature_id: str
    note: str | None
    answers: list[AnswerRead]
    readings: list[ReadingRead]
    ticket_ids: list[int]  # every rectification ticket this inspection opened
    due: str | None  # second_inspection | rectification_open | None (see /api/move-ins/due)


class DueTicket(msgspec.Struct):
    id: int
    status: str
    title: str
    item: str  # the checklist item, or meter:<quantity> for a flagged reading


class MoveInDue(msgspec.Struct):
    unit: str
    unit_id: int
    building: str
    owner_name: str
    inspection_id: str  # the latest inspection of the unit: its tickets decide
    first_inspection_id: str  # the handover inspection
    stage: str  # of the latest inspection
    handed_over_at: datetime
    # second_inspection: every defect's rectification is resolved, inspect again (stage second);
    # rectification_open: rectifications are still being done.
    due: Literal["second_inspection", "rectification_open"]
    since: datetime | None  # second_inspection: when the last rectification was resolved
    tickets: list[DueTicket]


class MoveInDueList(msgspec.Struct):
    now: datetime
    items: list[MoveInDue]


class UnitChoice(msgspec.Struct):
    id: int
    slug: str
    building: str
    floor: int
    number: str
    state: str  # vacant | occupied | renovating
    handed_over_on: date | None
    owner: str | None  # the owner's name, once there is one
    handover_inspection_id: str | None  # set: record a stage second, not another handover


class UnitChoicePage(msgspec.Struct):
    items: list[UnitChoice]
    total: int
    limit: int
    offset: int
