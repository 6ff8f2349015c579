"""Receipts: the workbook and HTML sent back to the unit."""

from __future__ import annotations

import openpyxl

from jobs.findings import Report, make_finding
from jobs.receipts import HEADERS, receipt_context, write_receipt


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
    meta = {r[0]: r[1] for r in rows[1:7]}
    assert meta["结论"] == "退回" and meta["错误"] == 1 and meta["警告"] == 1
    assert meta["单位代码"] == "110000" and meta["报送期"] == "2015-02"
    start = next(i for i, r in enumerate(rows) if tuple(r[:5]) == HEADERS) + 1
    body = [r[:5] for r in rows[start:]]
    assert body == [
        [1, "整改台账!C12", "bad-enum", "错误", report.findings[0].message],
        [2, "整改台账!K13", "too-thin", "警告", report.findings[1].message],
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
    from jobs.findings import Finding

    evil = Finding(code="bad-enum", severity="error", message="=1+2", sheet="整改台账", row=2, column="问题类别",
                   cell="=cmd|' /C calc'!A0")
    report = Report(file="a.xlsx", unit="=SUM(A1)", period="2015-02", findings=[evil])
    rows = _rows(write_receipt(report, tmp_path / "r.xlsx"))
    flat = [v for r in rows for v in r if isinstance(v, str)]
    assert "'=1+2" in flat and "'=SUM(A1)" in flat and "'=cmd|' /C calc'!A0" in flat


def test_accepted_receipt_without_findings(tmp_path):
    rows = _rows(write_receipt(Report(file="a.xlsx", unit="110000", period="2015-02"), tmp_path / "ok.xlsx"))
    meta = {r[0]: r[1] for r in rows[1:7]}
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
