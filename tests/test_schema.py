from __future__ import annotations

import copy

import pytest
import yaml

from jobs.core.findings import (
    Report,
    a1_cell,
    column_letter,
    make_finding,
    render_message,
)
from jobs.core.schema import DEFAULT_SCHEMA, SchemaError, load_schema, parse_schema

SPEC_CODES = {
    "unreadable-file", "missing-sheet", "missing-column", "missing-field", "missing-task",
    "duplicate-task", "task-name-mismatch", "missing-accountability-row", "bad-enum", "bad-date",
    "bad-number", "duplicate-item", "empty-ledger", "no-principal", "done-without-date",
    "date-without-done", "date-in-future", "closed-not-approved", "count-inconsistent",
    "people-missing", "facts-missing", "mindset-missing", "too-thin", "copied-text",
    "unknown-unit", "unit-name-mismatch", "unit-code-conflict", "wrong-period", "not-required",
}
WARNINGS = {"task-name-mismatch", "date-without-done", "too-thin", "copied-text", "unit-name-mismatch", "not-required"}
# Codes beyond the spec's table; each must be a warning so it never changes a verdict.
EXTRA_WARNINGS = {"workbook-note", "period-format", "more-findings", "summary-draft"}
# The sign-off of 汇总 returns (issue 19): an unsigned 汇总 return is rejected.
EXTRA_ERRORS = {"summary-not-signed"}
# Issue 17: read against the unit's history and peers; warnings only.
EXTRA_WARNINGS |= {"item-redefined", "item-vanished", "deadline-postponed", "status-regressed", "stalled-item",
                   "persistent-dissatisfaction", "count-decreased", "outlier", "uniform-figures"}


def test_every_spec_code_is_declared_with_chinese_message(schema):
    assert set(schema.findings) == SPEC_CODES | EXTRA_WARNINGS | EXTRA_ERRORS
    for code, spec in schema.findings.items():
        assert spec.severity == ("warning" if code in WARNINGS | EXTRA_WARNINGS else "error"), code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.message), code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in spec.title), code


def test_six_sheets_21_tasks_6_accountability_rows(schema):
    assert [s.name for s in schema.sheets] == ["基本信息", "整改台账", "专项整治", "制度建设", "责任追究", "个人整改"]
    assert sorted(schema.tasks) == list(range(1, 22))
    assert schema.tasks[9] == "整治“会所中的歪风”"
    assert len(schema.accountability_rows) == 6
    ledger = schema.sheet("整改台账")
    assert ledger is schema.sheet("ledger")
    assert ledger.column("整改状态").values == ("已完成", "推进中", "未启动", "效果不理想")
    assert {c.substance for c in ledger.columns if c.substance} == {"people", "facts", "mindset"}
    assert schema.substance.min_length == {"people": 2, "facts": 15, "mindset": 15}
    assert "同上" in schema.substance.placeholders


def test_adding_a_value_is_one_edit():
    data = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    edited = copy.deepcopy(data)
    status = next(c for c in edited["sheets"][1]["columns"] if c["name"] == "整改状态")
    status["values"].append("已中止")
    assert "已中止" in parse_schema(edited).sheet("ledger").column("整改状态").values
    assert "已中止" not in load_schema().sheet("ledger").column("整改状态").values


def test_malformed_schema_is_rejected():
    data = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    data["rules"][0]["code"] = "no-such-code"
    with pytest.raises(SchemaError, match="no-such-code"):
        parse_schema(data)
    data = yaml.safe_load(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    del data["tasks"][5]
    with pytest.raises(SchemaError, match="without gaps"):
        parse_schema(data)


@pytest.mark.parametrize(("index", "letter"), [(0, "A"), (11, "L"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA")])
def test_column_letter(index, letter):
    assert column_letter(index) == letter


def test_finding_message_names_cell_value_and_allowed():
    f = make_finding("bad-enum", sheet="整改台账", row=12, column="整改状态", col_index=7, value="完成", allowed="已完成、推进中")
    assert f.cell == "整改台账!H12" == a1_cell("整改台账", 12, 7)
    assert f.severity == "error"
    assert "整改台账!H12" in f.message and "“完成”" in f.message and "已完成、推进中" in f.message
    assert "{" not in f.message


def test_unfilled_template_fields_render_empty():
    assert render_message("a{x}b{y}", {"x": 1}) == "a1b"


def test_report_verdict_and_json_keys():
    warn = make_finding("too-thin", sheet="整改台账", row=3, column="见物", col_index=10, length=4, min_length=15)
    report = Report(file="a.xlsx", unit="110000", period="2015-02", findings=[warn])
    assert report.accepted and report.valid
    report.findings.append(make_finding("empty-ledger"))
    assert not report.accepted
    d = report.to_dict()
    assert {"file", "unit", "period", "accepted", "findings"} <= set(d)
    assert set(d["findings"][0]) >= {"code", "severity", "sheet", "row", "column", "cell", "message"}


def test_schemas_load_the_same_with_the_c_loader():
    """The schema files read the same through libyaml's safe loader as through the pure-Python one."""
    import yaml

    from jobs.core.schema import DEFAULT_SCHEMA, SAFE_LOADER

    for path in sorted(DEFAULT_SCHEMA.parent.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=SAFE_LOADER) == yaml.safe_load(text), path
