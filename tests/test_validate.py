"""Every finding code: a minimal failing return and its passing twin, pointing at the exact cell.

All cases are validated together in one batch (one GX run per sheet), as
intake does; each test then reads its own file's report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from test_validate_helpers import (
    ARRIVAL,
    Spec,
    base_return,
    drop_column,
    drop_item,
    find_row,
    registry_frame,
    set_cell,
    set_item,
    write_return,
)

from jobs.validate import validate_files

L, T, I, A, M, INFO = "整改台账", "专项整治", "制度建设", "责任追究", "个人整改", "基本信息"


def _cell(sheet: str, ref: str) -> str:
    return f"{sheet}!{ref}"


# Each case: mutate a correct return; expected (code, cell-or-None, severity); no other error.
def _dup_task(s: Spec) -> None:
    s[T].append(list(s[T][7]))  # task 7 again, on Excel row 23


def _del_task(s: Spec) -> None:
    s[T] = [r for r in s[T] if r[0] != 7]


CASES: dict[str, tuple[Callable[[Spec], object], str, str | None]] = {
    "missing-sheet": (lambda s: s.pop(I), "missing-sheet", None),
    "missing-column": (lambda s: drop_column(s, L, "问题类别"), "missing-column", None),
    "missing-field-ledger": (lambda s: set_cell(s, L, 3, "整改措施", None), "missing-field", _cell(L, "E3")),
    "missing-field-info": (lambda s: set_item(s, INFO, "填报人", None), "missing-field", _cell(INFO, "B7")),
    "missing-field-info-absent": (lambda s: drop_item(s, INFO, "联系电话"), "missing-field", None),
    "missing-field-progress": (lambda s: set_cell(s, T, 2, "进展情况", None), "missing-field", _cell(T, "G2")),
    "missing-field-issued": (lambda s: set_cell(s, I, 2, "出台日期", None), "missing-field", _cell(I, "D2")),
    "missing-task": (_del_task, "missing-task", None),
    "duplicate-task": (_dup_task, "duplicate-task", _cell(T, "A23")),
    "task-name-mismatch": (lambda s: set_cell(s, T, 4, "任务名称", "清理超标公务用车专项行动"), "task-name-mismatch",
                           _cell(T, "B4")),
    "missing-accountability-row": (lambda s: drop_item(s, A, "诫勉批评（人次）"), "missing-accountability-row", None),
    "bad-enum": (lambda s: set_cell(s, L, 2, "问题类别", "作风问题"), "bad-enum", _cell(L, "C2")),
    "bad-enum-institutions": (lambda s: set_cell(s, I, 3, "制度类别", "新制定"), "bad-enum", _cell(I, "B3")),
    "bad-date": (lambda s: set_cell(s, L, 2, "整改时限", "年底前"), "bad-date", _cell(L, "G2")),
    "bad-number": (lambda s: set_cell(s, T, 3, "立案查处数", "若干"), "bad-number", _cell(T, "F3")),
    "bad-number-negative": (lambda s: set_cell(s, T, 3, "立案查处数", -1), "bad-number", _cell(T, "F3")),
    "bad-number-accountability": (lambda s: set_item(s, A, "约谈提醒（人次）", "若干"), "bad-number", _cell(A, "B2")),
    # above [limits] max_count (default 10,000,000): two such counts would wrap national totals negative
    "bad-number-huge": (lambda s: set_cell(s, T, 3, "立案查处数", "9000000000000000000"), "bad-number", _cell(T, "F3")),
    "bad-number-over-limit": (lambda s: set_item(s, A, "约谈提醒（人次）", 10_000_001), "bad-number", _cell(A, "B2")),
    "duplicate-item": (lambda s: set_cell(s, L, 4, "序号", 1), "duplicate-item", _cell(L, "A4")),
    "empty-ledger": (lambda s: s.__setitem__(L, s[L][:1]), "empty-ledger", None),
    "no-principal": (lambda s: s.__setitem__(M, [r for r in s[M] if r[0] != "张建国"]), "no-principal", None),
    "done-without-date": (lambda s: set_cell(s, L, 2, "完成日期", None), "done-without-date", _cell(L, "I2")),
    "date-without-done": (lambda s: set_cell(s, L, 3, "完成日期", dt.date(2015, 2, 1)), "date-without-done",
                          _cell(L, "I3")),
    "date-in-future-ledger": (lambda s: set_cell(s, L, 2, "完成日期", dt.date(2015, 2, 25)), "date-in-future",
                              _cell(L, "I2")),
    "date-in-future-info": (lambda s: set_item(s, INFO, "填报日期", "2015年3月5日"), "date-in-future",
                            _cell(INFO, "B9")),
    "closed-not-done": (lambda s: set_cell(s, L, 3, "是否销号", "是"), "closed-not-approved", _cell(L, "H3")),
    "closed-not-approved": (lambda s: set_cell(s, L, 2, "群众评价", "不满意"), "closed-not-approved", _cell(L, "M2")),
    "count-fixed-gt-found": (lambda s: set_cell(s, T, 2, "已整改数", 9), "count-inconsistent", _cell(T, "E2")),
    "count-not-involved": (lambda s: set_cell(s, T, 4, "排查问题数", 2), "count-inconsistent", _cell(T, "D4")),
    "people-missing": (lambda s: set_cell(s, L, 3, "见人", "/"), "people-missing", _cell(L, "J3")),
    "facts-missing-empty": (lambda s: set_cell(s, L, 3, "见物", None), "facts-missing", _cell(L, "K3")),
    "facts-missing-placeholder": (lambda s: set_cell(s, L, 3, "见物", " 同 上 "), "facts-missing", _cell(L, "K3")),
    "mindset-missing-punct": (lambda s: set_cell(s, M, 3, "见思想", "……"), "mindset-missing", _cell(M, "G3")),
    "too-thin": (lambda s: set_cell(s, L, 2, "见物", "问题已解决"), "too-thin", _cell(L, "K2")),
    "copied-within": (lambda s: set_cell(s, L, 4, "见思想", s[L][1][11]), "copied-text", _cell(L, "L4")),
    "unknown-unit": (lambda s: set_item(s, INFO, "单位代码", "990001"), "unknown-unit", _cell(INFO, "B2")),
    "unit-name-mismatch": (lambda s: set_item(s, INFO, "单位名称", "北京市委办公厅"), "unit-name-mismatch",
                           _cell(INFO, "B3")),
    "wrong-period": (lambda s: set_item(s, INFO, "报送期", "2015-01"), "wrong-period", _cell(INFO, "B4")),
    # 北京市's code under 天津市's name: the code is suspect, the return must not replace 北京市's
    "unit-code-conflict": (lambda s: set_item(s, INFO, "单位名称", " 天 津 市 "), "unit-code-conflict",
                           _cell(INFO, "B2")),
    "period-format": (lambda s: set_item(s, INFO, "报送期", "201502"), "period-format", _cell(INFO, "B4")),
    "period-format-dotted": (lambda s: set_item(s, INFO, "报送期", "2015.02"), "period-format", _cell(INFO, "B4")),
    "period-format-chinese": (lambda s: set_item(s, INFO, "报送期", "2015年2月"), "period-format", _cell(INFO, "B4")),
    "period-format-slash": (lambda s: set_item(s, INFO, "报送期", "2015/2"), "period-format", _cell(INFO, "B4")),
}

# Cases where one defect must produce exactly one finding (no cascades).
CASCADES: list[tuple[Callable[[Spec], object], list[tuple[str, str]]]] = [
    # bad status: no rule finding on the same row's date
    (lambda s: set_cell(s, L, 3, "整改状态", "完成了") and set_cell(s, L, 3, "完成日期", dt.date(2015, 2, 1)),
     [("bad-enum", "整改台账!H3")]),
    # an unparseable date on a done item: bad-date only, not done-without-date
    (lambda s: set_cell(s, L, 2, "完成日期", "一月底"), [("bad-date", "整改台账!I2")]),
    # empty 见物: facts-missing only, not too-thin
    (lambda s: set_cell(s, L, 2, "见物", None), [("facts-missing", "整改台账!K2")]),
    # placeholder 见思想: mindset-missing only, not too-thin
    (lambda s: set_cell(s, L, 2, "见思想", "无。"), [("mindset-missing", "整改台账!L2")]),
    # a bad 承担方式: no count or progress rule fires on its row
    (lambda s: set_cell(s, T, 4, "承担方式", "配合") and set_cell(s, T, 4, "排查问题数", 3),
     [("bad-enum", "专项整治!C4")]),
]


def _write_messy(spec: Spec, path: Path, *, reorder: str | None = None) -> Path:
    """Write with a title row and a blank row above each header, spaced sheet names and headers,
    an extra 填表说明 sheet and trailing empty rows; optionally move one ledger column first."""
    import openpyxl

    if reorder:
        j = spec[L][0].index(reorder)
        spec[L] = [[r[j], *r[:j], *r[j + 1:]] for r in spec[L]]
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    wb.create_sheet("填表说明").append(["说明"])
    for name, rows in spec.items():
        ws = wb.create_sheet(f" {name}\u3000")
        ws.append([f"{name}（2015年2月）"])
        ws.append([])
        for i, row in enumerate(rows):
            ws.append([f" {c} " for c in row] if i == 0 else row)
        ws.append([])
        ws.append([None, None])
    wb.save(path)
    return path


def _messy_spec() -> Spec:
    spec = base_return(seed=500)
    set_cell(spec, L, 2, "完成日期", "2015年1月30日")
    set_cell(spec, L, 4, "完成日期", "2015/2/10")
    set_cell(spec, L, 2, "序号", "１")
    set_cell(spec, T, 2, "排查问题数", " ５ ")
    set_item(spec, INFO, "报送期", "2015年2月")
    set_item(spec, INFO, "单位代码", "１１００００ ")
    set_item(spec, INFO, "填报日期", "2015.2.20")
    set_cell(spec, L, 3, "整改状态", " 推进中 ")
    set_cell(spec, L, 2, "问题来源", "查摆问题\u3000")
    set_cell(spec, L, 3, "见物", "单位110000-500第2项：全年会议由120次压减到62次，节约经费2万元。 ")
    return spec


SHARED_TEXT = "本单位深刻反思形式主义根源，认识到脱离群众的严重危害，并以此为戒。"


@pytest.fixture(scope="session")
def batch(tmp_path_factory) -> dict[str, object]:
    """Validate every case, its twin, cross-unit copies and an unreadable file in one batch."""
    root = tmp_path_factory.mktemp("validate-cases")
    paths: dict[str, Path] = {}
    for seed, (name, (mutate, _code, _cell_)) in enumerate(CASES.items(), start=1):
        spec = base_return(seed=seed)
        mutate(spec)
        paths[name] = write_return(spec, root / f"{name}.xlsx")
    paths["twin"] = write_return(base_return(seed=0), root / "twin.xlsx")
    for code, name in (("120000", "天津市"), ("130000", "河北省")):
        spec = base_return(code, name, seed=99)
        set_cell(spec, L, 3, "见思想", SHARED_TEXT)
        paths[f"copy-{code}"] = write_return(spec, root / f"copy-{code}.xlsx")
    spec = base_return("140000", "山西省", seed=98)
    paths["not-required"] = write_return(spec, root / "not-required.xlsx")
    for i, (mutate, _expected) in enumerate(CASCADES):
        spec = base_return(seed=200 + i)
        mutate(spec)
        paths[f"cascade-{i}"] = write_return(spec, root / f"cascade-{i}.xlsx")
    paths["messy"] = _write_messy(_messy_spec(), root / "messy.xlsx", reorder="见思想")
    spec = base_return(seed=300)
    set_cell(spec, L, 3, "见思想", "略")
    paths["reordered"] = _write_messy(spec, root / "reordered.xlsx", reorder="见思想")
    (root / "broken.xlsx").write_text("单位代码,单位名称\n", encoding="utf-8")
    paths["unreadable"] = root / "broken.xlsx"
    registry = registry_frame(
        [("110000", "北京市"), ("120000", "天津市"), ("130000", "河北省"), ("140000", "山西省")],
        not_required=("140000",),
    )
    results = validate_files(list(paths.values()), registry=registry, period="2015-02",
                             received_at={p: ARRIVAL for p in paths.values()})
    return {name: r for name, r in zip(paths, results, strict=True)}


def test_correct_return_has_no_findings(batch):
    report = batch["twin"].report
    assert report.accepted
    assert report.findings == []
    assert report.unit == "110000"
    assert report.period == "2015-02"
    assert report.stats["rows"] == {INFO: 8, L: 3, T: 21, I: 2, A: 6, M: 2}
    assert report.stats["n_errors"] == 0


@pytest.mark.parametrize("name", list(CASES))
def test_each_code_fails_at_its_cell(batch, schema, name):
    _mutate, code, cell = CASES[name]
    report = batch[name].report
    matching = [f for f in report.findings if f.code == code]
    assert matching, f"{name}: no {code}; got {[(f.code, f.cell) for f in report.findings]}"
    if cell is not None:
        assert cell in {f.cell for f in matching}, [(f.code, f.cell) for f in report.findings]
    others = [(f.code, f.cell) for f in report.errors if f.code != code]
    assert others == [], f"{name}: unexpected errors {others}"
    assert report.accepted is (schema.finding(code).severity == "warning")
    finding = matching[0]
    assert finding.severity == schema.finding(code).severity
    assert finding.message and "{" not in finding.message


def test_messages_name_value_and_allowed(batch):
    bad = next(f for f in batch["bad-enum"].report.findings if f.code == "bad-enum")
    assert "作风问题" in bad.message and "形式主义、官僚主义、享乐主义、奢靡之风、其他" in bad.message
    assert bad.column == "问题类别" and bad.row == 2 and bad.sheet == L
    date = next(f for f in batch["date-in-future-info"].report.findings if f.code == "date-in-future")
    assert "2015-03-05" in date.message and "2015-02-27" in date.message
    thin = next(f for f in batch["too-thin"].report.findings if f.code == "too-thin")
    assert "5个字" in thin.message and "15" in thin.message
    task = next(f for f in batch["missing-task"].report.findings if f.code == "missing-task")
    assert "第7项" in task.message and "停建楼堂馆所" in task.message
    dup = next(f for f in batch["duplicate-item"].report.findings if f.code == "duplicate-item")
    assert "第2行" in dup.message


def test_structural_findings_do_not_cascade(batch):
    sheet = batch["missing-sheet"].report
    assert [(f.code, f.sheet) for f in sheet.findings] == [("missing-sheet", I)]
    column = batch["missing-column"].report
    assert [(f.code, f.column) for f in column.findings] == [("missing-column", "问题类别")]
    item = batch["missing-field-info-absent"].report
    assert [(f.code, f.column) for f in item.findings] == [("missing-field", "联系电话")]


def test_copied_text_across_units_flags_each_naming_the_other(batch):
    a = [f for f in batch["copy-120000"].report.findings if f.code == "copied-text"]
    b = [f for f in batch["copy-130000"].report.findings if f.code == "copied-text"]
    assert [f.cell for f in a] == [_cell(L, "L3")] and "130000" in a[0].message
    assert [f.cell for f in b] == [_cell(L, "L3")] and "120000" in b[0].message
    assert batch["copy-120000"].report.accepted


def test_copied_within_names_the_first_item(batch):
    found = [f for f in batch["copied-within"].report.findings if f.code == "copied-text"]
    assert [f.cell for f in found] == [_cell(L, "L4")]
    assert "整改台账!L2" in found[0].message


def test_not_required_is_a_warning(batch):
    report = batch["not-required"].report
    assert [(f.code, f.cell) for f in report.findings] == [("not-required", _cell(INFO, "B2"))]
    assert report.accepted


def test_unreadable_file_is_one_finding(batch):
    result = batch["unreadable"]
    assert [f.code for f in result.report.findings] == ["unreadable-file"]
    assert result.tables is None and not result.report.accepted
    assert len(result.content_hash) == 64


def test_content_hash_is_of_the_bytes_read_once(tmp_path, monkeypatch):
    """Readable files are hashed from the bytes the reader held; only an unreadable one is read again."""
    import hashlib

    from jobs.validate import pipeline

    good = write_return(base_return(seed=0), tmp_path / "good.xlsx")
    broken = tmp_path / "broken.xlsx"
    broken.write_text("单位代码,单位名称\n", encoding="utf-8")
    reread: list[Path] = []
    original = pipeline._sha256
    monkeypatch.setattr(pipeline, "_sha256", lambda path, **kw: reread.append(path) or original(path, **kw))
    results = validate_files([good, broken], registry=None, period=None)
    assert [r.content_hash for r in results] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (good, broken)]
    assert reread == [broken]


def test_tables_are_typed_in_the_stored_layout(batch):
    from jobs.core.tables import table_schema

    tables = batch["twin"].tables
    for key, frame in tables.items():
        assert dict(frame.schema) == table_schema(key), key
    ledger = tables["ledger"]
    assert ledger["seq"].to_list() == [1, 2, 3]
    assert ledger["done_on"].to_list()[0] == dt.date(2015, 1, 30)
    assert ledger["unit"].unique().to_list() == ["110000"]
    assert tables["info"]["filled_on"].item() == dt.date(2015, 2, 20)
    assert tables["accountability"]["redo_units"].item() == 5
    assert batch["twin"].report_type == "本级"


@pytest.mark.parametrize("index", range(len(CASCADES)))
def test_no_cascades(batch, index):
    _mutate, expected = CASCADES[index]
    assert [(f.code, f.cell) for f in batch[f"cascade-{index}"].report.findings] == expected


def test_messy_but_correct_return_is_accepted(batch):
    """Title rows, reordered columns, full-width digits, text dates, spaced names, an extra sheet."""
    ok = batch["messy"]
    assert ok.report.errors == [], [(f.code, f.cell, f.message) for f in ok.report.errors]
    assert ok.tables["ledger"]["done_on"].to_list() == [dt.date(2015, 1, 30), None, dt.date(2015, 2, 10)]
    assert ok.tables["ledger"]["seq"].to_list() == [1, 2, 3]
    assert ok.report.period == "2015-02" and ok.report.unit == "110000"
    assert ok.tables["info"]["unit_code"].item() == "110000"


def test_reordered_columns_point_at_the_real_letter(batch):
    # 见思想 moved to column A, and a title row above the header: data starts on Excel row 4
    bad = batch["reordered"]
    assert [(f.code, f.cell) for f in bad.report.findings] == [("mindset-missing", "整改台账!A5")]


def test_without_registry_or_period_those_rules_are_skipped(tmp_path):
    spec = base_return()
    set_item(spec, INFO, "单位代码", "990001")
    set_item(spec, INFO, "报送期", "2014-12")
    path = write_return(spec, tmp_path / "r.xlsx")
    (result,) = validate_files([path], registry=None, period=None, received_at={path: ARRIVAL})
    assert result.report.findings == []
    assert result.report.unit == "990001" and result.report.period == "2014-12"


def test_find_row_helper_matches_layout():
    spec = base_return()
    assert find_row(spec, T, "任务编号", 7) == 8


def test_an_internal_failure_costs_one_file_not_the_batch(tmp_path, monkeypatch):
    from jobs.validate import pipeline

    good = write_return(base_return(), tmp_path / "good.xlsx")
    bad = write_return(base_return("120000", "天津市", seed=3), tmp_path / "bad.xlsx")
    real = pipeline.validate_returns

    def flaky(returns, **kw):
        if any(r.path == bad for r in returns):
            raise RuntimeError("boom")
        return real(returns, **kw)

    monkeypatch.setattr(pipeline, "validate_returns", flaky)
    ok, broken = validate_files([good, bad], registry=registry_frame(), period="2015-02")
    assert ok.report.accepted and ok.tables is not None
    assert [(f.code, f.subcode) for f in broken.report.findings] == [("unreadable-file", "internal-failure")]


def test_a_schema_edit_changes_validation_end_to_end(tmp_path):
    """A new allowed value and a new rule are one YAML edit each; nothing else changes."""
    import yaml

    from jobs.core.schema import DEFAULT_SCHEMA, parse_schema

    data = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    ledger = next(s for s in data["sheets"] if s["key"] == "ledger")
    next(c for c in ledger["columns"] if c["key"] == "source")["values"].append("巡视反馈")
    data["rules"].append({"id": "pending-needs-leader-note", "sheet": "ledger", "code": "missing-field",
                          "when": {"column": "整改状态", "equals": "推进中"},
                          "then": {"column": "完成日期", "not_null": True}})
    edited = parse_schema(data)
    spec = base_return(seed=700)
    set_cell(spec, L, 2, "问题来源", "巡视反馈")
    path = write_return(spec, tmp_path / "r.xlsx")
    (before,) = validate_files([path], registry=registry_frame(), period="2015-02", received_at={path: ARRIVAL})
    (after,) = validate_files([path], registry=registry_frame(), period="2015-02", received_at={path: ARRIVAL},
                              schema=edited)
    assert [(f.code, f.cell) for f in before.report.findings] == [("bad-enum", "整改台账!B2")]
    # row 3 is 推进中 without a 完成日期: the new rule fires there (and the base rule still warns nowhere)
    assert [(f.code, f.cell) for f in after.report.findings] == [("missing-field", "整改台账!I3")]
    assert "整改状态为“推进中”时" in after.report.findings[0].message


def test_a_batch_of_only_unreadable_files(tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"\x00\x01PK not really")
    (result,) = validate_files([junk], registry=registry_frame(), period="2015-02")
    assert [(f.code, f.subcode) for f in result.report.findings] == [("unreadable-file", "not-a-workbook")]
    assert validate_files([], registry=None, period=None) == []


def test_unit_code_conflict_names_both_units_and_is_the_only_finding(batch):
    report = batch["unit-code-conflict"].report
    assert [(f.code, f.cell) for f in report.findings] == [("unit-code-conflict", _cell(INFO, "B2"))]
    message = report.findings[0].message
    assert all(part in message for part in ("110000", "北京市", "120000", "天津市")), message
    # a mere variant of the unit's own name stays the warning
    assert [f.code for f in batch["unit-name-mismatch"].report.findings] == ["unit-name-mismatch"]


@pytest.mark.parametrize("name", ["period-format", "period-format-dotted", "period-format-chinese",
                                  "period-format-slash"])
def test_period_spelled_otherwise_is_that_period_with_a_format_warning(batch, name):
    report = batch[name].report
    assert report.accepted and report.period == "2015-02"
    assert [f.code for f in report.findings] == ["period-format"]
    assert "2015-02" in report.findings[0].message


def test_another_month_spelled_otherwise_is_only_wrong_period(tmp_path):
    spec = base_return()
    set_item(spec, INFO, "报送期", "201501")
    path = write_return(spec, tmp_path / "r.xlsx")
    registry = registry_frame()
    (result,) = validate_files([path], registry=registry, period="2015-02", received_at={path: ARRIVAL})
    assert [f.code for f in result.report.findings] == ["wrong-period"]
