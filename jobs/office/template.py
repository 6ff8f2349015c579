"""The blank return workbook (报表模板), generated from the schema.

Everything here derives from :func:`jobs.core.schema.load_schema`: sheets, headers,
pre-filled key/value items and task rows, drop-downs, date and number
validation, column widths and the 填表说明 sheet. Adding a column in the YAML
changes the template with no code edit.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from jobs.core.schema import Column, Rule, Schema, Sheet, load_schema

GUIDE_SHEET = "填表说明"
LISTS_SHEET = "下拉选项"
# Excel rejects inline list validations whose formula exceeds 255 characters.
INLINE_LIST_LIMIT = 255
DEFAULT_ROWS = 500
# Excel's limits for data-validation texts (characters).
TITLE_LIMIT, PROMPT_LIMIT, ERROR_LIMIT = 32, 255, 225
DATE_FORMAT = "yyyy-mm-dd"

TYPE_LABELS = {
    "text": "文本",
    "integer": "非负整数",
    "date": "日期（如2015-01-15）",
    "enum": "下拉选择",
    "period": "年月（YYYY-MM，如2015-02）",
}

_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="C00000")
_KEY_FILL = PatternFill("solid", fgColor="FCE4D6")
_SECTION_FONT = Font(bold=True, size=12, color="C00000")
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def display_width(text: str) -> int:
    """Width of ``text`` in Excel character units: CJK and full-width count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def column_width(column: Column, *, extra: tuple[str, ...] = ()) -> int:
    """The schema width, widened so the header and ``extra`` texts fit."""
    texts = (column.name, *extra)
    return max(column.width, *(display_width(t) + 2 for t in texts))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Validations:
    """Collects data validations and the hidden lists sheet for long lists."""

    def __init__(self, wb: Workbook) -> None:
        self.wb = wb
        self.lists: Worksheet | None = None
        self.next_col = 1

    def list_formula(self, values: tuple[str, ...]) -> str:
        inline = '"' + ",".join(values) + '"'
        if len(inline) <= INLINE_LIST_LIMIT:
            return inline
        if self.lists is None:
            self.lists = self.wb.create_sheet(LISTS_SHEET)
            self.lists.sheet_state = "hidden"
        col = get_column_letter(self.next_col)
        for i, value in enumerate(values, start=1):
            self.lists.cell(row=i, column=self.next_col, value=value)
        self.next_col += 1
        return f"'{LISTS_SHEET}'!${col}$1:${col}${len(values)}"

    def add(self, ws: Worksheet, column: Column, ref: str) -> None:
        dv = self.for_column(column)
        if dv is None:
            return
        dv.add(ref)
        ws.add_data_validation(dv)

    def for_column(self, column: Column) -> DataValidation | None:
        if column.type == "enum" and column.values:
            dv = DataValidation(type="list", formula1=self.list_formula(column.values), allow_blank=True)
            dv.error = f"请从下拉列表中选择：{'、'.join(column.values)}"
        elif column.type == "date":
            dv = DataValidation(type="date", operator="greaterThan", formula1="DATE(2000,1,1)", allow_blank=True)
            dv.error = "请填写有效日期，例如2015-01-15"
        elif column.type == "integer":
            dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True)
            dv.error = "请填写非负整数"
        else:
            return None
        # Excel rejects the whole file ("repair") when these exceed its limits.
        dv.error = _clip(dv.error, ERROR_LIMIT)
        dv.errorTitle = _clip(column.name, TITLE_LIMIT)
        dv.showErrorMessage = True
        dv.prompt = _clip(column.description, PROMPT_LIMIT)
        dv.promptTitle = _clip(column.name, TITLE_LIMIT)
        dv.showInputMessage = bool(column.description)
        return dv


def _header(ws: Worksheet, headers: tuple[str, ...]) -> None:
    for i, name in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=i, value=name)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = _CENTER
        cell.border = _BORDER
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 24


def _cell_format(cell, column: Column) -> None:  # noqa: ANN001 - openpyxl cell
    cell.border = _BORDER
    if column.type == "date":
        cell.number_format = DATE_FORMAT
    elif column.type in ("text", "period"):
        # Codes and phone numbers must stay text, not become numbers.
        cell.number_format = "@"


def _keyvalue_sheet(ws: Worksheet, sheet: Sheet, schema: Schema, dvs: _Validations) -> None:
    _header(ws, sheet.headers)
    for row, column in enumerate(sheet.columns, start=2):
        key = ws.cell(row=row, column=1, value=column.name)
        key.fill = _KEY_FILL
        key.border = _BORDER
        key.font = Font(bold=column.required)
        value = ws.cell(row=row, column=2)
        _cell_format(value, column)
        if column.type == "enum" and column.values == schema.report_types:
            value.value = schema.default_report_type
        dvs.add(ws, column, f"B{row}")
    ws.column_dimensions["A"].width = max(display_width(c.name) for c in sheet.columns) + 4
    ws.column_dimensions["B"].width = max(max(c.width for c in sheet.columns), display_width(sheet.headers[1]) + 2)


def _table_sheet(ws: Worksheet, sheet: Sheet, schema: Schema, dvs: _Validations, rows: int) -> None:
    _header(ws, sheet.headers)
    prefill = sheet.key == "tasks"
    last = max(rows, len(schema.tasks) + 1 if prefill else 0) + 1
    for i, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(i)
        extra = tuple(schema.tasks.values()) if prefill and column.key == "task_name" else ()
        ws.column_dimensions[letter].width = column_width(column, extra=extra)
        dvs.add(ws, column, f"{letter}2:{letter}{last}")
        for r in range(2, (len(schema.tasks) if prefill else 0) + 2):
            _cell_format(ws.cell(row=r, column=i), column)
    if prefill:
        cols = {c.key: i for i, c in enumerate(sheet.columns, start=1)}
        for r, (no, name) in enumerate(sorted(schema.tasks.items()), start=2):
            if "task_no" in cols:
                ws.cell(row=r, column=cols["task_no"], value=no)
            if "task_name" in cols:
                ws.cell(row=r, column=cols["task_name"], value=name).alignment = _WRAP


