"""Receipts (回执): the verdict on one received file, sent back to the unit.

A small workbook (openpyxl) or an HTML page (templates/receipt.html through
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


def _write_xlsx(ctx: ReceiptContext, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "回执"
    ws.append([ctx.title])
    ws["A1"].font = Font(bold=True, size=14)
    for label, value in (
        ("文件", ctx.file),
        ("单位代码", ctx.unit),
        ("报送期", ctx.period),
        ("结论", ctx.verdict),
        ("错误", ctx.n_errors),
        ("警告", ctx.n_warnings),
    ):
        ws.append([label, inert(value)])
    ws["B5"].font = Font(bold=True, color="006100" if ctx.accepted else "9C0006")
    ws.append([])
    ws.append(list(HEADERS))
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in ctx.rows:
        ws.append([row.no, inert(row.cell), row.code, row.severity, inert(row.message)])
        ws.cell(ws.max_row, 5).alignment = Alignment(wrap_text=True, vertical="top")
    if not ctx.rows:
        ws.append(["", "", "", "", "未发现问题。"])
    for letter, width in zip("ABCDE", (8, 22, 22, 10, 90), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    wb.save(path)


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
