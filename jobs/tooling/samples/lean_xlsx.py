"""A minimal SpreadsheetML writer for bulk sample returns.

xlsxwriter spends ~40 ms per small workbook (theme, docProps, per-cell
objects); generating 40,000 returns needs a few ms each. This writes only the
parts Excel, calamine and openpyxl need: content types, relationships,
workbook, styles (one date format, one bordered text style), shared strings
and sheets. Zip timestamps are fixed, so output is byte-identical per input.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jobs.core.findings import column_letter

_EPOCH = dt.date(1899, 12, 30)
_STAMP = (1980, 1, 1, 0, 0, 0)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml"

_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f"<styleSheet {_NS}>"
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font>'
    '<font><b/><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '<border><left style="thin"/><right style="thin"/><top style="thin"/><bottom style="thin"/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" applyBorder="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="1" xfId="0" applyBorder="1" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="1" xfId="0" applyFont="1" applyBorder="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="常规" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_DATE, _TEXT, _HEAD = 1, 2, 3


def _text(value: str) -> str:
    return escape(_CONTROL.sub("", value))


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def ref(self, value: str) -> int:
        self.count += 1
        if value not in self.index:
            self.index[value] = len(self.index)
        return self.index[value]

    def xml(self) -> str:
        items = []
        for s in self.index:
            space = ' xml:space="preserve"' if s != s.strip() else ""
            items.append(f"<si><t{space}>{_text(s)}</t></si>")
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst {_NS} count="{self.count}" uniqueCount="{len(self.index)}">{"".join(items)}</sst>'
        )


def _sheet_xml(grid: list[list[Any]], widths: list[int], strings: _Strings, *, header_row: int | None) -> str:
    rows = []
    max_col = 0
    for r, row in enumerate(grid, start=1):
        cells = []
        for c, value in enumerate(row):
            if value is None:
                continue
            ref = f"{column_letter(c)}{r}"
            max_col = max(max_col, c + 1)
            style = _HEAD if r == header_row else _TEXT
            if value == "":
                cells.append(f'<c r="{ref}" s="{_TEXT}"/>')
            elif isinstance(value, dt.date):
                cells.append(f'<c r="{ref}" s="{_DATE}"><v>{(value - _EPOCH).days}</v></c>')
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<c r="{ref}" s="{style}"><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{ref}" s="{style}" t="s"><v>{strings.ref(str(value))}</v></c>')
        if cells:
            rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    dim = f"A1:{column_letter(max(max_col, 1) - 1)}{max(len(grid), 1)}"
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, start=1))
    pane = ""
    if header_row:
        pane = (f'<pane ySplit="{header_row}" topLeftCell="A{header_row + 1}" activePane="bottomLeft" state="frozen"/>')
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet {_NS} {_RNS}><dimension ref="{dim}"/>'
        f"<sheetViews><sheetView workbookViewId=\"0\">{pane}</sheetView></sheetViews>"
        f"{f'<cols>{cols}</cols>' if cols else ''}<sheetData>{''.join(rows)}</sheetData></worksheet>"
    )


def write_lean_xlsx(path: Path, sheets: list[tuple[str, list[list[Any]], list[int], int | None]]) -> None:
    """Write ``(name, grid, widths, header_row)`` sheets; ``""`` cells are bordered blanks."""
    strings = _Strings()
    bodies = [_sheet_xml(grid, widths, strings, header_row=header) for _name, grid, widths, header in sheets]
    n = len(sheets)
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT_MAIN}.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT_MAIN}.worksheet+xml"/>'
            for i in range(1, n + 1)
        )
        + f'<Override PartName="/xl/styles.xml" ContentType="{_CT_MAIN}.styles+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT_MAIN}.sharedStrings+xml"/>'
        "</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<workbook {_NS} {_RNS}><bookViews><workbookView/></bookViews><sheets>"
        + "".join(
            f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (name, *_rest) in enumerate(sheets, start=1)
        )
        + "</sheets></workbook>"
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{n + 2}" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    )
    parts = [
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", root_rels),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", wb_rels),
        ("xl/styles.xml", _STYLES),
        *((f"xl/worksheets/sheet{i}.xml", body) for i, body in enumerate(bodies, start=1)),
        ("xl/sharedStrings.xml", strings.xml()),
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, text in parts:
            info = zipfile.ZipInfo(name, date_time=_STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = 9  # noqa: SLF001 - writestr(ZipInfo) ignores the archive's level
            zf.writestr(info, text.encode("utf-8"))
