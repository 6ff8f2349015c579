"""Receipts (回执): the verdict on one received file, sent back to the unit.

A small workbook (an xlsxwriter-built template filled per receipt) or an HTML page (templates/receipt.html through
the shared Jinja environment, autoescaped). Every value that comes from the
return (file name, unit code, period, cells, messages quoting cell text) is
passed through :func:`jobs.core.excel_safe.inert` before it reaches a cell.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from jobs.core.excel_safe import inert
from jobs.core.findings import Report
from jobs.core.names import display_name

SEVERITY_ZH = {"error": "错误", "warning": "警告"}
VERDICT_ZH = {True: "通过", False: "退回"}
TITLE = "整改落实情况“回头看”报表 回执"
HEADERS = ("序号", "单元格", "代码", "严重程度", "说明")


@dataclass(frozen=True)
class ReceiptRow:
    """One finding as printed on the receipt."""

    no: int
    cell: str
    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class ReceiptContext:
    """What templates/receipt.html renders."""

    title: str
    file: str
    unit: str
    period: str
    accepted: bool
    verdict: str
    n_errors: int
    n_warnings: int
    rows: tuple[ReceiptRow, ...]


def receipt_context(report: Report) -> ReceiptContext:
    """The receipt's content for ``report``: verdict, counts and one row per finding."""
    rows = tuple(
        ReceiptRow(
            no=i,
            cell=f.cell or f.sheet or "（整个文件）",
            code=f.code,
            severity=SEVERITY_ZH.get(f.severity, f.severity),
            message=f"（已说明）{f.message}" if f.explained else f.message,  # the unit's 说明 is on file
        )
        for i, f in enumerate(report.findings, start=1)
    )
    return ReceiptContext(
        title=TITLE,
        file=display_name(Path(report.file).name),
        unit=report.unit or "未识别",
        period=report.period or "未识别",
        accepted=report.accepted,
        verdict=VERDICT_ZH[report.accepted],
        n_errors=len(report.errors),
        n_warnings=len(report.warnings),
        rows=rows,
    )


# -- the xlsx receipt ----------------------------------------------------------
#
# A receipt is one small sheet, written for every received file, so its cost
# matters (issue #7: openpyxl took 7-90 ms, more than the rest of intake).
# xlsxwriter builds, once per process, a template workbook holding the sheet's
# settings (name, column widths, frozen header) and every style; each receipt
# then only renders its rows and shared strings into that template and zips
# them with the template's other parts, compressed once (~0.6 ms of CPU
# instead of 2-3.5 ms for a whole xlsxwriter workbook, 7-10 ms for openpyxl).
# The same layout written entirely by xlsxwriter (``_xlsxwriter_book``) is the
# reference a test compares with, cell by cell and style by style, and the
# fallback should a future xlsxwriter lay its XML out differently.

Style = Literal["title", "accepted", "rejected", "header", "message"]
# xlsxwriter format properties by style name.
STYLES: dict[str, dict[str, object]] = {
    "title": {"bold": True, "font_size": 14},
    "accepted": {"bold": True, "font_color": "#006100"},
    "rejected": {"bold": True, "font_color": "#9C0006"},
    "header": {"bold": True, "pattern": 1, "bg_color": "#DDEBF7"},
    "message": {"text_wrap": True, "valign": "top"},
}
COLUMN_WIDTHS = (8, 22, 22, 10, 90)
SHEET_NAME = "回执"
HEADER_ROW = 8  # 0-based: the title, six meta rows, a blank row; rows above the first finding stay frozen
# Everything in memory (no temp file per worksheet), and no guessing from
# text: a value never becomes a formula, a hyperlink or a number.
_XLSX_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}

Cell = tuple[int, int, str | int, Style | None]


def receipt_cells(ctx: ReceiptContext) -> list[Cell]:
    """The receipt sheet as ``(row, col, value, style)`` cells, 0-based, in row order.

    Return-derived text (file name, unit, period, cells, messages) is already
    passed through :func:`jobs.core.excel_safe.inert`; ints are number cells.
    """
    cells: list[Cell] = [(0, 0, ctx.title, "title")]
    meta = (("文件", inert(ctx.file)), ("单位代码", inert(ctx.unit)), ("报送期", inert(ctx.period)),
            ("结论", ctx.verdict), ("错误", ctx.n_errors), ("警告", ctx.n_warnings))  # fmt: skip
    for row, (label, value) in enumerate(meta, start=1):
        style: Style | None = ("accepted" if ctx.accepted else "rejected") if label == "结论" else None
        cells += [(row, 0, label, None), (row, 1, value, style)]  # type: ignore[list-item]
    cells += [(HEADER_ROW, col, label, "header") for col, label in enumerate(HEADERS)]
    for row, item in enumerate(ctx.rows, start=HEADER_ROW + 1):
        cells += [
            (row, 0, item.no, None),
            (row, 1, inert(item.cell), None),  # type: ignore[list-item]
            (row, 2, item.code, None),
            (row, 3, item.severity, None),
            (row, 4, inert(item.message), "message"),  # type: ignore[list-item]
        ]
    if not ctx.rows:
        cells.append((HEADER_ROW + 1, 4, "未发现问题。", None))
    return cells


