"""Lay out and write one return workbook, messily if asked, and say where each
value ended up (the manifest's cells).

Writing uses xlsxwriter (``.xlsx``) and xlwt (``.xls``): both stream cells
and are an order of magnitude faster than openpyxl for thousands of files.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jobs.core.findings import column_letter
from jobs.core.schema import Schema, Sheet
from jobs.tooling.samples.content import ReturnData
from jobs.tooling.samples.lean_xlsx import write_lean_xlsx

Format = Literal["xlsx", "xls"]
DateStyle = Literal["excel", "iso", "slash", "dot", "chinese", "mixed"]
GUIDE_SHEET = "填表说明"
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_SPACES = (" ", "  ", "\u3000")
_CREATED = dt.datetime(2015, 1, 1)
Grid = tuple[str, list[list[Any]], list[int], int | None]  # name, cells, widths, header row


@dataclass
class Messiness:
    """What a real office's file does differently from the template (all still correct)."""

    title_rows: int = 0          # rows above each header: an optional title, then blank rows
    title: bool = False          # the first of those rows holds a title
    sheet_spaces: bool = False   # leading/trailing (full-width) spaces in sheet names
    header_spaces: bool = False  # ... in headers and key/value item names
    value_spaces: bool = False   # ... around text values
    fullwidth_digits: bool = False
    date_style: DateStyle = "excel"
    numbers_as_text: bool = False
    guide_sheet: bool = False    # an extra 填表说明 sheet
    sheet_order: bool = False
    column_order: bool = False
    trailing_rows: int = 0       # formatted empty rows after the data
    halfwidth_brackets: bool = False  # 约谈提醒(人次) typed with ASCII brackets

    def names(self) -> list[str]:
        """The manifest's list of applied messiness kinds."""
        out = []
        if self.title and self.title_rows:
            out.append("title-row")
        if self.title_rows > int(self.title):
            out.append("blank-rows")
        flags = ("sheet_spaces", "header_spaces", "value_spaces", "fullwidth_digits", "numbers_as_text",
                 "guide_sheet", "sheet_order", "column_order", "halfwidth_brackets")
        out += [f.replace("_", "-") for f in flags if getattr(self, f)]
        if self.date_style != "excel":
            out.append(f"date-{self.date_style}")
        if self.trailing_rows:
            out.append("trailing-empty-rows")
        return out


@dataclass
class SheetLayout:
    key: str
    name: str               # schema (Chinese) name, used in manifest cells
    source_name: str        # as written
    header_row: int         # 1-based Excel row of the header
    columns: list[str]      # column keys in written order ("_item"/"_value" for key/value sheets)
    items: list[str] = field(default_factory=list)  # key/value item keys in written order

    def cell(self, row_ref: int | str | None, col_key: str | None) -> tuple[int | None, int | None]:
        """1-based row and 0-based column of a data row index (or item key) and column key."""
        if row_ref is None:
            return None, None
        if isinstance(row_ref, str):
            row = self.header_row + 1 + self.items.index(row_ref)
            return row, self.columns.index("_value")
        col = self.columns.index(col_key) if col_key in self.columns else None
        return self.header_row + 1 + row_ref, col


def plan_layout(data: ReturnData, schema: Schema, mess: Messiness, rng: random.Random) -> list[SheetLayout]:
    """Decide sheet order, names, header rows and column order for one file."""
    layouts = []
    for sheet in schema.sheets:
        if sheet.key in data.omit_sheets:
            continue
        name = sheet.name
        if mess.sheet_spaces and rng.random() < 0.5:
            name = rng.choice((f"{name}{rng.choice(_SPACES)}", f"{rng.choice(_SPACES)}{name}"))
        if sheet.layout == "keyvalue":
            columns = ["_item", "_value"]
            items = [c.key for c in sheet.columns if c.key in data.kv.get(sheet.key, {})]
        else:
            omit = data.omit_columns.get(sheet.key, set())
            columns = [c.key for c in sheet.columns if c.key not in omit]
            if mess.column_order and rng.random() < 0.6:
                rng.shuffle(columns)
            items = []
        layouts.append(SheetLayout(sheet.key, sheet.name, name, mess.title_rows + 1, columns, items))
    if mess.sheet_order:
        rng.shuffle(layouts)
    return layouts


def _text_date(value: dt.date, style: str, rng: random.Random) -> str:
    if style == "mixed":
        style = rng.choice(("iso", "slash", "dot", "chinese"))
    return {
        "iso": f"{value:%Y-%m-%d}",
        "slash": f"{value.year}/{value.month}/{value.day}",
        "dot": f"{value.year}.{value.month}.{value.day}",
        "chinese": f"{value.year}年{value.month}月{value.day}日",
    }[style]


