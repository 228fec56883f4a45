"""Tag signatures (forged, edited, wrong checkpoint), templates as data, and the printed sheets."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from server.patrols import templates
from server.patrols.sheets import TagLabel, page_count, qr_matrix, sheet_html, sheet_svg
from server.patrols.tags import BadTag, make_tag, tag_key, verify_tag

KEY = tag_key("server-signing-key")


def test_a_genuine_tag_names_its_checkpoint() -> None:
    tag = make_tag(KEY, 42)
    assert tag.startswith("FO1.42.")
    assert verify_tag(KEY, tag) == 42
    assert verify_tag(KEY, f"  {tag}\n") == 42  # scanners add whitespace


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one signature character changed
        lambda t: "FO1.43." + t.split(".")[2],  # another checkpoint's id with this signature
        lambda t: "FO1.42.AAAAAAAAAAAAAAAA",  # a hand-made tag
        lambda t: "FO2." + t[4:],  # wrong version prefix
        lambda t: t + "x",  # trailing junk
        lambda t: "https://example.com/?" + t,
        lambda t: "",
    ],
)
def test_forged_or_edited_tags_are_refused(forge) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadTag):
        verify_tag(KEY, forge(make_tag(KEY, 42)))


def test_a_tag_from_another_server_key_is_refused() -> None:
    with pytest.raises(BadTag, match="signature"):
        verify_tag(KEY, make_tag(tag_key("another-server"), 42))


def test_the_tag_key_is_derived_not_the_signing_key_itself() -> None:
    assert KEY != b"server-signing-key"
    assert len(KEY) == 32


def test_every_template_loads_and_defects_have_departments() -> None:
    names = {t.name for t in templates.current_templates()}
    assert names == {"vacant_unit", "public_area", "renovation_unit"}
    vacant = templates.latest("vacant_unit")
    keys = [i.key for i in vacant.items]
    for key in (
        "entry_door",
        "walls",
        "doors_windows",
        "leaks",
        "intercom",
        "gas_meter",
        "lock",
        "occupation",
        "cleaning",
        "water_meter",
    ):
        assert key in keys
    water = vacant.item("water_meter")
    assert water is not None
    assert water.meter_check is not None
    assert water.meter_check.tolerance > 0
    for template in templates.current_templates():
        for item in template.items:
            assert template.department_for(item) in {"engineering", "security", "cleaning"}
            assert item.zh
            assert item.en


def _labels(n: int) -> list[TagLabel]:
    return [TagLabel(make_tag(KEY, i + 1), "1#楼", f"{i % 18 + 1}层", "走廊") for i in range(n)]


def test_the_sheet_is_an_a4_svg_labelled_in_chinese() -> None:
    labels = _labels(14)
    assert page_count(labels) == 2
    svg = sheet_svg(labels, "1#楼", page=1)
    root = ET.fromstring(svg)  # noqa: S314 - our own generated SVG, checked for well-formedness
    assert root.attrib["width"] == "210mm"
    assert root.attrib["height"] == "297mm"
    texts = "".join(root.itertext())
    assert "1#楼" in texts
    assert "3层" in texts
    assert "走廊" in texts
    assert "第 1/2 页" in texts
    assert labels[0].content in texts  # printed for typing by hand
    assert labels[12].content not in texts  # on page 2
    assert sheet_svg(labels, "1#楼", page=2).count("<path") == 2
    assert sheet_html(labels, "1#楼").count("<svg") == 2


def test_the_qr_matrix_is_square_and_has_finder_patterns() -> None:
    matrix = qr_matrix(make_tag(KEY, 7))
    size = len(matrix)
    assert size in (21, 25, 29)
    assert all(len(row) == size for row in matrix)
    assert all(matrix[0][:7])
    assert all(matrix[6][:7])