def _xlsxwriter_book(cells: list[Cell], target: str | io.BytesIO) -> None:
    """Write ``cells`` on the receipt sheet as a whole workbook with xlsxwriter."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(target, _XLSX_OPTIONS)
    ws = wb.add_worksheet(SHEET_NAME)
    for col, width in enumerate(COLUMN_WIDTHS):
        ws.set_column(col, col, width)
    formats = {name: wb.add_format(props) for name, props in STYLES.items()}
    for row, col, value, style in cells:
        fmt = formats[style] if style else None
        if isinstance(value, int):
            ws.write_number(row, col, value, fmt)
        else:
            ws.write_string(row, col, value, fmt)  # never write(): no formula from "=..."
    ws.freeze_panes(HEADER_ROW + 1, 0)
    wb.close()


SHEET_PART, STRINGS_PART, CORE_PART = "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "docProps/core.xml"
_CELL_STYLE = re.compile(r'<c r="([A-Z]+)1"(?: s="(\d+)")?')
_DIMENSION = re.compile(r'<dimension ref="[^"]*"/>')
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# Excel's own escapes in shared strings, as xlsxwriter writes them: a literal
# "_x0041_" is protected, control characters become "_xHHHH_".
_ESCAPE_LIKE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_EDGE_SPACE = re.compile(r"^\s|\s$")


@dataclass(frozen=True)
class _Template:
    sheet_head: str            # worksheet XML up to <dimension ref="
    sheet_settings: str        # from after the dimension to <sheetData>
    sheet_tail: str            # from </sheetData> to the end
    strings_head: str          # shared strings XML up to <sst ...>
    strings_ns: str
    core: str                  # docProps/core.xml with the template's timestamps
    styles: dict[str, str]     # style name -> xf index
    parts: tuple[tuple[str, int, bytes, int] | str, ...]  # (name, crc, deflated, size), or a per-receipt part's name


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, as in a zip entry
    return packer.compress(data) + packer.flush()


@lru_cache(maxsize=1)
def _template() -> _Template | None:
    """The template workbook, built once per process by xlsxwriter: one marker cell per style.

    ``None`` if xlsxwriter's output is not shaped as expected (receipts are
    then written by xlsxwriter whole: slower, same content).
    """
    try:
        return _build_template()
    except (KeyError, ValueError, IndexError, AttributeError, zipfile.BadZipFile):
        return None


def _build_template() -> _Template:
    buffer = io.BytesIO()
    _xlsxwriter_book([(0, col, name, name) for col, name in enumerate(STYLES)], buffer)  # type: ignore[misc]
    with zipfile.ZipFile(buffer) as book:
        parts = {info.filename: book.read(info) for info in book.infolist()}
    sheet = parts[SHEET_PART].decode("utf-8")
    letters = dict(_CELL_STYLE.findall(sheet))
    styles = {name: letters[chr(65 + col)] for col, name in enumerate(STYLES)}
    head, rest = _DIMENSION.split(sheet, maxsplit=1)
    settings, data = rest.split("<sheetData>", 1)
    strings = parts[STRINGS_PART].decode("utf-8")
    namespace = re.search(r'xmlns="[^"]*"', strings)
    if not all(styles.values()) or namespace is None or not _TIMESTAMP.search(parts[CORE_PART].decode()):
        msg = "unexpected xlsxwriter output for the receipt template"
        raise ValueError(msg)
    per_receipt = (SHEET_PART, STRINGS_PART, CORE_PART)
    return _Template(
        sheet_head=head + '<dimension ref="',
        sheet_settings='"/>' + settings + "<sheetData>",
        sheet_tail="</sheetData>" + data.split("</sheetData>", 1)[1],
        strings_head=strings[: strings.index("<sst ")],
        strings_ns=namespace.group(0),
        core=parts[CORE_PART].decode("utf-8"),
        styles=styles,
        parts=tuple(
            name if name in per_receipt else (name, zlib.crc32(data), _deflate(data), len(data))
            for name, data in parts.items()
        ),
    )


MAX_UTF16 = 32_767  # Excel's limit for one cell's text, in UTF-16 units (an emoji counts 2)


def _cut_utf16(text: str) -> str:
    """``text`` cut to Excel's limit, never inside a character (as xlsxwriter cuts)."""
    length = 0
    for i, char in enumerate(text):
        length += 2 if ord(char) > 0xFFFF else 1
        if length > MAX_UTF16:
            return text[:i]
    return text


