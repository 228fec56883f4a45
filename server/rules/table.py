"""The rule table: alarm_rules.toml decoded into typed Structs, checked once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from server.contract.v1 import EVENT_TYPES
from server.tickets.models import Severity, TicketKind

DEFAULT_RULES = Path(__file__).with_name("alarm_rules.toml")

Seconds = Annotated[float, msgspec.Meta(ge=0)]


class TicketTemplate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    ticket_kind: TicketKind
    severity: Severity = Severity.NORMAL
    title: str
    ack_within_s: Seconds | None = None
    on_site_within_s: Seconds | None = None
    resolve_within_s: Seconds | None = None


class TypeRule(TicketTemplate, forbid_unknown_fields=True, kw_only=True):
    auto_resolve: bool = False
    min_duration_s: Seconds = 0


class Defaults(msgspec.Struct, forbid_unknown_fields=True):
    reopen_window_s: Seconds = 300


class MissedCallRule(TicketTemplate, forbid_unknown_fields=True, kw_only=True):
    answer_within_s: Seconds = 15


class OccupancyRule(TicketTemplate, forbid_unknown_fields=True, kw_only=True):
    window_s: Seconds = 86400
    water: float = 0.05
    electricity: float = 1.0
    gas: float = 0.05

    def threshold(self, quantity: str) -> float:
        return float(getattr(self, quantity))


class DeniedBurstRule(TicketTemplate, forbid_unknown_fields=True, kw_only=True):
    count: Annotated[int, msgspec.Meta(ge=2)] = 5
    window_s: Seconds = 60


class AvailabilityRule(TicketTemplate, forbid_unknown_fields=True, kw_only=True):
    auto_resolve: bool = True
    grace_s: dict[str, Seconds] = msgspec.field(default_factory=dict)

    def grace_for(self, kind: str) -> float:
        return float(self.grace_s.get(kind, 600))


class RuleTable(msgspec.Struct, forbid_unknown_fields=True):
    types: dict[str, TypeRule]
    missed_call: MissedCallRule
    occupancy: OccupancyRule
    denied_burst: DeniedBurstRule
    availability: AvailabilityRule
    defaults: Defaults = msgspec.field(default_factory=Defaults)

    def __post_init__(self) -> None:
        known = {t for types in EVENT_TYPES.values() for t in types}
        unknown = sorted(set(self.types) - known)
        if unknown:
            raise ValueError(f"rules name unknown event types: {', '.join(unknown)}")

    def rule_for(self, event_type: str) -> TypeRule | None:
        return self.types.get(event_type)


def load_rules(path: Path | None = None) -> RuleTable:
    """Decode and check a rules file (the shipped one by default); errors name the field."""
    source = path or DEFAULT_RULES
    try:
        return msgspec.toml.decode(source.read_bytes(), type=RuleTable)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from None