def describe_rule(rule: Rule, schema: Schema) -> str:
    """A conditional rule as a Chinese sentence for the 填表说明 sheet."""

    def quoted(values: object) -> str:
        if isinstance(values, (list, tuple)):
            return "或".join(f"“{v}”" for v in values)
        return f"“{values}”"

    when = rule.when or {}
    if "equals" in when:
        cond = f"“{when['column']}”为{quoted(when['equals'])}时，"
    elif "not_equals" in when:
        cond = f"“{when['column']}”不是{quoted(when['not_equals'])}时，"
    elif "in" in when:
        cond = f"“{when['column']}”为{quoted(when['in'])}时，"
    else:
        cond = "每一行"
    then = rule.then
    if then.get("not_null"):
        act = f"“{then['column']}”必须填写"
    elif then.get("is_null"):
        act = f"“{then['column']}”应当留空"
    elif "equals" in then:
        act = f"“{then['column']}”必须为{quoted(then['equals'])}"
    elif "in" in then:
        act = f"“{then['column']}”必须为{quoted(then['in'])}"
    elif "le_column" in then:
        act = f"“{then['column']}”不得大于“{then['le_column']}”"
    elif then.get("all_zero"):
        act = "、".join(f"“{c}”" for c in then["columns"]) + "均应为0"
    else:
        act = f"须符合规则{rule.id}"
    title = schema.finding(rule.code).title
    return f"{cond}{act}（否则：{title}）。"


def _guide_sheet(ws: Worksheet, schema: Schema) -> None:
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 44
    ws.column_dimensions["C"].width = 24
    ws.column_dimensions["D"].width = 10
    ws.column_dimensions["E"].width = 44
    row = 1

    def line(*values: object, font: Font | None = None, fill: PatternFill | None = None) -> None:
        nonlocal row
        for i, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=i, value=value)
            cell.alignment = _WRAP
            if font is not None:
                cell.font = font
            if fill is not None:
                cell.fill = fill
        row += 1

    line(f"{schema.title}填表说明", font=Font(bold=True, size=14))
    line(f"本报表共{len(schema.sheets)}张工作表，请勿删除、改名；表头请勿修改。日期请按2015-01-15的格式填写，数字请填非负整数。")
    row += 1
    for sheet in schema.sheets:
        line(f"工作表：{sheet.name}", font=_SECTION_FONT)
        if sheet.description:
            line(sheet.description)
        first = "项目" if sheet.layout == "keyvalue" else "列名"
        line(first, "含义", "类型", "是否必填", "允许值", font=_HEADER_FONT, fill=_HEADER_FILL)
        for column in sheet.columns:
            line(
                column.name,
                column.description,
                TYPE_LABELS.get(column.type, column.type),
                "必填" if column.required else "选填",
                "、".join(column.values) if column.values else "",
            )
        rules = [r for r in schema.rules if r.sheet == sheet.key]
        for rule in rules:
            line("规则", describe_rule(rule, schema))
        row += 1
    sub = schema.substance
    line("见人见物见思想", font=_SECTION_FONT)
    # Chinese placeholders make better examples for a clerk than “N/A”.
    examples = sorted(sub.placeholders, key=lambda p: (not any("\u4e00" <= ch <= "\u9fff" for ch in p), len(p), p))[:8]
    for key, label in sub.label.items():
        line(label, f"不得为空或填写“{'”“'.join(examples)}”等敷衍内容；不少于{sub.min_length.get(key, 0)}个字。")
    copied = "、".join(sub.label[k] for k in sub.copy_checked)
    line("防止照抄照搬", f"{copied}不得与其他单位或本表其他行完全相同，请结合本单位实际填写。")
    row += 1
    line(f"专项整治任务目录（{len(schema.tasks)}项）", font=_SECTION_FONT)
    line("任务编号", "任务名称", font=_HEADER_FONT, fill=_HEADER_FILL)
    for no, name in sorted(schema.tasks.items()):
        line(no, name)


def build_template(*, schema: Schema | None = None, rows: int = DEFAULT_ROWS) -> Workbook:
    """Build the blank return workbook in memory.

    Parameters
    ----------
    schema
        The return format; default :func:`load_schema`.
    rows
        Number of data rows of table sheets that carry validations.
    """
    schema = schema or load_schema()
    wb = Workbook()
    wb.remove(wb.active)
    dvs = _Validations(wb)
    for sheet in schema.sheets:
        ws = wb.create_sheet(sheet.name)
        if sheet.layout == "keyvalue":
            _keyvalue_sheet(ws, sheet, schema, dvs)
        else:
            _table_sheet(ws, sheet, schema, dvs, rows)
    _guide_sheet(wb.create_sheet(GUIDE_SHEET), schema)
    if dvs.lists is not None:
        # Keep the hidden lists sheet last so the visible order is the schema's.
        wb.move_sheet(dvs.lists, offset=len(wb.sheetnames))
    wb.active = 0
    return wb


def write_template(path: str | Path, *, schema: Schema | None = None, rows: int = DEFAULT_ROWS) -> Path:
    """Write the blank return workbook to ``path`` (``.xlsx``) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build_template(schema=schema, rows=rows).save(path)
    return path
