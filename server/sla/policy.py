"""The SLA policy: policy.toml decoded into typed Structs, checked once at start.

Like the alarm rule table (server/rules/table.py), deadlines are data: an estate that
promises faster than the handbook edits the file, not the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from server.tickets.models import ComplaintClass, Severity, Ticket, TicketKind

DEFAULT_POLICY = Path(__file__).with_name("policy.toml")

Seconds = Annotated[float, msgspec.Meta(ge=0)]
WorkingDays = Annotated[int, msgspec.Meta(ge=1, le=366)]


class SlaClock(StrEnum):
    ACK = "ack"  # acknowledge-by
    ON_SITE = "on_site"  # the 15-minute on-site promise
    DEPARTMENT = "department"  # complaint form to the other department within 30 min
    ANSWER = "answer"  # major complaint: clear answer within 3 working days
    RESOLVE = "resolve"
    FOLLOW_UP = "follow_up"  # 回访 after resolution


@dataclass(frozen=True)
class TicketFacts:
    """What the deadlines depend on, read off a ticket."""

    kind: str
    severity: str
    classification: str | None
    needs_on_site: bool
    department: str | None
    opened_at: datetime
    resolved_at: datetime | None = None

    @classmethod
    def of(cls, ticket: Ticket, opened_at: datetime) -> TicketFacts:
        return cls(kind=ticket.kind, severity=ticket.severity, classification=ticket.classification,
                   needs_on_site=bool(ticket.needs_on_site), department=ticket.department,
                   opened_at=ticket.opened_at or opened_at, resolved_at=ticket.resolved_at)


class TicketMatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which tickets a rule is for; an empty list or a missing switch matches anything."""

    kinds: list[TicketKind] = msgspec.field(default_factory=list)
    severities: list[Severity] = msgspec.field(default_factory=list)
    classes: list[ComplaintClass] = msgspec.field(default_factory=list)
    needs_on_site: bool | None = None
    with_department: bool | None = None

    def matches(self, facts: TicketFacts) -> bool:
        return ((not self.kinds or facts.kind in self.kinds)
                and (not self.severities or facts.severity in self.severities)
                and (not self.classes or facts.classification in self.classes)
                and (self.needs_on_site is None or facts.needs_on_site == self.needs_on_site)
                and (self.with_department is None
                     or bool(facts.department) == self.with_department))


class ClockRule(TicketMatch, forbid_unknown_fields=True, kw_only=True):
    clock: SlaClock
    starts: Literal["opened", "resolved"] = "opened"
    within_s: Seconds | None = None  # wall clock: the 15-minute promise runs on holidays too
    within_working_days: WorkingDays | None = None  # the site's working calendar
    why: str = ""

    def __post_init__(self) -> None:
        if self.within_s is not None and self.within_working_days is not None:
            raise ValueError(f"clock {self.clock}: give within_s or within_working_days, not both")

    @property
    def runs(self) -> bool:
        return self.within_s is not None or self.within_working_days is not None


class SlaPolicy(msgspec.Struct, forbid_unknown_fields=True):
    clock: list[ClockRule]

    def rule_for(self, clock: SlaClock, facts: TicketFacts) -> ClockRule | None:
        """The first rule for ``clock`` that matches the ticket, or None."""
        return next((r for r in self.clock if r.clock == clock and r.matches(facts)), None)


def load_policy(path: Path | None = None) -> SlaPolicy:
    """Decode and check a policy file (the shipped one by default); errors name the field."""
    source = path or DEFAULT_POLICY
    try:
        return msgspec.toml.decode(source.read_bytes(), type=SlaPolicy)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from None


@cache
def shipped_policy() -> SlaPolicy:
    return load_policy()
