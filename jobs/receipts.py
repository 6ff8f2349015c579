"""Receipts (回执): the verdict on one received file, sent back to the unit.

A small workbook (xlsxwriter, in memory) or an HTML page (templates/receipt.html through
the shared Jinja environment, autoescaped). Every value that comes from the
return (file name, unit code, period, cells, messages quoting cell text) is
passed through :func:`jobs.excel_safe.inert` before it reaches a cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jobs.excel_safe import inert
from jobs.findings import Report

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
            message=f.message,
        )
        for i, f in enumerate(report.findings, start=1)
    )
    return ReceiptContext(
        title=TITLE,
        file=Path(report.file).name,
        unit=report.unit or "未识别",
        period=report.period or "未识别",
        accepted=report.accepted,
        verdict=VERDICT_ZH[report.accepted],
        n_errors=len(report.errors),
        n_warnings=len(report.warnings),
        rows=rows,
    )


# Workbook options: everything in memory (no temp file per worksheet: with
# temp files a receipt costs ~10x more), and no guessing from text, so a value
# is never turned into a formula, a hyperlink or a number behind our back.
# write_string is used for all text anyway; the options are a second fence.
_XLSX_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
# Formats as properties; a format object belongs to one workbook, so these are
# added once per receipt (cheap: a dict each), never rebuilt per cell.
_TITLE = {"bold": True, "font_size": 14}
_VERDICT = {True: {"bold": True, "font_color": "#006100"}, False: {"bold": True, "font_color": "#9C0006"}}
_HEADER = {"bold": True, "pattern": 1, "bg_color": "#DDEBF7"}
_MESSAGE = {"text_wrap": True, "valign": "top"}
COLUMN_WIDTHS = (8, 22, 22, 10, 90)
SHEET_NAME = "回执"


def _write_xlsx(ctx: ReceiptContext, path: Path) -> None:
    # xlsxwriter, not openpyxl: a small write-only workbook costs ~2 ms instead
    # of 10-90 ms (issue #7), and receipts are written for every received file.
    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

    # in_memory: the file is created by close() alone, so a failure before it
    # leaves no half receipt at ``path``.
    wb = xlsxwriter.Workbook(str(path), _XLSX_OPTIONS)
    ws = wb.add_worksheet(SHEET_NAME)
    for col, width in enumerate(COLUMN_WIDTHS):
        ws.set_column(col, col, width)
    text = ws.write_string
    text(0, 0, ctx.title, wb.add_format(_TITLE))
    meta: tuple[tuple[str, str | int], ...] = (
        ("文件", ctx.file),
        ("单位代码", ctx.unit),
        ("报送期", ctx.period),
        ("结论", ctx.verdict),
        ("错误", ctx.n_errors),
        ("警告", ctx.n_warnings),
    )
    verdict = wb.add_format(_VERDICT[ctx.accepted])
    for row, (label, value) in enumerate(meta, start=1):
        text(row, 0, label)
        if isinstance(value, int):
            ws.write_number(row, 1, value)
        else:
            text(row, 1, inert(value), verdict if label == "结论" else None)
    header_row = len(meta) + 2  # 0-based: title, meta, one blank row
    header = wb.add_format(_HEADER)
    for col, label in enumerate(HEADERS):
        text(header_row, col, label, header)
    message = wb.add_format(_MESSAGE)
    number = ws.write_number
    for row, item in enumerate(ctx.rows, start=header_row + 1):
        number(row, 0, item.no)
        text(row, 1, inert(item.cell))
        text(row, 2, item.code)
        text(row, 3, item.severity)
        text(row, 4, inert(item.message), message)
    if not ctx.rows:
        text(header_row + 1, 4, "未发现问题。")
    ws.freeze_panes(header_row + 1, 0)
    try:
        wb.close()
    except FileCreateError as exc:
        # callers handle a full disk or a missing folder as the OSError behind it
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
        raise cause from None


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
        from jobs.jinja import environment

        html = environment().get_template("receipt.html").render(ctx=ctx)
        path.write_text(html, encoding="utf-8")
    else:
        msg = f"unknown receipt format {fmt!r}"
        raise ValueError(msg)
    return path
