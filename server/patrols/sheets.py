"""Printable tag sheets: A4 SVG pages of QR tags per building, labelled in Chinese.

The QR codes come from segno (a maintained, dependency-free QR encoder); each tag
shows building, floor and place, and the tag text for typing by hand when the
camera cannot read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import segno

# A4 portrait in millimetres, 3 × 4 tags of 60 × 66 mm each.
PAGE_W, PAGE_H = 210, 297
COLS, ROWS = 3, 4
CELL_W, CELL_H = 64, 68
MARGIN_X, MARGIN_Y = (PAGE_W - COLS * CELL_W) / 2, 22
QR_SIZE = 40
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
PER_PAGE = COLS * ROWS


@dataclass(frozen=True)
class TagLabel:
    content: str  # the signed tag
    building: str  # 1#楼
    floor: str  # 3层, or 全楼
    place: str  # 0302室 空置房, 走廊 …


def qr_matrix(content: str) -> list[list[bool]]:
    """The QR modules (True = dark) without quiet zone, exactly as printed on the sheet."""
    qr = segno.make_qr(content, error="m", boost_error=False)
    return [[bool(v) for v in row] for row in qr.matrix]


def _qr_path(matrix: Sequence[Sequence[bool]], x: float, y: float, size: float) -> str:
    module = size / len(matrix)
    parts = []
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                parts.append(f"M{x + c * module:.3f} {y + r * module:.3f}h{module:.3f}v{module:.3f}"
                             f"h-{module:.3f}z")
    return f'<path d="{"".join(parts)}" fill="#000"/>'


def _tag(label: TagLabel, x: float, y: float) -> str:
    qx, qy = x + (CELL_W - QR_SIZE) / 2, y + 12
    text = escape(label.content)
    return "".join([
        f'<rect x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}" height="{CELL_H - 2}" fill="none" '
        f'stroke="#888" stroke-width="0.2" stroke-dasharray="2 1"/>',
        f'<text x="{x + CELL_W / 2}" y="{y + 8}" font-size="5" font-weight="700" text-anchor="middle">'
        f"{escape(label.building)} · {escape(label.floor)}</text>",
        _qr_path(qr_matrix(label.content), qx, qy, QR_SIZE),
        f'<text x="{x + CELL_W / 2}" y="{qy + QR_SIZE + 6}" font-size="4.2" text-anchor="middle">'
        f"{escape(label.place)}</text>",
        f'<text x="{x + CELL_W / 2}" y="{qy + QR_SIZE + 11}" font-size="2.8" text-anchor="middle" '
        f'font-family="monospace">{text}</text>',
    ])


def page_count(labels: Sequence[TagLabel]) -> int:
    return max(1, -(-len(labels) // PER_PAGE))


def sheet_svg(labels: Sequence[TagLabel], title: str, page: int = 1) -> str:
    """Page ``page`` (from 1) of the sheet as a standalone A4 SVG document."""
    pages = page_count(labels)
    chunk = labels[(page - 1) * PER_PAGE: page * PER_PAGE]
    body = [_tag(label, MARGIN_X + (i % COLS) * CELL_W, MARGIN_Y + (i // COLS) * CELL_H)
            for i, label in enumerate(chunk)]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W}mm" height="{PAGE_H}mm" '
        f'viewBox="0 0 {PAGE_W} {PAGE_H}" font-family="{FONT}">'
        f'<rect width="{PAGE_W}" height="{PAGE_H}" fill="#fff"/>'
        f'<text x="{PAGE_W / 2}" y="13" font-size="6" font-weight="700" text-anchor="middle">'
        f"{escape(title)} 巡查点二维码（第 {page}/{pages} 页）</text>"
        + "".join(body) + "</svg>"
    )


def sheet_html(labels: Sequence[TagLabel], title: str) -> str:
    """Every page in one printable HTML document (one A4 page per SVG)."""
    pages = "".join(f'<div class="page">{sheet_svg(labels, title, p)}</div>'
                    for p in range(1, page_count(labels) + 1))
    return ('<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
            f"<title>{escape(title)} 巡查点二维码</title>"
            "<style>@page{size:A4;margin:0}body{margin:0}.page{page-break-after:always}"
            ".page svg{display:block;width:210mm;height:297mm}</style>" + pages + "</html>")
