"""The signed move-in inspection form (房屋验收表) as a PDF for the archive, in Chinese or English.

ReportLab lays it out; text uses its built-in CID font STSong-Light, which every PDF viewer
maps to a Song (宋体) face, so no font file ships with the server. Photos and signatures are
the attachments' own bytes. Rendering is CPU work: callers run it in a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from server.movein import templates
from server.movein.service import InspectionRecord

Lang = Literal["zh-CN", "en"]
FONT = "STSong-Light"

LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "入伙房屋验收表", "handover": "交房验收", "second": "二次验收", "unit": "房号",
        "building": "楼栋", "owner": "业主", "phone": "电话", "proxy": "委托代理人",
        "power_of_attorney": "授权委托书", "inspector": "验收人（客服）", "staff": "陪同人员",
        "handed_over_at": "交房时间", "started_at": "开始验收", "received_at": "系统接收",
        "template": "验收表版本", "inspection": "验收单号", "first": "首次验收单号",
        "checklist": "一、设施设备检查", "section": "部位", "item": "检查项目", "result": "结果",
        "note": "说明", "ticket": "整改单", "ok": "合格", "defect": "不合格", "na": "不适用",
        "readings": "二、水、电、燃气表底数", "meter": "表具", "typed": "现场抄读",
        "smart": "智能表读数", "smart_at": "读数时间", "difference": "差值", "tolerance": "允差",
        "status": "核对结果", "opening": "业主起始读数", "confirmed": "已核对",
        "flagged": "不符，待核查",
        "no_meter": "无智能表数据", "handover_register": "三、钥匙、门禁卡及表卡交接",
        "keys": "房屋钥匙（把）", "access_cards": "门禁卡", "electricity_card": "电卡",
        "water_card": "水卡", "gas_card": "燃气卡", "defects": "四、需整改问题及照片",
        "meter_photos": "表具照片", "no_defects": "无", "remarks": "备注", "signatures": "签字确认",
        "owner_signature": "业主（代理人）签字", "staff_signature": "验收人员签字", "date": "日期",
        "unreadable": "（图片无法读取）", "page": "第 {n} 页", "none": "—",
    },
    "en": {
        "title": "Move-in house inspection form", "handover": "Handover inspection",
        "second": "Second inspection", "unit": "Unit", "building": "Building", "owner": "Owner",
        "phone": "Phone", "proxy": "Proxy", "power_of_attorney": "Power of attorney",
        "inspector": "Inspected by", "staff": "Accompanying staff", "handed_over_at": "Handed over",
        "started_at": "Inspection started", "received_at": "Received by the server",
        "template": "Form version", "inspection": "Inspection no.", "first": "First inspection no.",
        "checklist": "1. Facilities checked", "section": "Area", "item": "Item", "result": "Result",
        "note": "Note", "ticket": "Ticket", "ok": "OK", "defect": "Defect", "na": "N/A",
        "readings": "2. Meter base readings (water, electricity, gas)", "meter": "Meter",
        "typed": "Read on site", "smart": "Smart meter", "smart_at": "Its time",
        "difference": "Difference", "tolerance": "Tolerance", "status": "Check",
        "opening": "Owner's opening reading", "confirmed": "Confirmed",
        "flagged": "Flagged", "no_meter": "No smart meter",
        "handover_register": "3. Keys, access cards and utility cards handed over",
        "keys": "House keys", "access_cards": "Access cards", "electricity_card": "Electricity card",
        "water_card": "Water card", "gas_card": "Gas card", "defects": "4. Defects to rectify, with photos",
        "meter_photos": "Meter photos", "no_defects": "None", "remarks": "Remarks",
        "signatures": "Signatures", "owner_signature": "Owner (or proxy)",
        "staff_signature": "Inspecting staff", "date": "Date", "unreadable": "(image unreadable)",
        "page": "Page {n}", "none": "—",
    },
}
_UOM = {"m3": "m³"}
_LATIN_ONLY = frozenset("³·")


@dataclass
class FormData:
    record: InspectionRecord
    site_name: str
    tz: ZoneInfo
    images: dict[str, bytes] = field(default_factory=dict)  # attachment id → bytes


def image_ids(record: InspectionRecord) -> list[str]:
    """The attachments the form shows: defect and meter photos, the proxy's document, signatures."""
    i = record.inspection
    ids = [a.photo_id for a in record.answers if a.photo_id and a.status == "defect"]
    ids += [r.photo_id for r in record.readings]
    ids += [i.proxy_attachment_id] if i.proxy_attachment_id else []
    return [*ids, i.owner_signature_id, i.staff_signature_id]


