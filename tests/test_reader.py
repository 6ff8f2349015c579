"""Reader: sheets and columns by name, exact source positions, hostile files.

Workbooks are written once per session: a "messy" one with xlsxwriter (it can
store cached formula results such as ``#NAME?``), others with openpyxl and
xlwt (.xls).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import xlsxwriter
import xlwt
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from jobs.core.errors import UnreadableFile
from jobs.core.findings import a1_cell, column_letter
from jobs.core.schema import load_schema
from jobs.intake.read import RawReturn, read_return
from tests.corpus import calamine

CJK = re.compile(r"[\u4e00-\u9fff]")

INFO = [
    ("单位代码", 110000),
    ("单位名称", "北京市"),
    ("报送期", "2015-02"),
    ("报表类型", "本级"),
    ("主要负责人", "张三"),
    ("填报人", "李四"),
    ("联系电话", "010-12345678"),
    ("填报日期", dt.datetime(2015, 2, 27)),
]
ACCOUNTABILITY = [
    ("约谈提醒(人次)", 3),  # half-width brackets: must still match
    ("诫勉批评 （人次）", "２"),
    ("追究当事人责任（人）", "1"),
    ("追究领导责任（人）", 0),
    ("通报曝光典型案例（件）", "0"),
    ("责令回炉补课（个）", 1),
]
FACTS = "清理超标办公用房12间，退还面积860平方米，节约经费40万元。"
MINDSET = "根源在于宗旨意识淡薄，特权思想作祟，今后要严守八项规定。"


def _ledger_row(schema, seq, deadline) -> dict:
    return {
        "序号": seq, "问题来源": "查摆问题", "问题类别": "享乐主义", "问题描述": "超标占用办公用房",
        "整改措施": "腾退超标面积", "责任领导": "王五", "整改时限": deadline, "整改状态": "已完成",
        "完成日期": dt.datetime(2015, 1, 20), "见人": "王五、赵六", "见物": FACTS, "见思想": MINDSET,
        "群众评价": "满意", "是否销号": "是",
    }


def _write(ws, row, col, value, date_fmt) -> None:
    if isinstance(value, dt.datetime):
        ws.write_datetime(row, col, value, date_fmt)
    elif isinstance(value, tuple):  # (formula, cached result)
        ws.write_formula(row, col, value[0], None, value[1])
    elif value is None:
        return
    else:
        ws.write(row, col, value)


def build_messy(path: Path) -> Path:
    """Every tolerance the spec names, in one workbook."""
    schema = load_schema()
    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    wb.add_worksheet("填表说明").write(0, 0, "请按模板填写")

    # Sheets in another order than the schema, names with stray spaces.
    ledger = wb.add_worksheet("　整改台账 ")
    ledger.write(0, 0, "整改落实情况台账")  # title row 1, blank row 2, header row 3
    columns = [h for h in schema.sheet("ledger").headers if h != "说明"]  # an older template: no 说明
    columns.reverse()  # columns in another order
    shown = {"见人": "见　人", "序号": " 序号 ", "整改时限": "整改 时限"}
    for j, name in enumerate(columns):
        ledger.write(2, j, shown.get(name, name))
    rows = {
        3: _ledger_row(schema, 1, dt.datetime(2015, 1, 15)),  # Excel row 4
        4: _ledger_row(schema, "２", "2015/1/15"),  # row 5
        # row 6 left fully empty
        6: _ledger_row(schema, " 3 ", "2015年1月15日"),  # row 7
        7: _ledger_row(schema, "4.0", "2015.1.15"),  # row 8
    }
    rows[7]["见人"] = ("=FOO()", "#NAME?")
    for r, values in rows.items():
        for j, name in enumerate(columns):
            _write(ledger, r, j, values[name], date_fmt)
    ledger.write(8, 0, "   ")  # trailing rows of spaces only
    ledger.write(9, 3, "\u3000")

    info = wb.add_worksheet("基本信息")
    info.write(0, 0, "基本信息表")
    info.write_row(2, 0, ["项 目", "内容"])
    for i, (item, value) in enumerate(reversed(INFO)):
        _write(info, 3 + i, 0, item, date_fmt)
        _write(info, 3 + i, 1, value, date_fmt)
    info.write_row(3 + len(INFO), 0, ["备注", "无"])

    tasks = wb.add_worksheet("专项整治")
    tasks.write_row(0, 0, list(schema.sheet("tasks").headers))
    for no, name in schema.tasks.items():
        tasks.write_row(no, 0, [str(no), name, "牵头", "１２", 10, "0", "已整改"])

    # Data starting at C5 (the used range does not start at A1).
    inst = wb.add_worksheet("制度建设")
    inst.write_row(4, 2, list(schema.sheet("institutions").headers))
    inst.write_row(5, 2, ["公务接待管理办法", "新建", "已出台"])
    inst.write_datetime(5, 5, dt.datetime(2015, 1, 5), date_fmt)

    acc = wb.add_worksheet("责任追究")
    acc.write_row(0, 0, ["事项", "数量"])
    for i, (item, value) in enumerate(ACCOUNTABILITY):
        acc.write_row(1 + i, 0, [item, value])

    members = wb.add_worksheet("个人整改")
    members.write_row(0, 0, list(schema.sheet("members").headers))
    members.write_row(1, 0, ["张三", "书记", "作风不实", "深入基层", "已落实", FACTS, MINDSET])
    members.hide()
    wb.close()
    return path


def build_b3(path: Path) -> Path:
    """openpyxl workbook whose ledger starts at B3 (first two rows and column A empty)."""
    schema = load_schema()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "整改台账"
    for j, name in enumerate(schema.sheet("ledger").headers):
        ws.cell(row=3, column=2 + j, value=name)
    row = _ledger_row(schema, 7, dt.datetime(2015, 3, 1))
    for j, name in enumerate(schema.sheet("ledger").headers):
        ws.cell(row=4, column=2 + j, value=row.get(name))
    ws.cell(row=4, column=2 + 1).value = None  # 问题来源 empty: stays null
    wb.save(path)
    return path


def build_xls(path: Path) -> Path:
    """Legacy .xls (xlwt): title row above the header, real dates and numbers."""
    schema = load_schema()
    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for sheet in schema.sheets:
        ws = wb.add_sheet(sheet.name)
        ws.write(0, 0, sheet.name + "（标题）")
        for j, name in enumerate(sheet.headers):
            ws.write(1, j, name)
    ledger = wb.get_sheet(1)
    for j, name in enumerate(schema.sheet("ledger").headers):
        value = _ledger_row(schema, 1, dt.datetime(2015, 1, 15)).get(name)
        if isinstance(value, dt.datetime):
            ledger.write(2, j, value, date_style)
        else:
            ledger.write(2, j, value)
    ledger.write(3, 0, 2.0)
    ledger.write(3, 6, 42019)  # an Excel serial in a number-formatted cell
    wb.save(str(path))
    return path


@pytest.fixture(scope="session")
def books(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reader")
    out = {
        "messy": build_messy(root / "messy.xlsx"),
        "b3": build_b3(root / "b3.xlsx"),
        "xls": build_xls(root / "legacy.xls"),
    }
    out["xlsm"] = root / "macro.xlsm"
    shutil.copy(out["messy"], out["xlsm"])
    out["lying"] = root / "really-xlsx.xls"
    shutil.copy(out["messy"], out["lying"])
    return out


@pytest.fixture(scope="session")
def messy(books) -> RawReturn:
    return read_return(books["messy"])


def test_sheets_found_by_folded_name_extra_sheet_ignored(messy):
    assert messy.missing_sheets == []
    assert set(messy.sheets) == {"info", "ledger", "tasks", "institutions", "accountability", "members"}
    assert messy.sheets["ledger"].source_name == "　整改台账 "
    assert messy.sheets["ledger"].name == "整改台账"


def test_header_below_title_and_blank_rows_columns_in_other_order(messy):
    ledger = messy.sheets["ledger"]
    assert ledger.missing_columns == ["说明"]  # optional, and absent from an older template (not a finding)
    assert ledger.header_row == 3
    headers = [h for h in load_schema().sheet("ledger").headers if h != "说明"]
    assert ledger.frame.columns == [*headers, "_row"]
    # Reversed in the file: 序号 is the last column (N), 是否销号 the first (A).
    assert column_letter(ledger.col_index["序号"]) == "N"
    assert column_letter(ledger.col_index["是否销号"]) == "A"
    assert column_letter(ledger.col_index["见人"]) == "E"


def test_rows_keep_excel_numbers_empty_and_trailing_rows_dropped(messy):
    ledger = messy.sheets["ledger"]
    got = ledger.frame.select("序号", "整改时限", "_row")
    want = pl.DataFrame(
        {
            "序号": ["1", "２", "3", "4.0"],
            "整改时限": ["2015-01-15", "2015/1/15", "2015年1月15日", "2015.1.15"],
            "_row": [4, 5, 7, 8],
        },
        schema={"序号": pl.Utf8, "整改时限": pl.Utf8, "_row": pl.Int32},
    )
    assert_frame_equal(got, want)
    row8 = ledger.frame.filter(pl.col("_row") == 8)
    assert a1_cell(ledger.name, 8, ledger.col_index["见人"]) == "整改台账!E8"
    assert row8["见物"].item() == FACTS


def test_error_cell_reads_as_its_excel_text(messy):
    ledger = messy.sheets["ledger"]
    assert ledger.frame.filter(pl.col("_row") == 8)["见人"].item() == "#NAME?"
    assert ledger.frame.filter(pl.col("_row") == 4)["见人"].item() == "王五、赵六"


def test_keyvalue_info_items_values_rows(messy):
    info = messy.sheets["info"]
    assert info.header_row == 3
    assert info.missing_columns == []
    got = dict(zip(info.frame["_item"], info.frame["_value"], strict=True))
    assert got["单位代码"] == "110000"  # a number cell, no ".0"
    assert got["填报日期"] == "2015-02-27"  # a real date cell, midnight dropped
    assert got["报送期"] == "2015-02"
    assert got["备注"] == "无"  # unrecognised item kept as written
    rows = dict(zip(info.frame["_item"], info.frame["_row"], strict=True))
    assert rows["填报日期"] == 4 and rows["单位代码"] == 11  # INFO written reversed from row 4
    assert column_letter(info.col_index["联系电话"]) == "B"
    assert info.col_index["项目"] == 0


def test_keyvalue_accountability_items_fold_brackets_and_spaces(messy, schema):
    acc = messy.sheets["accountability"]
    assert list(acc.frame["_item"]) == list(schema.accountability_rows)
    assert list(acc.frame["_value"]) == ["3", "２", "1", "0", "0", "1"]
    assert list(acc.frame["_row"]) == [2, 3, 4, 5, 6, 7]


def test_numbers_as_text_and_full_width_digits_kept_for_normalize(messy):
    tasks = messy.sheets["tasks"].frame
    assert tasks.height == 21
    assert set(tasks["排查问题数"]) == {"１２"}
    assert set(tasks["已整改数"]) == {"10"}
    assert tasks["_row"].to_list() == list(range(2, 23))


def test_offset_sheet_keeps_real_excel_positions(messy):
    inst = messy.sheets["institutions"]
    assert inst.header_row == 5
    assert column_letter(inst.col_index["制度名称"]) == "C"
    assert column_letter(inst.col_index["出台日期"]) == "F"
    assert inst.frame.to_dicts() == [
        {"制度名称": "公务接待管理办法", "制度类别": "新建", "状态": "已出台", "出台日期": "2015-01-05",
         "文号": None, "_row": 6},
    ]


def test_openpyxl_sheet_starting_at_b3(books):
    raw = read_return(books["b3"])
    ledger = raw.sheets["ledger"]
    assert ledger.header_row == 3
    assert ledger.frame["_row"].to_list() == [4]
    assert column_letter(ledger.col_index["序号"]) == "B"
    assert column_letter(ledger.col_index["是否销号"]) == "O"
    assert ledger.frame["问题来源"].to_list() == [None]
    assert ledger.frame["整改时限"].to_list() == ["2015-03-01"]
    assert a1_cell("整改台账", 4, ledger.col_index["见思想"]) == "整改台账!M4"
    assert sorted(raw.missing_sheets) == sorted(["基本信息", "专项整治", "制度建设", "责任追究", "个人整改"])


def test_hidden_sheet_read_with_warning(messy):
    members = messy.sheets["members"]
    assert members.hidden
    assert members.frame["姓名"].to_list() == ["张三"]
    notes = [w for w in messy.warnings if w.sheet == "个人整改"]
    assert len(notes) == 1 and notes[0].severity == "warning" and "隐藏" in notes[0].message


def test_xls_legacy_workbook(books):
    raw = read_return(books["xls"])
    assert raw.missing_sheets == []
    ledger = raw.sheets["ledger"]
    assert ledger.header_row == 2
    assert ledger.frame.select("序号", "整改时限", "完成日期", "_row").rows() == [
        ("1", "2015-01-15", "2015-01-20", 3),
        ("2", "42019", None, 4),
    ]
    assert raw.sheets["tasks"].frame.is_empty()
    assert raw.sheets["tasks"].missing_columns == []


def test_xlsm_and_wrong_extension(books):
    assert read_return(books["xlsm"]).sheets["ledger"].frame.height == 4
    lying = read_return(books["lying"])
    assert lying.sheets["ledger"].frame.height == 4
    assert any("扩展名" in w.message for w in lying.warnings)


def test_missing_sheet_and_missing_column(tmp_path, schema):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "专项整治"
    headers = [h for h in schema.sheet("tasks").headers if h != "立案查处数"]
    ws.append(headers)
    ws.append(["1", schema.tasks[1], "牵头", "1", "1", "进展顺利"])
    acc = wb.create_sheet("责任追究")
    acc.append(["约谈提醒（人次）", "2"])  # no 事项/数量 header: items found by name
    path = tmp_path / "partial.xlsx"
    wb.save(path)
    raw = read_return(path)
    assert "整改台账" in raw.missing_sheets and "专项整治" not in raw.missing_sheets
    tasks = raw.sheets["tasks"]
    assert tasks.missing_columns == ["立案查处数"]
    assert "立案查处数" not in tasks.frame.columns
    assert tasks.frame["进展情况"].to_list() == ["进展顺利"]
    acc_raw = raw.sheets["accountability"]
    assert acc_raw.missing_columns == []
    assert acc_raw.frame.rows() == [("约谈提醒（人次）", "2", 1)]


def test_sheet_without_any_known_header(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "整改台账"
    ws.append(["随便", "什么"])
    ws.append(["1", "2"])
    wb.create_sheet("基本信息")  # empty sheet
    path = tmp_path / "noheader.xlsx"
    wb.save(path)
    raw = read_return(path)
    ledger = raw.sheets["ledger"]
    assert ledger.header_row is None and ledger.frame.is_empty()
    assert len(ledger.missing_columns) == len(load_schema().sheet("ledger").headers)
    assert raw.sheets["info"].missing_columns == ["项目", "内容"]


def _unreadable(path: Path, **options: bool) -> str:
    """The sub-code reading ``path`` fails with (its reason checked: Chinese, no reader internals)."""
    with pytest.raises(UnreadableFile) as info:
        read_return(path, **options)
    reason = info.value.reason
    assert CJK.search(reason), reason
    assert not re.search(r"calamine|error|Error|panic|Traceback", reason), reason
    return info.value.kind


def test_not_a_workbook(tmp_path):
    path = tmp_path / "return.xlsx"
    path.write_text("单位代码,单位名称\n110000,北京\n", encoding="utf-8")
    assert _unreadable(path) == "not-a-workbook"


def test_truncated_xlsx_and_xls(tmp_path, books):
    for name in ("messy", "xls"):
        data = books[name].read_bytes()
        path = tmp_path / f"cut-{books[name].name}"
        path.write_bytes(data[: len(data) // 2])
        _unreadable(path)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pass_protected.xlsx", "encrypted"),
        ("issue_385.xls", "encrypted"),
        ("too_small.xls", "not-a-workbook"),
        ("OOM_alloc3.xls", "ole-broken"),
        ("adhocallbabynames1996to2016.xls", "empty-file"),
        ("ptgexp-truncated-operand.xls", "corrupt"),  # a Rust panic (BaseException) in calamine
    ],
)
def test_corpus_files_unreadable_with_chinese_reason(name, kind):
    assert _unreadable(calamine(name)) == kind


def test_uncached_formula_is_reported_not_read_as_empty(tmp_path, schema):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "责任追究"
    ws.append(["事项", "数量"])
    ws.append(["约谈提醒（人次）", "=1+1"])  # openpyxl stores no cached result
    path = tmp_path / "formula.xlsx"
    wb.save(path)
    raw = read_return(path)
    errors = [w for w in raw.warnings if w.code == "unreadable-file"]
    assert [e.subcode for e in errors] == ["uncached-formulas"] and "责任追究!B2" in errors[0].message


# --- the sample generator's returns: every defect cell resolves -------------

@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    from jobs.tooling.samples import generate_samples

    root = tmp_path_factory.mktemp("samples")
    manifest = generate_samples(root, units=40, periods=("2015-02",), defects=0.6, messy=1.0, xls=0.3,
                                processes=0, seed=11)
    return root, manifest


def test_generated_returns_read_with_exact_defect_cells(samples):
    from jobs.core.normalize import parse_date, parse_int

    root, manifest = samples
    checked = 0
    for entry in manifest["files"]:
        codes = {d["code"] for d in entry["defects"]}
        if "unreadable-file" in codes:
            _unreadable(root / entry["path"])
            continue
        raw = read_return(root / entry["path"])
        assert bool(raw.missing_sheets) == ("missing-sheet" in codes), entry["path"]
        assert any(s.missing_columns for s in raw.sheets.values()) == ("missing-column" in codes), entry["path"]
        by_name = {s.name: s for s in raw.sheets.values()}
        for defect in entry["defects"]:
            if defect.get("cell") is None or defect["sheet"] not in by_name:
                continue
            sheet = by_name[defect["sheet"]]
            assert defect["row"] in sheet.frame["_row"].to_list(), defect
            assert a1_cell(sheet.name, defect["row"], sheet.col_index[defect["column"]]) == defect["cell"]
            checked += 1
        ledger = raw.sheets.get("ledger")
        if ledger is not None and not codes & {"bad-date", "bad-number", "missing-field", "missing-column"}:
            assert all(parse_date(v) for v in ledger.frame["整改时限"]), entry["path"]
            assert all(parse_int(v) is not None for v in ledger.frame["序号"]), entry["path"]
    assert checked >= 10


# --- the fast cleaning path equals clean_text -------------------------------

def _reference_clean(value):
    from jobs.core.text import clean_text

    text = clean_text(value)
    if text is not None and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2} 00:00:00", text):
        return text[:10]
    return text


CELL_TEXT = st.one_of(
    st.none(),
    st.text(alphabet=" \u3000\u00a0\t\n\u200b\ufeffab见人１2:-0", max_size=12),
    st.text(max_size=8),
    st.builds(lambda d, pad: pad + d.isoformat() + " 00:00:00" + pad,
              st.dates(), st.sampled_from(["", " ", "\u3000"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(CELL_TEXT, max_size=15))
def test_clean_column_fast_path_equals_clean_text(values):
    from jobs.core.normalize import clean_cell, clean_column

    assert [clean_cell(v) for v in values] == [_reference_clean(v) for v in values]
    assert clean_column(list(values)) == [_reference_clean(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(CELL_TEXT, max_size=15))
def test_clean_cell_expr_equals_clean_text(values):
    from jobs.core.normalize import clean_cell_expr

    frame = pl.DataFrame({"x": values}, schema={"x": pl.Utf8})
    assert frame.select(clean_cell_expr("x"))["x"].to_list() == [_reference_clean(v) for v in values]


# --- text as read, cleaned per batch -------------------------------------------

def test_uncleaned_tables_stack_to_the_same_batch(samples, schema):
    """read_return(clean=False) keeps text as read; stacking a batch cleans it to exactly the per-sheet result."""
    from jobs.validate.typing import stack_keyvalue, stack_table

    root, manifest = samples
    cleaned, as_read = [], []
    for entry in manifest["files"]:
        path = root / entry["path"]
        try:
            a, b = read_return(path), read_return(path, clean=False)
        except UnreadableFile:
            continue
        assert a.sheets.keys() == b.sheets.keys() and a.missing_sheets == b.missing_sheets
        for key, sheet in a.sheets.items():
            other = b.sheets[key]
            assert (sheet.col_index, sheet.missing_columns, sheet.header_row) == (
                other.col_index, other.missing_columns, other.header_row), (path, key)
            assert other.cleaned == (schema.sheet(key).layout == "keyvalue" or other.header_row is None)
        assert [f.code for f in a.warnings] == [f.code for f in b.warnings]
        cleaned.append((len(cleaned), a))
        as_read.append((len(as_read), b))
    assert len(cleaned) > 30
    changed = 0
    for sheet in schema.sheets:
        stack = stack_keyvalue if sheet.layout == "keyvalue" else stack_table
        assert_frame_equal(stack(as_read, sheet), stack(cleaned, sheet))
        if sheet.layout == "table":
            changed += sum(not r.sheets[sheet.key].frame.equals(c.sheets[sheet.key].frame)
                           for (_, r), (_, c) in zip(as_read, cleaned, strict=True) if sheet.key in r.sheets)
    assert changed > 0  # the messy samples do need cleaning: the batch pass did it


def test_without_preflight_the_reader_still_guards_itself(books, tmp_path):
    lying = read_return(books["lying"], preflight=False)
    assert lying.sheets["ledger"].frame.height == 4
    assert any("扩展名" in w.message for w in lying.warnings)
    assert _unreadable(calamine("ptgexp-truncated-operand.xls"), preflight=False) == "corrupt"  # a Rust panic
    assert _unreadable(calamine("pass_protected.xlsx"), preflight=False) == "encrypted"
    csv = tmp_path / "table.xls"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    assert _unreadable(csv, preflight=False) == "corrupt"
    assert _unreadable(csv) == "not-a-workbook"  # preflight names it better


def _outcome(path: Path, *, clean: bool = False, **options: bool) -> tuple:
    """What reading a file gives, in comparable form (``options``: read_return's path choices)."""
    try:
        raw = read_return(path, clean=clean, **options)
    except UnreadableFile as exc:
        return ("unreadable", exc.kind, exc.reason)
    sheets = tuple((key, s.source_name, s.col_index, s.missing_columns, s.header_row, s.hidden, s.frame.rows())
                   for key, s in raw.sheets.items())
    return raw.kind, raw.missing_sheets, [w.message for w in raw.warnings], sorted(raw.unknown_cells), sheets


def test_opened_from_preflights_bytes_as_from_the_path(samples, books, tmp_path):
    """The workbook is opened from the bytes preflight read; opened by its path it reads the same."""
    root, _manifest = samples
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(books["messy"].read_bytes()[:-200])
    paths = [*sorted(root.rglob("*.xls*"))[:40], *books.values(), cut, calamine("ptgexp-truncated-operand.xls")]
    by_bytes = [_outcome(p) for p in paths]
    assert {"xls", "xlsx"} <= {o[0] for o in by_bytes} and ("unreadable", "corrupt") in [o[:2] for o in by_bytes]
    assert [_outcome(p, from_bytes=False) for p in paths] == by_bytes


def test_a_failed_open_from_bytes_is_retried_by_path(books, monkeypatch):
    import fastexcel

    import jobs.intake.read.workbook

    real = fastexcel.read_excel

    def bytes_fail(source):
        if not isinstance(source, bytes):
            return real(source)
        msg = "Cannot detect file format"
        raise RuntimeError(msg)

    monkeypatch.setattr(jobs.intake.read.workbook.fastexcel, "read_excel", bytes_fail)
    for name in ("messy", "xls", "xlsm"):
        assert read_return(books[name]).sheets["ledger"].frame.height > 0
    # a wrong extension is opened by content only: that failure is the one reported
    assert _unreadable(books["lying"]) == "corrupt"


def test_remembered_header_rows_read_as_found_afresh(samples, books):
    """Template header rows are remembered across returns; reading without that memory gives the same."""
    root, _manifest = samples
    paths = [*sorted(root.rglob("*.xls*"))[:40], *books.values()]
    import jobs.intake.read.sheet

    first = [_outcome(p) for p in paths]
    warm = [_outcome(p) for p in paths]
    assert jobs.intake.read.sheet._FIRST_ROWS  # header rows were remembered (read, not patched)
    assert [_outcome(p, remember_layouts=False) for p in paths] == first == warm


def test_eager_loads_read_as_the_general_load(samples, books, monkeypatch):
    """Sheets loaded eagerly (range from column A, visibility from preflight) read exactly as loaded
    through fastexcel's sheet object; a sheet starting elsewhere takes the general load."""
    import jobs.intake.read.sheet

    root, _manifest = samples
    corpus = sorted(p for p in calamine("README.md").parent.iterdir() if p.suffix.lower() in (".xlsx", ".xls"))
    paths = [*sorted(root.rglob("*.xls*"))[:60], *books.values(), *corpus]
    real = jobs.intake.read.sheet._load_lists
    used = {"eager": 0, "general": 0}

    def counting(*args, **kwargs):
        grid = real(*args, **kwargs)
        used["eager" if grid is not None else "general"] += 1
        return grid

    monkeypatch.setattr(jobs.intake.read.sheet, "_load_lists", counting)  # a spy only: counts, changes nothing
    eager = [(_outcome(p), _outcome(p, clean=True)) for p in paths]
    assert used["eager"] > 200 and used["general"] > 0  # b3 starts in column B
    before = dict(used)
    assert [(_outcome(p, eager=False), _outcome(p, clean=True, eager=False)) for p in paths] == eager
    assert used == before  # eager=False never tried the eager load
    assert any(any(s[5] for s in o[1][4]) for o in eager if o[1][0] != "unreadable")  # a hidden sheet was read


def test_reading_preflights_uncompressed_repack_reads_as_the_file(samples, books):
    """The reader opens preflight's verified parts re-packed uncompressed; it reads exactly as the file itself."""
    from jobs.intake.preflight import preflight_read

    root, _manifest = samples
    corpus = sorted(p for p in calamine("README.md").parent.iterdir() if p.suffix.lower() in (".xlsx", ".xls"))
    xlsx = sorted(root.rglob("*.xlsx"))[:40]
    paths = [*xlsx, *sorted(root.rglob("*.xls"))[:10], *books.values(), *corpus]
    def repacks(path: Path) -> bool | None:
        try:
            return preflight_read(path, unpack=True)[0].unpacked is not None
        except UnreadableFile:
            return None

    readable = [r for r in map(repacks, xlsx) if r is not None]
    assert len(readable) > 30 and all(readable)  # the ordinary return is re-packed
    repacked = [(_outcome(p), _outcome(p, clean=True)) for p in paths]
    assert [(_outcome(p, repack=False), _outcome(p, clean=True, repack=False)) for p in paths] == repacked
