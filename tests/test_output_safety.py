"""Output safety: nothing a unit (or the registry) writes is ever evaluated on the office's machine.

Unit tests of :mod:`jobs.core.excel_safe`, then the month end to end: returns and a
registry full of formula-injection and HTML payloads go through ``rectify run``
and ``rectify status --xlsx``; every workbook the job writes (receipts, the
summary report, the chase list) is scanned cell by cell, every HTML page for
unescaped markup, and every file name for path or shell characters.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from jobs.core.excel_safe import MAX_CELL_CHARS, inert, safe_filename
from tests import hostile as H

PERIOD = H.PERIOD
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
PAYLOADS = {
    "问题描述": '=HYPERLINK("http://evil.example/x","点此查看")',
    "整改措施": "+cmd|' /C calc'!A0",
    "责任领导": "-2+3+cmd|' /C notepad'!A0",
    "见人": "@SUM(1+1)*cmd|' /C calc'!A0",
    "见物": "\t=1+1 清理超标办公用房12间，退还面积860平方米，节约经费40万元。",
    "见思想": "<script>alert('x')</script>根源在于宗旨意识淡薄，今后要严守八项规定精神。",
}


FORMULAS = [v for v in PAYLOADS.values() if not v.startswith("<")]


@pytest.mark.parametrize("text", [*FORMULAS, "\r=1", "\n=1", "=", "-", "+1", "@"])
def test_inert_makes_every_trigger_text(text):
    out = inert(text)
    assert isinstance(out, str)
    assert out.startswith("'")
    assert out[1:] == text


@pytest.mark.parametrize("value", [12, 3.5, -7, None, True, dt.date(2015, 2, 1), dt.datetime(2015, 2, 1, 9, 30)])
def test_inert_leaves_non_text_alone(value):
    assert inert(value) is value


def test_inert_keeps_plain_text_and_cleans_what_xlsx_cannot_hold():
    assert inert("已完成") == "已完成"
    assert inert("a=b") == "a=b"
    assert inert("整改\x07完成\x00") == "整改完成"
    assert inert("\x01=1+1") == "'=1+1"  # a control character cannot hide a trigger
    assert len(inert("长" * 40_000)) == MAX_CELL_CHARS


def test_inert_text_can_be_written_by_openpyxl(tmp_path):
    wb = openpyxl.Workbook()
    for text in [*PAYLOADS.values(), "bell\x07", "nul\x00"]:
        wb.active.append([inert(text)])
    wb.save(tmp_path / "w.xlsx")
    cells = [c for row in openpyxl.load_workbook(tmp_path / "w.xlsx").active.iter_rows() for c in row]
    assert all(c.data_type == "s" for c in cells)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\config", "config"),
        ("$(rm -rf ~);`id`|tee x.xlsx", "rm_-rf_id_tee_x.xlsx"),
        ("-rf", "rf"),
        ("..", "unnamed"),
        (".hidden", "hidden"),
        ("", "unnamed"),
        ("CON", "_CON"),
        ("nul.xlsx", "_nul.xlsx"),
        ("北京市 整改报表（2月）.xlsx", "北京市_整改报表_2月_.xlsx"),
        ("110000\x00.xlsx", "110000.xlsx"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_is_bounded():
    assert len(safe_filename("长" * 500)) <= 120


# -- end to end ---------------------------------------------------------------

def _registry(path: Path) -> Path:
    from jobs.core.schema import load_schema

    schema = load_schema()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = schema.registry_sheet
    ws.append([c.name for c in schema.registry_columns])
    ws.append(["000000", "全国", None, "全国", "地方", "王", "010-1", "否"])
    ws.append(["110000", "北京市", "000000", "省级", "地方", "李", "010-2", "是"])
    # Registry text reaches the chase list and the report.
    ws.append(["120000", "@SUM(1+1)天津市", "000000", "省级", "地方", '=HYPERLINK("http://evil","x")', "+86 22", "是"])
    wb.save(path)
    return path


def _hostile_return(path: Path) -> Path:
    wb = H.build_return(name="=1+1北京市")  # a name mismatch: the value is quoted in a finding
    ws = wb["整改台账"]
    headers = [c.value for c in ws[1]]
    for column, text in PAYLOADS.items():
        ws.cell(row=2, column=headers.index(column) + 1).value = text
    # openpyxl would store "=..." as a formula; the unit's tool stored text.
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    ws.cell(row=3, column=headers.index("序号") + 1).value = "=2+3"
    ws.cell(row=3, column=headers.index("序号") + 1).data_type = "s"
    wb.save(path)
    return path


@pytest.fixture(scope="session")
def month(tmp_path_factory):
    from jobs.cli import main
    from jobs.office.home import init_home

    root = tmp_path_factory.mktemp("safety")
    inbox = root / "inbox"
    inbox.mkdir()
    _hostile_return(inbox / "=cmd|' calc'!A0.xlsx")
    H.fake_pdf(inbox / "<script>x<.script>.xlsx")
    home_dir = root / "home"
    home = init_home(home_dir)
    home.import_registry(_registry(root / "registry.xlsx"), from_period=PERIOD)
    runner = CliRunner()
    run = runner.invoke(main, ["run", "--period", PERIOD, "--inbox", str(inbox), "--home", str(home_dir)])
    chase = root / "chase.xlsx"
    status = runner.invoke(main, ["status", "--period", PERIOD, "--home", str(home_dir), "--xlsx", str(chase)])
    return {"root": root, "home": home_dir, "run": run, "status": status, "chase": chase}


def _written(month, suffix: str) -> list[Path]:
    return sorted(p for p in month["home"].rglob(f"*.{suffix}") if "registry" not in p.parts and "store" not in p.parts)


@pytest.mark.slow
def test_the_month_runs_on_hostile_input(month):
    assert month["run"].exit_code in (0, 1), month["run"].output
    assert month["status"].exit_code == 0, month["status"].output
    assert month["chase"].is_file()
    receipts = list((month["home"] / "outbox" / PERIOD).iterdir())
    assert len(receipts) == 2, receipts


@pytest.mark.slow
def test_no_written_cell_is_a_formula_or_starts_with_a_trigger(month):
    books = [*_written(month, "xlsx"), month["chase"]]
    assert any("outbox" in p.parts for p in books) and any("reports" in p.parts for p in books)
    seen_payload = False
    quoted_file_name = False
    for path in books:
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    where = f"{path.name}!{ws.title}!{cell.coordinate}"
                    assert cell.data_type != "f", (where, cell.value)
                    if isinstance(cell.value, str):
                        assert not cell.value.startswith(TRIGGERS), (where, cell.value)
                        seen_payload |= "cmd|" in cell.value or "@SUM" in cell.value
                        quoted_file_name |= cell.value == "'=cmd|' calc'!A0.xlsx"
    assert seen_payload, "the payloads should reach the outputs (quoted), or this test proves nothing"
    assert quoted_file_name, "the receipt names the received file, quoted"


@pytest.mark.slow
def test_html_outputs_escape_return_and_registry_text(month):
    pages = _written(month, "html")
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text, page
        assert "<script>x<.script>" not in text, page


@pytest.mark.slow
def test_written_file_names_are_sanitised(month):
    for path in month["home"].rglob("*"):
        if path.is_file() and "store" not in path.relative_to(month["home"]).parts:
            assert not re.search(r"[$`|;<>'\"\s]", path.name), path
            assert path.resolve().is_relative_to(month["home"].resolve())


def test_receipts_in_both_formats_keep_payloads_inert(tmp_path):
    from jobs.core.findings import Finding, Report
    from jobs.intake.receipts import write_receipt

    payload = "<img src=x onerror=alert(1)>=HYPERLINK(\"http://evil\")"
    report = Report(file="/inbox/=cmd|' calc'!A0.xlsx", unit="=1+1", period=PERIOD, findings=[
        Finding(code="bad-enum", severity="error", message=payload, sheet="整改台账", row=3, column="整改状态",
                cell="=整改台账!H3"),
        Finding(code="too-thin", severity="warning", message="@SUM(1)\x07", sheet="整改台账", row=4),
    ])
    html = write_receipt(report, tmp_path / "r.html", fmt="html").read_text(encoding="utf-8")
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    book = openpyxl.load_workbook(write_receipt(report, tmp_path / "r.xlsx"))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(TRIGGERS)]
    assert "'=cmd|' calc'!A0.xlsx" in texts
    assert "'@SUM(1)" in texts


def test_xlsx_receipt_package_holds_no_formula_or_link(tmp_path):
    """The receipt's raw XML: no <f> element, no hyperlink, every payload a shared string, quoted."""
    import zipfile

    from jobs.core.findings import Finding, Report
    from jobs.intake.receipts import write_receipt

    cells = [*FORMULAS, "http://evil.example/x", "mailto:a@evil.example", "1e5", "00123"]
    report = Report(file="/inbox/=1+1.xlsx", unit="+86", period=PERIOD, findings=[
        Finding(code="bad-enum", severity="error", message=text, sheet="整改台账", row=i + 2, cell=text)
        for i, text in enumerate(cells)
    ])
    path = write_receipt(report, tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        sheet = z.read("xl/worksheets/sheet1.xml").decode("utf-8")
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
    assert "<f>" not in sheet and "<f " not in sheet
    assert "hyperlink" not in sheet and not [n for n in names if "worksheets/_rels" in n]
    assert "cmd|" in strings and "http://evil.example/x" in strings
    ws = openpyxl.load_workbook(path).active
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert "'=1+1.xlsx" in values and "'+86" in values
    assert "1e5" in values and "00123" in values  # text, not numbers
    assert all(not v.startswith(TRIGGERS) for v in values if isinstance(v, str))
