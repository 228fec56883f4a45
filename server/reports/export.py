"""Reports as CSV (UTF-8 with BOM, so Excel in China opens it right) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from server.reports.service import ComplaintSummary, DailyClearing

# (attribute, header) — headers in Chinese with the English name, as staff read both.
CLEARING_COLUMNS = [
    ("ticket_id", "工单号 Ticket"),
    ("kind", "类型 Kind"),
    ("title", "事项 Title"),
    ("building", "楼栋 Building"),
    ("unit", "房号 Unit"),
    ("status", "状态 Status"),
    ("opened_at", "受理时间 Opened"),
    ("owner", "负责人 Owner"),
    ("first_receiver", "首问人 First receiver"),
    ("next_limit", "下一时限 Next limit"),
    ("next_due_at", "到期时间 Due"),
    ("overdue_minutes", "超时(分钟) Overdue min"),
    ("promised_at", "承诺时间 Promised"),
    ("postponements", "延期次数 Postponements"),
]
SUMMARY_COLUMNS = [
    ("classification", "投诉类别 Class"),
    ("department", "责任部门 Department"),
    ("building", "楼栋 Building"),
    ("received", "受理数 Received"),
    ("resolved", "已处理 Resolved"),
    ("resolved_on_time", "按时处理 On time"),
    ("on_time_rate", "及时率 On-time rate"),
    ("still_open", "未结 Open"),
    ("followed_up", "已回访 Followed up"),
    ("average_satisfaction", "平均满意度 Satisfaction"),
]


def _cell(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        # Shown in the estate's zone; Excel has no time zones, so the sheet says which.
        return value.astimezone(tz).replace(tzinfo=None)
    return value


def _rows(items: Sequence[Any], columns: list[tuple[str, str]], tz: ZoneInfo) -> list[list[Any]]:
    return [[_cell(getattr(item, attr), tz) for attr, _ in columns] for item in items]


def to_csv(items: Sequence[Any], columns: list[tuple[str, str]], tz: ZoneInfo) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([header for _, header in columns])
    for row in _rows(items, columns, tz):
        writer.writerow(
            [
                "" if v is None else (v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else v)
                for v in row
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(
    title: str, subtitle: str, items: Sequence[Any], columns: list[tuple[str, str]], tz: ZoneInfo
) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([subtitle])
    sheet.append([header for _, header in columns])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in _rows(items, columns, tz):
        sheet.append(row)
    for column, (attr, header) in zip(sheet.iter_cols(min_row=3, max_row=3), columns, strict=True):
        letter = column[0].column_letter
        sheet.column_dimensions[letter].width = max(12, min(40, len(header) + 4))
        if attr.endswith("_at"):
            for cell in sheet[letter][3:]:
                cell.number_format = "yyyy-mm-dd hh:mm"
        if attr == "on_time_rate":
            for cell in sheet[letter][3:]:
                cell.number_format = "0.0%"
    sheet.freeze_panes = "A4"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def clearing_xlsx(report: DailyClearing, tz: ZoneInfo) -> bytes:
    return to_xlsx(
        "日清日审 Daily clearing",
        f"{report.site} {report.day} — 未结 {report.open_count}，"
        f"超时 {report.overdue_count}（时间为 {tz.key}）",
        report.rows,
        CLEARING_COLUMNS,
        tz,
    )


def summary_xlsx(report: ComplaintSummary, tz: ZoneInfo) -> bytes:
    return to_xlsx(
        "投诉记录汇总表 Complaints",
        f"{report.site} {report.month} — 共 {report.total} 件，{_d(report.due_on)} 前上交",
        report.rows,
        SUMMARY_COLUMNS,
        tz,
    )


def _d(day: date) -> str:
    return day.isoformat()
