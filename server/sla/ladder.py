"""The escalation ladder as data: escalation.toml decoded into typed Structs, checked once at start."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

import msgspec

from server.sla.policy import SlaClock, TicketMatch

DEFAULT_LADDER = Path(__file__).with_name("escalation.toml")

Seconds = Annotated[float, msgspec.Meta(ge=0)]


class EscalationStep(TicketMatch, forbid_unknown_fields=True, kw_only=True):
    level: Annotated[int, msgspec.Meta(ge=1)]
    clock: SlaClock
    notify: Annotated[list[str], msgspec.Meta(min_length=1)]
    after_s: Seconds = 0
    repeat_s: Annotated[float, msgspec.Meta(gt=0)] | None = None
    why: str = ""
    # What the pushed staff read, in the estate's language (the push body after the clock and
    # its missed time): "15 分钟未到场：请客服部经理督办".
    message: str = ""


class Ladder(msgspec.Struct, forbid_unknown_fields=True):
    steps: list[EscalationStep] = msgspec.field(default_factory=list, name="step")
    stop_when_cleared: bool = True

    def __post_init__(self) -> None:
        levels = [s.level for s in self.steps]
        if len(levels) != len(set(levels)):
            raise ValueError("each level appears once in a ladder")


class EscalationTable(msgspec.Struct, forbid_unknown_fields=True):
    default: Ladder
    sites: dict[str, Ladder] = msgspec.field(default_factory=dict)

    def ladder_for(self, site_slug: str) -> Ladder:
        return self.sites.get(site_slug, self.default)

    def clocks(self) -> set[SlaClock]:
        return {s.clock for ladder in (self.default, *self.sites.values()) for s in ladder.steps}


def load_ladders(path: Path | None = None) -> EscalationTable:
    source = path or DEFAULT_LADDER
    try:
        return msgspec.toml.decode(source.read_bytes(), type=EscalationTable)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from None


@cache
def shipped_ladders() -> EscalationTable:
    return load_ladders()
