"""The desk's files without a browser: translations complete, no hard-coded UI text, no CDN.

There is no build step, so these cheap checks stand in for what a bundler would catch.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from server.tickets.models import ComplaintClass, Severity, TicketKind, TicketStatus

DESK = Path(__file__).resolve().parents[2] / "pwa" / "desk"
LANGUAGES = ("zh-CN", "en")
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
STRING_LITERAL = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`""")
LITERAL_KEY = re.compile(r"""\bt(?:Maybe)?\(\s*'([a-z_.\-A-Z0-9]+)'""")


def strings(language: str) -> dict[str, str]:
    data = json.loads((DESK / "i18n" / f"{language}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def scripts() -> list[Path]:
    return sorted((DESK / "js").glob("*.js"))


def test_both_languages_have_the_same_keys_and_no_empty_strings() -> None:
    zh, en = strings("zh-CN"), strings("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    assert not [k for k in zh if not zh[k].strip() or not en[k].strip()]
    for key in zh:  # the same placeholders in both
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_key_the_page_uses_exists() -> None:
    keys = set(strings("zh-CN"))
    html = (DESK / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    for script in scripts():
        used |= set(LITERAL_KEY.findall(script.read_text(encoding="utf-8")))
    assert used, "no keys found: the pattern is wrong"
    assert not used - keys, sorted(used - keys)


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("status", [s.value for s in TicketStatus]),
        ("kind", [k.value for k in TicketKind]),
        ("severity", [s.value for s in Severity]),
        ("complaint_class", [c.value for c in ComplaintClass]),
    ],
)
def test_every_api_value_has_a_label(prefix: str, values: list[str]) -> None:
    keys = set(strings("en"))
    assert not [v for v in values if f"{prefix}.{v}" not in keys]


def test_every_alarm_rule_type_has_a_label() -> None:
    table = DESK.parents[1] / "server" / "rules" / "alarm_rules.toml"
    rules = tomllib.loads(table.read_text(encoding="utf-8"))
    keys = set(strings("en"))
    assert not [t for t in rules["types"] if f"type.{t}" not in keys]


def without_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"(^|\s)//.*$", r"\1", source, flags=re.MULTILINE)


def test_scripts_hold_no_chinese_ui_text() -> None:
    """Visible words come from i18n/*.json; comments may quote the handbook."""
    offenders = [
        f"{script.name}: {literal}"
        for script in scripts()
        for literal in STRING_LITERAL.findall(without_comments(script.read_text(encoding="utf-8")))
        if CJK.search(literal)
    ]
    assert not offenders


def test_imports_resolve_and_nothing_loads_from_another_origin() -> None:
    for script in scripts():
        for target in re.findall(r"""from\s+'(\.[^']+)'""", script.read_text(encoding="utf-8")):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports missing {target}"
    html = (DESK / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", html)
    css = (DESK / "desk.css").read_text(encoding="utf-8")
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css)


def _rule_made_types() -> set[str]:
    """Every ticket type the rules engine opens: the table's types and the pattern rules' own."""
    table = DESK.parents[1] / "server" / "rules" / "alarm_rules.toml"
    engine = (DESK.parents[1] / "server" / "rules" / "engine.py").read_text(encoding="utf-8")
    types = set(tomllib.loads(table.read_text(encoding="utf-8"))["types"])
    return types | set(re.findall(r'type_="([a-z_.]+)"', engine))


def test_every_rule_made_title_has_a_template_in_both_languages() -> None:
    """The English desk must not show a rule's Chinese title: titles are worded from the type."""
    types = _rule_made_types()
    assert {"elevator.trapped", "intercom.missed_call", "device.offline"} <= types
    for language in LANGUAGES:
        keys = set(strings(language))
        assert not [t for t in sorted(types) if f"title.{t}" not in keys], language
    # The placeholders a template may use are the ones labels.js fills.
    allowed = {"device", "unit", "from_unit", "floor", "code"}
    for key, text in strings("en").items():
        if key.startswith("title.") and key not in ("title.floor", "title.code"):
            assert set(re.findall(r"\{(\w+)\}", text)) <= allowed, key


def _error_codes() -> set[str]:
    """The problem-detail codes the desk can meet: the defaults in errors.py and every code= raised
    by the areas the desk talks to."""
    from server import errors

    server = DESK.parents[1] / "server"
    sources = [
        server / "errors.py",
        *(server / "tickets").glob("*.py"),
        *(server / "estates").glob("*.py"),
        *(server / "desk").glob("*.py"),
        *(server / "auth").glob("*.py"),
    ]
    codes = set(errors._HTTP_CODES.values()) | {"internal", "request.bad_json", "validation.field"}
    for source in sources:
        codes |= set(re.findall(r'\bcode\s*=\s*"([a-z][a-z0-9_.]*)"', source.read_text(encoding="utf-8")))
    return codes


def test_every_error_code_has_a_message_in_both_languages() -> None:
    codes = _error_codes()
    assert {"ticket.second_postponement_needs_approval", "ticket.wrong_status", "not_found"} <= codes
    for language in LANGUAGES:
        keys = set(strings(language))
        assert not sorted(c for c in codes if f"code.{c}" not in keys), language
    # A message may name only what errors.js fills in.
    for key, text in strings("en").items():
        if key.startswith("code."):
            assert set(re.findall(r"\{(\w+)\}", text)) <= {"action", "status", "fields", "detail"}, key


def test_report_pages_have_every_word_in_both_languages() -> None:
    """clearing.html, complaints.html and calendar.html read i18n/reports.<lang>.json laid over the desk's own
    files (i18n.js useBundle): every key they use exists, in both languages alike."""
    bundle = {lang: json.loads((DESK / "i18n" / f"reports.{lang}.json").read_text(encoding="utf-8"))
              for lang in LANGUAGES}
    zh, en = bundle["zh-CN"], bundle["en"]
    assert set(zh) == set(en), set(zh) ^ set(en)
    assert not [k for k in zh if not zh[k].strip() or not en[k].strip()]
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key
    used: set[str] = set()
    for page in ("clearing.html", "complaints.html", "calendar.html"):
        html = (DESK / page).read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    for name in ("report_frame.js", "clearing_page.js", "complaints_page.js", "calendar_page.js"):
        source = (DESK / "js" / name).read_text(encoding="utf-8")
        # Every literal shaped like a key (some go through a variable: showProblem's key, the due badge).
        used |= set(re.findall(r"'([a-z_]+\.[a-z_][a-zA-Z_.\-]*)'", without_comments(source)))
        used |= {f"col.{key}" for key in re.findall(r"\bc\('([a-z_]+)'\)", source)}
    assert {"clearing.empty", "complaints.due_in", "col.owner", "report.error",
            "calendar.official_was_named"} <= used, "patterns are wrong"
    for lang in LANGUAGES:
        missing = used - set(bundle[lang]) - set(strings(lang))
        assert not missing, (lang, sorted(missing))
