"""The summary tables as an ``.xlsx`` workbook in the style of official statistical tables.

Each sheet: a merged title row, a 填报单位/报送期/计量单位 row, merged two-level
headers, number formats (``#,##0`` counts, ``0.0%`` rates), thin borders and
frozen panes; a 说明 sheet defines every indicator. Labels come from
:mod:`jobs.report.indicators`, shared with the HTML page. Every text that
comes from returns or the registry passes through :func:`jobs.core.excel_safe.inert`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from jobs.core.excel_safe import inert
from jobs.core.jinja import zh_date, zh_period
from jobs.report.context import ReportContext
from jobs.report.indicators import (
    BREAKDOWN_GROUPS,
    COVERAGE_KEYS,
    HISTORY_KEYS,
    INDICATORS,
    TASK_COLUMNS,
    Kind,
)
from jobs.report.rows import UnitRow

COUNT_FORMAT = "#,##0"
RATE_FORMAT = "0.0%"
POINTS_FORMAT = "+0.0%;-0.0%;0.0%"
SIGNED_FORMAT = "+#,##0;-#,##0;0"
TITLE_FONT = Font(name="黑体", size=16, bold=True)
HEAD_FONT = Font(name="黑体", size=10, bold=True)
BODY_FONT = Font(name="宋体", size=10)
NOTE_FONT = Font(name="宋体", size=9, italic=False, color="555555")
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="F2F2F2")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")

# (group label, keys) of the 主要指标 sheet.
MAIN_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("报送情况", COVERAGE_KEYS),
    (
        "整改台账",
        (
            "items_total",
            "items_done",
            "items_in_progress",
            "items_not_started",
            "items_ineffective",
            "completion_rate",
            "items_closed",
            "closure_rate",
            "items_overdue",
            "items_rebound",
            "items_new",
        ),
    ),
    ("群众评价", ("items_evaluated", "items_satisfied", "satisfaction_rate")),
    ("前后变化", HISTORY_KEYS),
    ("个人整改", ("members_total",)),
)


def _fmt(kind: Kind) -> str:
    return RATE_FORMAT if kind == "rate" else COUNT_FORMAT


def _title(ws: Worksheet, title: str, subtitle: str, width: int) -> int:
    """Rows 1-2: merged title and the 填报单位/计量单位 line; returns the next row."""
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    cell = ws.cell(1, 1, title)
    cell.font, cell.alignment = TITLE_FONT, CENTER
    ws.row_dimensions[1].height = 30
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    cell = ws.cell(2, 1, subtitle)
    cell.font, cell.alignment = NOTE_FONT, Alignment(horizontal="right", vertical="center")
    return 3


def _head(ws: Worksheet, row: int, col: int, value: str, *, rows: int = 1, cols: int = 1) -> None:
    if rows > 1 or cols > 1:
        ws.merge_cells(start_row=row, start_column=col, end_row=row + rows - 1, end_column=col + cols - 1)
    for r in range(row, row + rows):
        for c in range(col, col + cols):
            ws.cell(r, c).border, ws.cell(r, c).fill = BORDER, HEAD_FILL
    cell = ws.cell(row, col, value)
    cell.font, cell.alignment = HEAD_FONT, CENTER


# Body cells use named styles: assigning a name is a lookup, while assigning
# font/border/alignment objects hashes them per cell (30 s for 50k cells).
_BODY_STYLES = {None: "rectify-text", COUNT_FORMAT: "rectify-count", RATE_FORMAT: "rectify-rate",
                POINTS_FORMAT: "rectify-points", SIGNED_FORMAT: "rectify-signed", "0": "rectify-int"}  # fmt: skip


def _register_styles(wb: Workbook) -> None:
    for fmt, name in _BODY_STYLES.items():
        style = NamedStyle(name=name, font=BODY_FONT, border=BORDER, alignment=RIGHT if fmt else LEFT)
        if fmt:
            style.number_format = fmt
        wb.add_named_style(style)


def _put(ws: Worksheet, row: int, col: int, value: Any, *, fmt: str | None = None, text: bool = False) -> None:
    cell = ws.cell(row, col, inert(value) if text else value)
    cell.style = _BODY_STYLES[fmt]


def _widths(ws: Worksheet, widths: Sequence[float]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _subtitle(ctx: ReportContext, units: str) -> str:
    return f"汇总范围：{ctx.scope_name}　　报送期：{zh_period(ctx.period)}　　计量单位：{units}"


def _main_sheet(ws: Worksheet, ctx: ReportContext) -> None:
    has_prev = bool(ctx.changes)
    width = 6 if has_prev else 4
    row = _title(ws, f"{zh_period(ctx.period)}整改落实情况“回头看”主要指标", _subtitle(ctx, "个、项、人、%"), width)
    heads = ["类别", "指标", "计量单位", zh_period(ctx.period)]
    if has_prev:
        heads += [zh_period(ctx.previous_period or ""), "增减"]
    for i, h in enumerate(heads, start=1):
        _head(ws, row, i, h)
    ws.freeze_panes = ws.cell(row + 1, 3)
    before = ctx.previous_figures
    row += 1
    for group, keys in MAIN_GROUPS:
        ws.merge_cells(start_row=row, start_column=1, end_row=row + len(keys) - 1, end_column=1)
        cell = ws.cell(row, 1, group)
        cell.font, cell.alignment = HEAD_FONT, CENTER
        for key in keys:
            fig = ctx.figures[key]
            ws.cell(row, 1).border = BORDER
            _put(ws, row, 2, fig.label)
            _put(ws, row, 3, "%" if fig.kind == "rate" else fig.unit)
            ws.cell(row, 3).alignment = CENTER
            _put(ws, row, 4, fig.value, fmt=_fmt(fig.kind))
            if has_prev:
                prev = before[key].value if key in before else None
                diff = None if prev is None or fig.value is None else fig.value - prev
                _put(ws, row, 5, prev, fmt=_fmt(fig.kind))
                _put(ws, row, 6, diff, fmt=POINTS_FORMAT if fig.kind == "rate" else SIGNED_FORMAT)
            row += 1
    _widths(ws, [12, 16, 10, 14, 14, 12][:width])


def _tasks_sheet(ws: Worksheet, ctx: ReportContext) -> None:
    width = 2 + len(TASK_COLUMNS)
    row = _title(ws, "21项专项整治任务进展情况", _subtitle(ctx, "个、件、%"), width)
    _head(ws, row, 1, "序号")
    _head(ws, row, 2, "任务名称")
    for i, c in enumerate(TASK_COLUMNS, start=3):
        _head(ws, row, i, f"{c.label}（{c.unit}）")
    ws.freeze_panes = ws.cell(row + 1, 3)
    row += 1
    total = {"found": 0, "fixed": 0, "cases": 0}
    for t in ctx.tasks:
        _put(ws, row, 1, t.no, fmt="0")
        _put(ws, row, 2, t.name, text=True)
        for i, c in enumerate(TASK_COLUMNS, start=3):
            _put(ws, row, i, getattr(t, c.key), fmt=_fmt(c.kind))
        for k in total:
            total[k] += getattr(t, k)
        row += 1
    _put(ws, row, 1, None)
    _put(ws, row, 2, "合计")
    sums = {**total, "rate": total["fixed"] / total["found"] if total["found"] else None}
    for i, c in enumerate(TASK_COLUMNS, start=3):
        _put(ws, row, i, sums[c.key], fmt=_fmt(c.kind))
        ws.cell(row, i).font = HEAD_FONT
    _widths(ws, [6, 34, 14, 14, 12, 14])


def _breakdown_sheet(ws: Worksheet, ctx: ReportContext, rows: Sequence[UnitRow], *, title: str, first: str) -> None:
    width = 2 + sum(len(keys) for _, keys in BREAKDOWN_GROUPS)
    row = _title(ws, title, _subtitle(ctx, "个、项、%"), width)
    _head(ws, row, 1, "单位代码" if first == "单位" else "序号", rows=2)
    _head(ws, row, 2, first, rows=2)
    col = 3
    for group, keys in BREAKDOWN_GROUPS:
        _head(ws, row, col, group, cols=len(keys))
        for j, key in enumerate(keys):
            ind = INDICATORS[key]
            _head(ws, row + 1, col + j, f"{ind.label}（{ind.unit}）")
        col += len(keys)
    ws.row_dimensions[row + 1].height = 30
    ws.freeze_panes = ws.cell(row + 2, 3)
    row += 2
    total = UnitRow(ctx.scope_code if first == "单位" else "", "合计", {k: f.value for k, f in ctx.figures.items()})
    for i, unit in enumerate([total, *rows]):
        _put(ws, row, 1, unit.code if first == "单位" or i == 0 else i, text=True)
        _put(ws, row, 2, unit.name, text=True)
        col = 3
        for _, keys in BREAKDOWN_GROUPS:
            for key in keys:
                _put(ws, row, col, unit.values.get(key), fmt=_fmt(INDICATORS[key].kind))
                col += 1
        if i == 0:
            for c in range(1, width + 1):
                ws.cell(row, c).font = HEAD_FONT
        row += 1
    _widths(ws, [12, 24, *([11] * (width - 2))])


def _counts_sheet(ws: Worksheet, ctx: ReportContext) -> None:
    row = _title(ws, "制度建设、责任追究和个人整改情况", _subtitle(ctx, "项、人次、人、件、个"), 3)
    blocks = (
        ("制度建设（按状态）", "状态", ctx.institutions, "项"),
        *((("制度建设（按类别）", "制度类别", ctx.institutions_by_kind, "项"),) if ctx.institutions_by_kind else ()),
        ("责任追究", "事项", ctx.accountability, None),
        ("领导班子成员个人整改（按落实情况）", "落实情况", ctx.members, "人"),
    )
    for caption, first, items, unit in blocks:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=3)
        ws.cell(row, 1, caption).font = HEAD_FONT
        row += 1
        for i, h in enumerate((first, "计量单位", "数量"), start=1):
            _head(ws, row, i, h)
        row += 1
        for item in items:
            _put(ws, row, 1, item.label)
            _put(ws, row, 2, unit or item.unit)
            ws.cell(row, 2).alignment = CENTER
            _put(ws, row, 3, item.value, fmt=COUNT_FORMAT)
            row += 1
        row += 1
    _widths(ws, [30, 10, 12])


def _list_sheet(
    ws: Worksheet, ctx: ReportContext, *, title: str, heads: Sequence[str], rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
) -> None:
    row = _title(ws, title, _subtitle(ctx, "个"), len(heads))
    for i, h in enumerate(heads, start=1):
        _head(ws, row, i, h)
    ws.freeze_panes = ws.cell(row + 1, 1)
    for values in rows:
        row += 1
        for i, v in enumerate(values, start=1):
            _put(ws, row, i, v, fmt="0" if isinstance(v, int) else None, text=isinstance(v, str))
    _widths(ws, widths)


def _notes_sheet(ws: Worksheet, ctx: ReportContext) -> None:
    row = _title(ws, "指标说明", f"报送期：{zh_period(ctx.period)}　　截止时间：{zh_date(ctx.deadline)}", 4)
    for i, h in enumerate(("指标", "计量单位", "定义", "数字格式"), start=1):
        _head(ws, row, i, h)
    entries = [(i.label, i.unit, i.definition, i.kind) for i in INDICATORS.values()]
    entries += [(c.label, c.unit, c.definition, c.kind) for c in TASK_COLUMNS if c.key != "rate"]
    entries.append(("增减", "个/个百分点", "本期数减上期数；比率的增减以百分点表示。", "count"))
    for label, unit, definition, kind in entries:
        row += 1
        _put(ws, row, 1, label)
        _put(ws, row, 2, unit)
        _put(ws, row, 3, definition)
        _put(ws, row, 4, "百分比，保留一位小数" if kind == "rate" else "整数，千位分隔")
    row += 2
    for note in (
        "1. 被退回（未通过校验）的报表不计入任何数字；带提示通过的报表全额计入。",
        "2. 各级比率均由合计数重新计算，不取下级比率的平均数。",
        "3. 逾期报送的报表计入各项合计，但不计入按时报送。",
        f"4. 本表由 rectify 于{zh_date(ctx.generated_at)}生成；{ctx.registry_note}。",
        *(f"{i}. {note}" for i, note in enumerate(
            (*([ctx.publication_note] if ctx.publication_note else []), *ctx.notes), start=5)),
    ):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
        ws.cell(row, 1, note).font = BODY_FONT
        row += 1
    _widths(ws, [16, 12, 60, 20])


SHEET_NAMES = ("主要指标", "专项整治", "分地区", "分类别", "制度与追究", "重点关注", "不能评先选优", "未报送单位", "说明")


def write_xlsx(ctx: ReportContext, path: str | Path) -> Path:
    """Write the summary tables of ``ctx`` to ``path`` and return it.

    Sheets: 主要指标, 专项整治, 分地区 (lower units), 分类别, 制度与追究,
    重点关注, 未报送单位, 说明.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    _register_styles(wb)
    main = wb.active
    main.title = SHEET_NAMES[0]
    _main_sheet(main, ctx)
    _tasks_sheet(wb.create_sheet(SHEET_NAMES[1]), ctx)
    _breakdown_sheet(wb.create_sheet(SHEET_NAMES[2]), ctx, ctx.breakdown, title=ctx.breakdown_title, first="单位")
    _breakdown_sheet(wb.create_sheet(SHEET_NAMES[3]), ctx, ctx.by_category, title="分类别情况", first="类别")
    _counts_sheet(wb.create_sheet(SHEET_NAMES[4]), ctx)
    _list_sheet(
        wb.create_sheet(SHEET_NAMES[5]), ctx, title="需要重点关注的单位（分级问责）",
        heads=("问责措施", "单位代码", "单位名称", "原因"),
        rows=[(a.step, a.code, a.name, "；".join(a.reasons)) for a in ctx.attention_rows_by_step],
        widths=(12, 12, 30, 60),
    )
    _list_sheet(
        wb.create_sheet(SHEET_NAMES[6]), ctx, title="整改不力、当年不能列入评先选优对象的单位",
        heads=("单位代码", "单位名称", "被诫勉批评或追责问责的月份"),
        rows=[(i.code, i.name, "、".join(zh_period(p) for p in i.periods)) for i in ctx.ineligible],
        widths=(12, 30, 40),
    )
    _list_sheet(
        wb.create_sheet(SHEET_NAMES[7]), ctx, title="未报送单位名单",
        heads=("序号", "单位代码", "单位名称", "上级单位", "层级", "联系人", "联系电话", "情况", "未报单位数（个）"),
        rows=[
            (i, m.code, m.name, m.parent, m.level, m.contact, m.phone, m.state, m.units)
            for i, m in enumerate(ctx.missing, 1)
        ],
        widths=(6, 12, 30, 24, 8, 10, 16, 14, 10),
    )
    _notes_sheet(wb.create_sheet(SHEET_NAMES[8]), ctx)
    for ws in wb.worksheets:
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.orientation = "landscape" if ws.max_column > 6 else "portrait"
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = "1:4" if ws.title in SHEET_NAMES[2:4] else "1:3"
    wb.save(path)
    return path
