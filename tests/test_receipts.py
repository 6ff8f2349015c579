"""Receipts: the workbook and HTML sent back to the unit."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.core.findings import Report, make_finding
from jobs.intake.receipts import HEADERS, receipt_context, write_receipt


def _report(schema, *, value: str = "作风问题") -> Report:
    return Report(
        file="/inbox/=HYPERLINK(1).xlsx",
        unit="110000",
        period="2015-02",
        findings=[
            make_finding("bad-enum", sheet="整改台账", row=12, column="问题类别", col_index=2, value=value,
                         allowed="形式主义、其他", schema=schema),
            make_finding("too-thin", sheet="整改台账", row=13, column="见物", col_index=10, length=5, min_length=15,
                         schema=schema),
        ],
    )


def _rows(path):
    ws = openpyxl.load_workbook(path).active
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_xlsx_receipt_lists_every_finding(tmp_path, schema):
    report = _report(schema)
    path = write_receipt(report, tmp_path / "r.xlsx")
    rows = _rows(path)
    assert rows[0][0].endswith("回执")
    meta = {r[0]: r[1] for r in rows[1:12]}
    assert meta["结论"] == "退回" and meta["错误"] == 1 and meta["提示"] == 1
    assert meta["单位代码"] == "110000" and meta["报送期"] == "2015-02"
    start = next(i for i, r in enumerate(rows) if tuple(r[:5]) == HEADERS) + 1
    body = [r[:5] for r in rows[start:]]
    assert body == [
        [1, "整改台账!C12", "bad-enum", "错误", report.findings[0].message],
        [2, "整改台账!K13", "too-thin", "提示", report.findings[1].message],
    ]


def test_formula_like_values_are_inert(tmp_path, schema):
    report = _report(schema, value="=HYPERLINK(\"http://evil\")")
    path = write_receipt(report, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(path)
    for row in wb.active.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            if isinstance(cell.value, str):
                assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
    assert "'=HYPERLINK(1).xlsx" in [c.value for row in wb.active.iter_rows() for c in row]


def test_message_starting_with_equals_is_inert(tmp_path, schema):
    from jobs.core.findings import Finding

    evil = Finding(code="bad-enum", severity="error", message="=1+2", sheet="整改台账", row=2, column="问题类别",
                   cell="=cmd|' /C calc'!A0")
    report = Report(file="a.xlsx", unit="=SUM(A1)", period="2015-02", findings=[evil])
    rows = _rows(write_receipt(report, tmp_path / "r.xlsx"))
    flat = [v for r in rows for v in r if isinstance(v, str)]
    assert "'=1+2" in flat and "'=SUM(A1)" in flat and "'=cmd|' /C calc'!A0" in flat


def test_accepted_receipt_without_findings(tmp_path):
    rows = _rows(write_receipt(Report(file="a.xlsx", unit="110000", period="2015-02"), tmp_path / "ok.xlsx"))
    meta = {r[0]: r[1] for r in rows[1:12]}
    assert meta["结论"] == "通过"
    assert any("未发现问题" in str(v) for r in rows for v in r)


def test_html_receipt_escapes_return_content(tmp_path, schema):
    report = _report(schema, value="<script>alert(1)</script>")
    path = write_receipt(report, tmp_path / "r.html", fmt="html")
    html = path.read_text(encoding="utf-8")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "整改台账!C12" in html and "退回" in html


def test_context_names_missing_unit():
    ctx = receipt_context(Report(file="/x/坏文件.xlsx"))
    assert (ctx.file, ctx.unit, ctx.period, ctx.verdict) == ("坏文件.xlsx", "未识别", "未识别", "通过")


# -- the xlsxwriter receipt: layout, formatting, many findings, cost ---------

def _many(schema, n: int) -> Report:
    findings = [
        make_finding("bad-date", sheet="整改台账", row=2 + i, column="完成时限", col_index=6, value=f"2015-13-{i}",
                     schema=schema)
        if i % 2 else
        make_finding("too-thin", sheet="整改台账", row=2 + i, column="见物", col_index=10, length=3, min_length=15,
                     schema=schema)
        for i in range(n)
    ]
    return Report(file="/inbox/110000.xlsx", unit="110000", period="2015-02", findings=findings)


def test_xlsx_receipt_layout_and_formatting(tmp_path, schema):
    from jobs.intake.receipts import COLUMN_WIDTHS, SHEET_NAME

    book = openpyxl.load_workbook(write_receipt(_report(schema), tmp_path / "r.xlsx"))
    assert book.sheetnames == [SHEET_NAME]
    ws = book.active
    assert ws.freeze_panes == "A15"  # title, eleven meta rows, a blank row, the header: all frozen
    assert (ws["A1"].font.b, ws["A1"].font.sz) == (True, 14)
    assert ws["A10"].value == "结论" and ws["B10"].font.b and ws["B10"].font.color.rgb.endswith("9C0006")
    assert [c.value for c in ws[14]] == list(HEADERS)
    assert all(c.font.b and c.fill.fill_type == "solid" and c.fill.fgColor.rgb.endswith("DDEBF7") for c in ws[14])
    assert ws["E15"].alignment.wrap_text and ws["E15"].alignment.vertical == "top"
    # xlsxwriter stores Excel's on-screen width (+0.71 padding) and may merge equal adjacent columns
    widths = {}
    for dim in ws.column_dimensions.values():
        for col in range(dim.min, dim.max + 1):
            widths[col] = dim.width
    assert [round(widths[c]) for c in range(1, 6)] == [round(w + 0.71) for w in COLUMN_WIDTHS]


def test_accepted_verdict_is_green(tmp_path):
    ws = openpyxl.load_workbook(write_receipt(Report(file="a.xlsx", unit="1", period="2015-02"), tmp_path / "a.xlsx")).active
    assert ws["B10"].value == "通过" and ws["B10"].font.color.rgb.endswith("006100")


def test_many_findings_read_back_with_fastexcel(tmp_path, schema):
    import fastexcel

    report = _many(schema, 300)
    path = write_receipt(report, tmp_path / "many.xlsx")
    frame = fastexcel.read_excel(path).load_sheet_by_name("回执", header_row=None, dtypes="string").to_polars()
    grid = frame.rows()
    assert grid[9][:2] == ("结论", "退回")
    assert grid[10][:2] == ("错误", "150") and grid[11][:2] == ("提示", "150")
    start = next(i for i, r in enumerate(grid) if r == HEADERS) + 1
    body = [r for r in grid[start:] if any(r)]
    assert body == [
        (str(i), f.cell, f.code, {"error": "错误", "warning": "提示"}[f.severity], f.message)
        for i, f in enumerate(report.findings, start=1)
    ]


def test_text_is_never_reinterpreted(tmp_path):
    """No number, URL or formula guessing: codes keep leading zeros, links stay text."""
    from jobs.core.findings import Finding

    findings = [Finding(code="bad-enum", severity="error", message="http://evil.example/x", sheet="整改台账", row=2,
                        cell="001")]
    path = write_receipt(Report(file="0123.xlsx", unit="000123", period="2015-02", findings=findings),
                         tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(path).active
    assert ws["B3"].value == "000123" and ws["B3"].data_type == "s"
    assert ws["B2"].value == "0123.xlsx"
    assert ws["B15"].value == "001" and ws["B15"].data_type == "s"
    assert ws["E15"].value == "http://evil.example/x" and ws["E15"].hyperlink is None


def test_a_failed_write_leaves_no_file(tmp_path):
    target = tmp_path / "missing-dir" / "r.xlsx"
    with pytest.raises(OSError):
        write_receipt(Report(file="a.xlsx"), target)
    assert not target.exists()


def _styled_grid(book):
    """Every cell of the receipt sheet: value, type and the style it shows (not the style's index)."""
    ws = book.active
    grid = []
    for row in ws.iter_rows():
        for c in row:
            f, a = c.font, c.alignment
            grid.append((c.coordinate, c.value, c.data_type, f.b, f.sz, f.name, f.color.rgb if f.color else None,
                         c.fill.fill_type, c.fill.fgColor.rgb, a.wrap_text, a.vertical))
    widths = sorted((d.min, d.max, d.width) for d in ws.column_dimensions.values())
    return book.sheetnames, ws.freeze_panes, widths, grid


HOSTILE_TEXT = [
    "=cmd|' /C calc'!A0", "  leading and trailing  ", "a & b < c > d \"q\" 'x'", "_x0041_ literal escape",
    "line\nbreak", "carriage\rreturn", "tab\there", "emoji 🚩 and 𠀋", "", " ", "长" * 5000, "0042", "1e5",
    "长" * 32_767, "🚩" * 17_000,
]


def test_text_over_excels_limit_is_cut_without_splitting_a_character(tmp_path):
    from jobs.core.findings import Finding

    text = "🚩" * 20_000  # 40,000 UTF-16 units
    report = Report(file="a.xlsx", findings=[Finding(code="bad-enum", severity="error", message=text)])
    ws = openpyxl.load_workbook(write_receipt(report, tmp_path / "r.xlsx")).active
    assert ws["E15"].value == "🚩" * 16_383


def test_without_a_template_xlsxwriter_writes_the_whole_receipt(tmp_path, schema, monkeypatch):
    """Should xlsxwriter's output change shape, receipts get slower, never lost."""
    from jobs.intake import receipts

    monkeypatch.setattr(receipts, "_template", lambda: None)
    report = _report(schema)
    rows = _rows(write_receipt(report, tmp_path / "r.xlsx"))
    assert rows[9][:2] == ["结论", "退回"]
    assert [r[4] for r in rows[14:16]] == [f.message for f in report.findings]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_template_receipt_equals_the_xlsxwriter_workbook(tmp_path, text):
    """The fast path (template + rendered rows) reads back exactly as xlsxwriter's whole workbook."""
    import io

    import fastexcel

    from jobs.core.excel_safe import inert
    from jobs.core.findings import Finding
    from jobs.intake.receipts import _xlsxwriter_book, receipt_cells

    findings = [Finding(code="bad-enum", severity=sev, message=text if i == 2 else text * (i - 2) + str(i), sheet="整改台账", row=i,
                        cell=text or None)
                for i, sev in enumerate(("error", "warning", "error"), start=2)]
    report = Report(file=f"/inbox/{text}.xlsx", unit=text or None, period="2015-02", findings=findings)
    fast = write_receipt(report, tmp_path / "fast.xlsx")
    buffer = io.BytesIO()
    _xlsxwriter_book(receipt_cells(receipt_context(report)), buffer)
    (tmp_path / "ref.xlsx").write_bytes(buffer.getvalue())
    with zipfile.ZipFile(fast) as z:
        assert z.testzip() is None  # every CRC right
    assert _styled_grid(openpyxl.load_workbook(fast)) == _styled_grid(openpyxl.load_workbook(tmp_path / "ref.xlsx"))
    # calamine decodes Excel's _xHHHH_ escapes as Excel does (openpyxl shows "\r" as "_x000D_")
    grid = fastexcel.read_excel(fast).load_sheet_by_name("回执", header_row=None, dtypes="string").to_polars()
    shown = [inert(f.message)[:16_383] if "🚩" * 17_000 in f.message else inert(f.message) for f in findings]
    assert grid[14:17, 4].to_list() == shown  # "_x0041_" kept literally


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), min_size=1, max_size=6))
def test_any_text_reads_back_as_inert_text(messages):
    """Whatever a unit writes, the receipt opens and shows inert(text), cell for cell."""
    import tempfile

    import fastexcel

    from jobs.core.excel_safe import inert
    from jobs.core.findings import Finding

    report = Report(file="a.xlsx", unit="110000", period="2015-02", findings=[
        Finding(code="bad-enum", severity="error", message=m, sheet="整改台账", row=2) for m in messages])
    with tempfile.TemporaryDirectory() as tmp:
        path = write_receipt(report, Path(tmp) / "r.xlsx")
        ws = openpyxl.load_workbook(path).active
        shown = [ws.cell(15 + i, 5).value for i in range(len(messages))]
        grid = fastexcel.read_excel(path).load_sheet_by_name("回执", header_row=None, dtypes="string").to_polars()
    assert shown == [inert(m).replace("\r", "_x000D_") for m in messages]  # openpyxl leaves Excel's escape
    assert grid.height >= 9 + len(messages)