@cache
def _font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def render_form(data: FormData, lang: Lang) -> bytes:
    """The PDF bytes of the form in ``lang``."""
    return _Form(data, lang).build()


class _Form:
    def __init__(self, data: FormData, lang: Lang) -> None:
        self.data, self.lang, self.t = data, lang, LABELS[lang]
        self.latin_styles: dict[str, ParagraphStyle] = {}
        font = _font()
        wrap = "CJK" if lang == "zh-CN" else None
        self.body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12, wordWrap=wrap)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8, leading=10)
        self.head = ParagraphStyle("head", parent=self.body, fontSize=11, leading=15, spaceBefore=8,
                                   spaceAfter=4)
        self.title = ParagraphStyle("title", parent=self.body, fontSize=16, leading=22, alignment=TA_CENTER)

    def p(self, text: Any, style: ParagraphStyle | None = None) -> Paragraph:
        if text in (None, ""):
            return Paragraph(self.t["none"], style or self.body)
        raw = str(text)
        style = style or self.body
        if self.lang == "en" and all(ord(c) < 256 for c in raw):
            style = self.latin(style)  # English reads better in Helvetica; names in Chinese keep the Song
        markup = escape(raw)
        for char in _LATIN_ONLY.intersection(markup):  # glyphs STSong-Light lacks
            markup = markup.replace(char, f'<font face="Helvetica">{char}</font>')
        return Paragraph(markup, style)

    def latin(self, style: ParagraphStyle) -> ParagraphStyle:
        found = self.latin_styles.get(style.name)
        if found is None:
            found = self.latin_styles[style.name] = ParagraphStyle(f"{style.name}-latin", parent=style,
                                                                   fontName="Helvetica")
        return found

    def when(self, at: datetime | None) -> str:
        return at.astimezone(self.data.tz).strftime("%Y-%m-%d %H:%M") if at else self.t["none"]

    def build(self) -> bytes:
        out = io.BytesIO()
        record = self.data.record
        doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                                bottomMargin=15 * mm, title=f"{self.t['title']} {record.unit.slug}",
                                author=self.data.site_name, subject=record.inspection.id)
        story: list[Flowable] = [self.p(f"{self.data.site_name} {self.t['title']}", self.title),
                                 self.p(self.t[record.inspection.stage], ParagraphStyle(
                                     "stage", parent=self.body, alignment=TA_CENTER)),
                                 Spacer(1, 4 * mm)]
        story += self.header()
        story += self.checklist()
        story += self.readings()
        story += self.register()
        story += self.defects()
        story += self.signatures()
        doc.build(story, onFirstPage=self.footer, onLaterPages=self.footer)
        return out.getvalue()

    def footer(self, canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_font(), 7)
        canvas.drawString(15 * mm, 8 * mm, f"{self.t['inspection']} {self.data.record.inspection.id}")
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, self.t["page"].format(n=doc.page))
        canvas.restoreState()

    def grid(self, rows: list[list[Any]], widths: list[float], header: bool = True) -> Table:
        table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
        style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                 ("FONTNAME", (0, 0), (-1, -1), _font())]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
        table.setStyle(TableStyle(style))
        return table

    def header(self) -> list[Flowable]:
        t, r, i = self.t, self.data.record, self.data.record.inspection
        owner = i.owner_name + self.aside(i.owner_phone)
        place = f"{r.building.name} {r.unit.floor}F-{r.unit.number}"
        rows = [
            [self.p(t["unit"]), self.p(r.unit.slug + self.aside(place)),
             self.p(t["handed_over_at"]), self.p(self.when(i.handed_over_at))],
            [self.p(t["owner"]), self.p(owner), self.p(t["started_at"]), self.p(self.when(i.started_at))],
            [self.p(t["inspector"]), self.p(i.inspector_name), self.p(t["received_at"]),
             self.p(self.when(i.received_at))],
            [self.p(t["staff"]), self.p("、".join(i.staff) if self.lang == "zh-CN" else ", ".join(i.staff)),
             self.p(t["template"]), self.p(f"{i.template} v{i.template_version}")],
        ]
        if i.proxy_name:
            proxy = i.proxy_name + self.aside(i.proxy_phone)
            rows.append([self.p(t["proxy"]), self.p(proxy), self.p(t["power_of_attorney"]),
                         self.p(i.power_of_attorney)])
        if i.first_inspection_id:
            rows.append([self.p(t["first"]), self.p(i.first_inspection_id), self.p(""), self.p("")])
        return [self.grid(rows, [28 * mm, 62 * mm, 30 * mm, 60 * mm], header=False)]

    def checklist(self) -> list[Flowable]:
        t, r = self.t, self.data.record
        template = templates.get(r.inspection.template, r.inspection.template_version)
        by_key = {a.item: a for a in r.answers}
        rows: list[list[Any]] = [[self.p(t[k]) for k in ("section", "item", "result", "note", "ticket")]]
        sections = template.sections if template is not None else []
        known = set()
        for section in sections:
            for entry in section.items:
                known.add(entry.key)
                answer = by_key.get(entry.key)
                if answer is None:
                    continue
                rows.append(self.answer_row(self.label(section), self.label(entry), answer))
        for answer in r.answers:  # an item no template describes any more: still on the form
            if answer.item not in known:
                rows.append(self.answer_row("", answer.item, answer))
        return [self.p(t["checklist"], self.head),
                self.grid(rows, [22 * mm, 68 * mm, 18 * mm, 60 * mm, 12 * mm])]

    def aside(self, text: str | None) -> str:
        if not text:
            return ""
        return f"（{text}）" if self.lang == "zh-CN" else f" ({text})"

    def label(self, thing: Any) -> str:
        return str(thing.zh if self.lang == "zh-CN" else thing.en)

    def answer_row(self, section: str, item: str, answer: Any) -> list[Any]:
        result = self.t.get(answer.status or "", self.t["none"])
        style = self.body if answer.status != "defect" else ParagraphStyle(
            "defect", parent=self.body, textColor=colors.HexColor("#b00020"))
        return [self.p(section), self.p(item), self.p(result, style), self.p(answer.note),
                self.p(f"#{answer.ticket_id}" if answer.ticket_id else "")]

    def readings(self) -> list[Flowable]:
        t, r = self.t, self.data.record
        policies = templates.meter_policies()
        rows: list[list[Any]] = [[self.p(t[k], self.small) for k in (
            "meter", "typed", "smart", "smart_at", "difference", "tolerance", "status", "opening")]]
        for reading in r.readings:
            policy = next((m for m in policies.meters if m.quantity == reading.quantity), None)
            name = self.label(policy) if policy else reading.quantity
            uom = _UOM.get(reading.uom, reading.uom)
            smart = self.t["none"] if reading.smart_value is None else f"{reading.smart_value:g} {uom}"
            if reading.smart_device:
                smart += f" ({reading.smart_device})"
            status = t[reading.status] + (f" #{reading.ticket_id}" if reading.ticket_id else "")
            opening = "" if reading.opening_value is None else f"{reading.opening_value:g} {uom}"
            rows.append([
                self.p(name, self.small), self.p(f"{reading.typed_value:g} {uom}", self.small),
                self.p(smart, self.small), self.p(self.when(reading.smart_at), self.small),
                self.p("" if reading.difference is None else f"{reading.difference:+g}", self.small),
                self.p(f"±{reading.tolerance:g}", self.small), self.p(status, self.small),
                self.p(opening, self.small)])
        return [self.p(t["readings"], self.head),
                self.grid(rows, [18 * mm, 22 * mm, 33 * mm, 23 * mm, 17 * mm, 15 * mm, 30 * mm, 22 * mm])]

    def register(self) -> list[Flowable]:
        t, i = self.t, self.data.record.inspection
        cards = ", ".join(i.access_cards) if i.access_cards else t["none"]
        rows = [[self.p(t["keys"]), self.p(i.keys), self.p(t["access_cards"]), self.p(cards)],
                [self.p(t["electricity_card"]), self.p(i.electricity_card), self.p(t["water_card"]),
                 self.p(i.water_card)],
                [self.p(t["gas_card"]), self.p(i.gas_card), self.p(t["remarks"]), self.p(i.note)]]
        return [self.p(t["handover_register"], self.head),
                self.grid(rows, [30 * mm, 50 * mm, 30 * mm, 70 * mm], header=False)]

    def defects(self) -> list[Flowable]:
        t, r = self.t, self.data.record
        template = templates.get(r.inspection.template, r.inspection.template_version)
        story: list[Flowable] = [self.p(t["defects"], self.head)]
        found = [a for a in r.answers if a.status == "defect"]
        if not found:
            story.append(self.p(t["no_defects"]))
        for answer in found:
            entry = template.checklist.item(answer.item) if template else None
            name = self.label(entry) if entry else answer.item
            ticket = f" · {t['ticket']} #{answer.ticket_id}" if answer.ticket_id else ""
            block: list[Flowable] = [self.p(f"{name}{ticket}"), self.p(answer.note, self.small)]
            if answer.photo_id:
                block.append(self.image(answer.photo_id, 80 * mm, 60 * mm))
            block.append(Spacer(1, 3 * mm))
            story.append(KeepTogether(block))
        photos = [rd for rd in r.readings if rd.photo_id]
        if photos:
            policies = templates.meter_policies()
            cells = []
            for reading in photos:
                policy = next((m for m in policies.meters if m.quantity == reading.quantity), None)
                name = self.label(policy) if policy else reading.quantity
                cells.append([self.p(name, self.small), self.image(reading.photo_id, 55 * mm, 45 * mm)])
            story += [self.p(t["meter_photos"], self.head),
                      Table([cells], colWidths=[60 * mm] * len(cells), hAlign="LEFT")]
        if r.inspection.proxy_attachment_id:
            story += [self.p(t["power_of_attorney"], self.head),
                      self.image(r.inspection.proxy_attachment_id, 80 * mm, 60 * mm)]
        return story

    def signatures(self) -> list[Flowable]:
        t, i = self.t, self.data.record.inspection
        owner = i.proxy_name or i.owner_name
        rows = [[self.p(t["owner_signature"]), self.p(t["staff_signature"])],
                [self.image(i.owner_signature_id, 75 * mm, 30 * mm), self.image(i.staff_signature_id, 75 * mm,
                                                                                  30 * mm)],
                [self.p(owner), self.p(i.inspector_name)],
                [self.p(f"{t['date']}: {self.when(i.handed_over_at)}"),
                 self.p(f"{t['date']}: {self.when(i.handed_over_at)}")]]
        return [KeepTogether([self.p(t["signatures"], self.head),
                              self.grid(rows, [90 * mm, 90 * mm], header=False)])]

    def image(self, attachment_id: str, max_w: float, max_h: float) -> Flowable:
        data = self.data.images.get(attachment_id)
        picture = _printable(data) if data else None
        if picture is None:
            return self.p(self.t["unreadable"], self.small)
        width, height = ImageReader(io.BytesIO(picture)).getSize()
        scale = min(max_w / width, max_h / height)
        return Image(io.BytesIO(picture), width=width * scale, height=height * scale, hAlign="LEFT")


def _printable(data: bytes) -> bytes | None:
    """The image decoded, flattened on white (canvas signatures are transparent PNGs) and scaled
    down to what a printed form needs; None when it cannot be decoded."""
    try:
        with PILImage.open(io.BytesIO(data)) as source:
            source.load()
            picture = source.convert("RGBA")
    except Exception:  # a broken upload must not cost the archive its form
        return None
    picture.thumbnail((1200, 1200))
    flat = PILImage.new("RGB", picture.size, "white")
    flat.paste(picture, mask=picture.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=85)
    return out.getvalue()
