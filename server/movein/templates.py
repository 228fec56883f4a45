"""The move-in checklist (versioned data, checklists/<name>.v<version>.toml) and the meter policy.

A move-in template is the patrol checklist format grouped in sections; flattened, it is a
``ChecklistTemplate``, so answers are validated by the same code as a patrol run's.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from server.patrols.templates import ChecklistTemplate, TemplateItem, load_versioned

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "checklists"
METERS_FILE = HERE / "meters.toml"
MOVE_IN = "move_in"


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: str
    zh: str
    en: str
    items: list[TemplateItem]


class MoveInTemplate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    version: int
    zh: str
    en: str
    department: str  # where a defect goes unless the item says otherwise
    sections: list[Section]

    @property
    def checklist(self) -> ChecklistTemplate:
        return _flat(self.name, self.version)

    def section_of(self, key: str) -> Section | None:
        return next((s for s in self.sections if any(i.key == key for i in s.items)), None)


class MeterPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    quantity: str
    zh: str
    en: str
    uom: str
    tolerance: float  # in the meter's unit; beyond it the reading is flagged
    required: bool = True  # at handover


class MeterPolicies(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_gap_hours: float
    meters: list[MeterPolicy]

    def get(self, quantity: str) -> MeterPolicy:
        return next(m for m in self.meters if m.quantity == quantity)


@cache
def _flat(name: str, version: int) -> ChecklistTemplate:
    template = all_templates()[(name, version)]
    return ChecklistTemplate(name=template.name, version=template.version, zh=template.zh, en=template.en,
                             department=template.department,
                             items=[i for s in template.sections for i in s.items])


@cache
def all_templates() -> dict[tuple[str, int], MoveInTemplate]:
    """Every move-in template version shipped in the package, keyed by (name, version)."""
    return load_versioned(TEMPLATE_DIR, MoveInTemplate)


def get(name: str, version: int) -> MoveInTemplate | None:
    return all_templates().get((name, version))


def current_templates() -> list[MoveInTemplate]:
    latest: dict[str, MoveInTemplate] = {}
    for (name, version), template in sorted(all_templates().items()):
        if name not in latest or version > latest[name].version:
            latest[name] = template
    return [latest[n] for n in sorted(latest)]


@cache
def meter_policies() -> MeterPolicies:
    return msgspec.convert(tomllib.loads(METERS_FILE.read_text("utf-8")), MeterPolicies)


def template_wire(template: MoveInTemplate) -> dict[str, Any]:
    """The template as the phone renders it: the patrol template shape plus sections and meters.

    ``items`` is the flat list (each with its ``section``), as in /api/patrols/templates, so
    the phone's checklist screen works unchanged; ``sections`` groups them for the form.
    """
    policies = meter_policies()
    return {
        "name": template.name, "version": template.version, "zh": template.zh, "en": template.en,
        "items": [{"key": i.key, "type": i.type, "zh": i.zh, "en": i.en, "required": i.required,
                   "hint": i.hint, "section": s.key} for s in template.sections for i in s.items],
        "sections": [{"key": s.key, "zh": s.zh, "en": s.en, "items": [i.key for i in s.items]}
                     for s in template.sections],
        "meters": [{"quantity": m.quantity, "zh": m.zh, "en": m.en, "uom": m.uom,
                    "tolerance": m.tolerance, "required": m.required} for m in policies.meters],
        "answers": ["ok", "defect", "na"],
    }