def test_receipt_facts_who_when_and_which_version(tmp_path, schema):
    import datetime as dt

    from jobs.intake.receipts import ReceiptFacts, Version

    facts = ReceiptFacts(unit_name="北京市", received_at=dt.datetime(2015, 3, 1, 8, 0),
                         deadline=dt.datetime(2015, 2, 28, 23, 59, 59), version=2,
                         current=Version(1, dt.datetime(2015, 2, 20, 9, 0)))  # fmt: skip
    report = _report(schema)
    html = write_receipt(report, tmp_path / "r.html", fmt="html", facts=facts).read_text(encoding="utf-8")
    for text in ("北京市", "2015-03-01 08:00:00", "2015-02-28 23:59:59", "逾期", "第2版（未通过；2015-02-20 09:00:00收到的第1版仍然有效）",
                 "<th>提示</th>", "截止时间：2015-02-28 23:59:59"):
        assert text in html, text
    assert "警告" not in html
    meta = {r[0]: r[1] for r in _rows(write_receipt(report, tmp_path / "r.xlsx", facts=facts))[1:12]}
    assert meta["单位名称"] == "北京市" and meta["是否按时"] == "逾期（截止时间后收到）" and meta["提示"] == 1
    accepted = Report(file="a.xlsx", unit="110000", period="2015-02")
    replaced = ReceiptFacts(version=3, replaces=Version(1, dt.datetime(2015, 2, 20, 9, 0)))
    assert receipt_context(accepted, replaced).version == "第3版（替换2015-02-20 09:00:00收到的第1版）"
    assert receipt_context(accepted).version == "未入库（仅检查）"