def _shared_string(text: str) -> str:
    """One ``<si>`` of the shared strings part, escaped as xlsxwriter escapes it."""
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", _ESCAPE_LIKE.sub(r"_x005F\1", text))
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return ('<si><t xml:space="preserve">' if _EDGE_SPACE.search(text) else "<si><t>") + escaped + "</t></si>"


def _render(cells: list[Cell], template: _Template) -> dict[str, bytes]:
    """The per-receipt parts: the sheet's rows, its shared strings, the document timestamps."""
    index: dict[str, int] = {}
    rows: list[str] = []
    current = -1
    n_strings = 0
    for row, col, value, style in cells:
        if row != current:
            rows.append(("</row>" if current >= 0 else "") + f'<row r="{row + 1}" spans="1:5">')
            current = row
        ref = f"{'ABCDE'[col]}{row + 1}"
        attrs = f' r="{ref}" s="{template.styles[style]}"' if style else f' r="{ref}"'
        if isinstance(value, int):
            rows.append(f"<c{attrs}><v>{value}</v></c>")
        else:
            if len(value) > MAX_UTF16 // 2:
                value = _cut_utf16(value)
            n_strings += 1
            i = index.setdefault(value, len(index))
            rows.append(f'<c{attrs} t="s"><v>{i}</v></c>')
    rows.append("</row>")
    sheet = f"{template.sheet_head}A1:E{current + 1}{template.sheet_settings}{''.join(rows)}{template.sheet_tail}"
    strings = (f'{template.strings_head}<sst {template.strings_ns} count="{n_strings}" uniqueCount="{len(index)}">'
               f"{''.join(map(_shared_string, index))}</sst>")  # fmt: skip
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    core = _TIMESTAMP.sub(now, template.core)
    return {SHEET_PART: sheet.encode("utf-8"), STRINGS_PART: strings.encode("utf-8"), CORE_PART: core.encode("utf-8")}


_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, as xlsxwriter dates its entries


def _zip(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """A zip archive of already deflated entries ``(name, crc32, deflated, size)`` (no zip64: receipts are small)."""
    chunks: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for name, crc, deflated, size in entries:
        encoded = name.encode("ascii")
        fields = (_DOS_DATE, crc, len(deflated), size, len(encoded))
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, *fields, 0) + encoded
        directory.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, *fields, 0, 0, 0, 0, 0,
                                     offset) + encoded)  # fmt: skip
        chunks += (local, deflated)
        offset += len(local) + len(deflated)
    central = b"".join(directory)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(directory), len(directory), len(central), offset, 0)
    return b"".join((*chunks, central, end))


def receipt_xlsx_bytes(ctx: ReceiptContext) -> bytes:
    """The ``.xlsx`` receipt of ``ctx`` as bytes (the template filled with its cells)."""
    template = _template()
    if template is None:
        buffer = io.BytesIO()
        _xlsxwriter_book(receipt_cells(ctx), buffer)
        return buffer.getvalue()
    rendered = _render(receipt_cells(ctx), template)
    entries = []
    for part in template.parts:
        if isinstance(part, str):
            data = rendered[part]
            entries.append((part, zlib.crc32(data), _deflate(data), len(data)))
        else:
            entries.append(part)
    return _zip(entries)


def _write_xlsx(ctx: ReceiptContext, path: Path) -> None:
    # built in memory, then one write: an error before it leaves no file behind
    path.write_bytes(receipt_xlsx_bytes(ctx))


def write_receipt(report: Report, path: str | Path, *, fmt: Literal["xlsx", "html"] = "xlsx") -> Path:
    """Write the receipt of ``report`` to ``path``.

    Parameters
    ----------
    report
        The verdict on one file.
    path
        Target file; its suffix is not checked, ``fmt`` decides the format.
    fmt
        ``xlsx`` (default) or ``html``.
    """
    path = Path(path)
    ctx = receipt_context(report)
    if fmt == "xlsx":
        _write_xlsx(ctx, path)
    elif fmt == "html":
        from jobs.core.jinja import environment

        html = environment().get_template("receipt.html").render(ctx=ctx)
        path.write_text(html, encoding="utf-8")
    else:
        msg = f"unknown receipt format {fmt!r}"
        raise ValueError(msg)
    return path