def _render(value: Any, mess: Messiness, rng: random.Random) -> Any:
    """A cell value as the unit's clerk typed it: str, int, date or None."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        if mess.date_style == "excel":
            return value
        text = _text_date(value, mess.date_style, rng)
        return text.translate(_FULLWIDTH) if mess.fullwidth_digits and rng.random() < 0.3 else text
    if isinstance(value, int):
        if not (mess.numbers_as_text or mess.fullwidth_digits):
            return value
        text = str(value)
        return text.translate(_FULLWIDTH) if mess.fullwidth_digits and rng.random() < 0.5 else text
    text = str(value)
    if mess.value_spaces and rng.random() < 0.2:
        text = rng.choice((f"{text}{rng.choice(_SPACES)}", f"{rng.choice(_SPACES)}{text}"))
    return text


def _header_text(name: str, mess: Messiness, rng: random.Random) -> str:
    if mess.halfwidth_brackets:
        name = name.replace("（", "(").replace("）", ")")
    if mess.header_spaces and rng.random() < 0.3:
        name = rng.choice((f"{name}{rng.choice(_SPACES)}", f"{rng.choice(_SPACES)}{name}"))
    return name


def build_grids(
    data: ReturnData, layouts: list[SheetLayout], schema: Schema, mess: Messiness, rng: random.Random, *, title: str
) -> list[Grid]:
    """Every sheet as (source name, grid of cell values, column widths, 1-based header row)."""
    grids = []
    for lay in layouts:
        sheet: Sheet = schema.sheet(lay.key)
        grid: list[list[Any]] = []
        if mess.title_rows:
            blank = mess.title_rows - 1 if mess.title else mess.title_rows
            if mess.title:
                grid.append([f"{title}{sheet.name}"])
            grid += [[] for _ in range(blank)]
        if sheet.layout == "keyvalue":
            grid.append([_header_text(h, mess, rng) for h in sheet.headers])
            values = data.kv.get(lay.key, {})
            for key in lay.items:
                col = next(c for c in sheet.columns if c.key == key)
                grid.append([_header_text(col.name, mess, rng), _render(values[key], mess, rng)])
            widths = [max(len(c.name) for c in sheet.columns) * 2 + 2, max(c.width for c in sheet.columns)]
        else:
            by_key = {c.key: c for c in sheet.columns}
            grid.append([_header_text(by_key[k].name, mess, rng) for k in lay.columns])
            for row in data.tables.get(lay.key, []):
                grid.append([_render(row.get(k), mess, rng) for k in lay.columns])
            widths = [by_key[k].width for k in lay.columns]
            grid += [[""] * len(lay.columns) for _ in range(mess.trailing_rows)]
        grids.append((lay.source_name, grid, widths, lay.header_row))
    if mess.guide_sheet:
        guide = [["填表说明"], ["1.请按模板填写，不要删除工作表和表头。"], ["2.日期按2015-01-15格式填写。"],
                 ["3.见人见物见思想要写深写实。"]]
        grids.insert(0 if rng.random() < 0.5 else len(grids), (GUIDE_SHEET, guide, [60], None))
    return grids


def write_xlsx(path: Path, grids: list[Grid]) -> None:
    """Write grids with xlsxwriter; ``""`` cells become formatted blanks."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": _CREATED})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd", "border": 1})
    cell_fmt = wb.add_format({"border": 1, "text_wrap": True, "valign": "top"})
    for name, grid, widths, _header in grids:
        ws = wb.add_worksheet(name)
        for c, w in enumerate(widths):
            ws.set_column(c, c, w)
        for r, row in enumerate(grid):
            for c, value in enumerate(row):
                if value is None or value == "":
                    if value == "":
                        ws.write_blank(r, c, None, cell_fmt)
                elif isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), date_fmt)
                elif isinstance(value, int):
                    ws.write_number(r, c, value, cell_fmt)
                else:
                    ws.write_string(r, c, value, cell_fmt)
    wb.close()


def write_xls(path: Path, grids: list[Grid]) -> None:
    """Write grids as a legacy ``.xls`` with xlwt."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    plain = xlwt.easyxf("borders: left thin, right thin, top thin, bottom thin")
    for name, grid, widths, _header in grids:
        ws = wb.add_sheet(name, cell_overwrite_ok=True)
        for c, w in enumerate(widths):
            ws.col(c).width = 256 * min(w, 250)
        for r, row in enumerate(grid):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if value == "":
                    ws.write(r, c, None, plain)
                elif isinstance(value, dt.date):
                    ws.write(r, c, dt.datetime(value.year, value.month, value.day), date_style)
                else:
                    ws.write(r, c, value, plain)
    wb.save(str(path))


def write_corrupt(path: Path, grids: list[Grid]) -> None:
    """A truncated workbook, as a broken upload or mail attachment leaves it."""
    write_lean_xlsx(path, grids)
    data = path.read_bytes()
    path.write_bytes(data[: max(200, len(data) // 3)])


def a1(layout: SheetLayout, row: int | None, col: int | None) -> str | None:
    """``整改台账!L12`` for a manifest entry (schema sheet name, real position)."""
    if row is None or col is None:
        return None
    return f"{layout.name}!{column_letter(col)}{row}"
