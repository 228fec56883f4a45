"""Wire shapes for creating tickets and acting on them.

Actions are one tagged union on ``action`` so the desk, the phone app's outbox and
scripts share a single idempotent endpoint. Every write may carry a client-made
UUID (``client_action_id``): the same UUID again is answered, not redone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from server.ids import DbId

ClientId = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-fA-F-]{36}$", description="A UUID the client made for this write")
]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
AttachmentIds = Annotated[list[ClientId], msgspec.Meta(max_length=20)]
Department = Literal["customer_service", "engineering", "security", "cleaning", "greening", "finance"]
ComplaintClassName = Literal["minor", "important", "major", "unresolvable", "invalid"]


class TicketCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: Literal["repair", "complaint", "help", "callback", "patrol_defect", "rectification", "alarm"]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    source: Literal["phone", "walk_in", "intercom", "patrol", "move_in", "device"] = "phone"
    description: Note | None = None
    building: Slug | None = None
    unit: Slug | None = None
    severity: Literal["critical", "high", "normal", "low"] = "normal"
    requester_name: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    requester_phone: Annotated[str, msgspec.Meta(pattern=r"^[0-9+ -]{3,32}$")] | None = None
    resident_id: DbId | None = None
    # Could not be solved on the phone: someone must be on site within 15 minutes.
    needs_on_site: bool = False
    department: Department | None = None
    classification: ComplaintClassName | None = None
    attachment_ids: AttachmentIds = []
    client_action_id: ClientId | None = None
    device_time: datetime | None = None


class _Action(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, tag_field="action"):
    client_action_id: ClientId | None = None
    device_time: datetime | None = None  # when the phone recorded it (kept next to server time)
    note: Note | None = None


class Acknowledge(_Action, tag="acknowledge"):
    pass


class Dispatch(_Action, tag="dispatch"):
    assignee_id: DbId


class OnMyWay(_Action, tag="on_my_way"):
    pass


class Arrive(_Action, tag="arrive"):
    """On site: stops the 15-minute clock."""


class Resolve(_Action, tag="resolve"):
    attachment_ids: AttachmentIds = []


class FollowUp(_Action, tag="follow_up"):
    satisfaction: Annotated[int, msgspec.Meta(ge=1, le=5)]
    by_phone: bool = False
    signed_by: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    signature_attachment_id: ClientId | None = None


class Close(_Action, tag="close"):
    pass


class Reopen(_Action, tag="reopen"):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class Cancel(_Action, tag="cancel"):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class Classify(_Action, tag="classify"):
    classification: ComplaintClassName


class HandToDepartment(_Action, tag="hand_to_department"):
    department: Department


class Postpone(_Action, tag="postpone"):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    promised_at: datetime


class AnnounceDelay(_Action, tag="announce_delay"):
    """The requester was told, before the deadline, that someone will be late."""


class Answer(_Action, tag="answer"):
    """A clear answer given to the requester (major complaints: within 3 working days)."""


class AddNote(_Action, tag="note"):
    note: Note


class Escalate(_Action, tag="escalate"):
    pass


TicketAction = (
    Acknowledge
    | Dispatch
    | OnMyWay
    | Arrive
    | Resolve
    | FollowUp
    | Close
    | Reopen
    | Cancel
    | Classify
    | HandToDepartment
    | Postpone
    | AnnounceDelay
    | Answer
    | AddNote
    | Escalate
)
