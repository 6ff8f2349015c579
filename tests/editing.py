"""Test helper: copies of generated returns with their unit, period or 见物/见思想 texts edited."""

from __future__ import annotations

from pathlib import Path


def edit_return(source: Path, target: Path, *, unit: str | None = None, name: str | None = None,
                period: str | None = None, facts: dict[int, str] | None = None,
                mindset: dict[int, str] | None = None) -> None:  # fmt: skip
    """``source`` re-labelled (单位代码, 单位名称, 报送期) and with some 整改台账 见物/见思想 cells (by data row,
    1-based) replaced. Re-label a unit with its name too: another unit's name under its code is an error
    (``unit-code-conflict``)."""
    import openpyxl

    wb = openpyxl.load_workbook(source)
    for row in wb["基本信息"].iter_rows():
        if unit and row[0].value == "单位代码":
            row[1].value = unit
        if name and row[0].value == "单位名称":
            row[1].value = name
        if period and row[0].value == "报送期":
            row[1].value = period
    ws = wb["整改台账"]
    for header, texts in (("见物", facts or {}), ("见思想", mindset or {})):
        cell = next((c for row in ws.iter_rows(max_row=6) for c in row if c.value == header), None)
        for k, text in texts.items():
            if cell is not None:
                ws.cell(row=cell.row + k, column=cell.column).value = text
    wb.save(target)
