"""Checklist templates: versioned data files (checklists/<name>.v<version>.toml), read once.

A run records the template name and version it was answered with, so an edited
checklist (a new file, version + 1) never changes the meaning of old runs.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import msgspec

TEMPLATE_DIR = Path(__file__).resolve().parent / "checklists"
ItemType = Literal["check", "number", "text", "photo"]


class _Versioned(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...


T = TypeVar("T", bound=_Versioned)


def load_versioned(directory: Path, kind: type[T]) -> dict[tuple[str, int], T]:
    """Every ``<name>.v<version>.toml`` in ``directory``, keyed by (name, version).

    A file whose name disagrees with its content is refused: the name is how a record
    answered with that version finds it again.
    """
    found: dict[tuple[str, int], T] = {}
    for path in sorted(directory.glob("*.toml")):
        template = msgspec.convert(tomllib.loads(path.read_text("utf-8")), kind)
        if path.name != f"{template.name}.v{template.version}.toml":
            raise ValueError(f"{path.name} declares {template.name} v{template.version}")
        found[(template.name, template.version)] = template
    return found


class MeterCheck(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    quantity: Literal["water", "electricity", "gas"]
    tolerance: float  # in the meter's unit; beyond it the run is flagged


class TemplateItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: str
    type: ItemType
    zh: str
    en: str
    required: bool = True
    department: str | None = None  # overrides the template's for a defect here
    hint: str | None = None  # intercom | meter:<quantity> | renovation_hours
    meter_check: MeterCheck | None = None


class ChecklistTemplate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    version: int
    zh: str
    en: str
    department: str
    items: list[TemplateItem]

    def item(self, key: str) -> TemplateItem | None:
        return next((i for i in self.items if i.key == key), None)

    def department_for(self, item: TemplateItem) -> str:
        return item.department or self.department


@cache
def all_templates() -> dict[tuple[str, int], ChecklistTemplate]:
    """Every template version shipped in the package, keyed by (name, version)."""
    return load_versioned(TEMPLATE_DIR, ChecklistTemplate)


def latest(name: str) -> ChecklistTemplate:
    versions = [t for (n, _), t in all_templates().items() if n == name]
    if not versions:
        raise KeyError(name)
    return max(versions, key=lambda t: t.version)


def get(name: str, version: int) -> ChecklistTemplate | None:
    return all_templates().get((name, version))


def current_templates() -> list[ChecklistTemplate]:
    names = sorted({n for n, _ in all_templates()})
    return [latest(n) for n in names]
