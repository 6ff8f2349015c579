"""The blank return workbook is generated from the schema."""

from __future__ import annotations

import copy
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from openpyxl.utils import column_index_from_string, get_column_letter

from jobs.cli import main
from jobs.core.schema import DEFAULT_SCHEMA, parse_schema
from jobs.office.template import GUIDE_SHEET, LISTS_SHEET, display_width, write_template


@pytest.fixture(scope="module")
def template(tmp_path_factory, schema) -> openpyxl.Workbook:
    path = write_template(tmp_path_factory.mktemp("template") / "t.xlsx", schema=schema)
    return openpyxl.load_workbook(path)


def _validations(ws) -> list[tuple[str, str, set[str]]]:  # noqa: ANN001
    """(type, formula1, covered cells as "H2"-style strings, rows up to 30) per validation."""
    out = []
    for dv in ws.data_validations.dataValidation:
        cells = set()
        for rng in dv.sqref.ranges:
            for row in range(rng.min_row, min(rng.max_row, 30) + 1):
                for col in range(rng.min_col, rng.max_col + 1):
                    cells.add(f"{get_column_letter(col)}{row}")
        out.append((dv.type, dv.formula1, cells))
    return out


def test_sheets_in_schema_order_with_guide(template, schema):
    assert template.sheetnames == [s.name for s in schema.sheets] + [GUIDE_SHEET]


def test_headers_styled_and_frozen(template, schema):
    for sheet in schema.sheets:
        ws = template[sheet.name]
        header = [c.value for c in ws[1]][: len(sheet.headers)]
        assert tuple(header) == sheet.headers
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold


def test_every_enum_date_and_integer_column_is_validated(template, schema):
    for sheet in schema.sheets:
        ws = template[sheet.name]
        dvs = _validations(ws)
        for i, column in enumerate(sheet.columns):
            if column.type not in ("enum", "date", "integer"):
                continue
            cell = f"B{i + 2}" if sheet.layout == "keyvalue" else f"{get_column_letter(i + 1)}3"
            kinds = {"enum": "list", "date": "date", "integer": "whole"}
            found = [(t, f) for t, f, cells in dvs if cell in cells]
            assert found, f"{sheet.name}.{column.name}: no validation at {cell}"
            kind, formula = found[0]
            assert kind == kinds[column.type], (sheet.name, column.name)
            if column.type == "enum":
                assert all(v in formula for v in column.values), (sheet.name, column.name, formula)


def test_text_columns_have_no_validation(template, schema):
    ledger = schema.sheet("ledger")
    col = next(i for i, c in enumerate(ledger.columns) if c.key == "facts")
    cell = f"{get_column_letter(col + 1)}3"
    assert not [t for t, _f, cells in _validations(template[ledger.name]) if cell in cells]


def test_keyvalue_items_prefilled(template, schema):
    for key in ("info", "accountability"):
        sheet = schema.sheet(key)
        ws = template[sheet.name]
        items = [ws.cell(row=r, column=1).value for r in range(2, 2 + len(sheet.columns))]
        assert items == [c.name for c in sheet.columns]
    assert len(schema.accountability_rows) == 6
    info = template[schema.sheet("info").name]
    report_type_row = 2 + [c.key for c in schema.sheet("info").columns].index("report_type")
    assert info.cell(row=report_type_row, column=2).value == schema.default_report_type


def test_21_tasks_prefilled(template, schema):
    sheet = schema.sheet("tasks")
    ws = template[sheet.name]
    rows = [(ws.cell(row=r, column=1).value, ws.cell(row=r, column=2).value) for r in range(2, 2 + 21)]
    assert rows == sorted(schema.tasks.items())
    assert ws.cell(row=23, column=1).value is None
    width = ws.column_dimensions["B"].width
    assert width >= max(display_width(n) for n in schema.tasks.values())


def test_widths_fit_chinese_headers(template, schema):
    for sheet in schema.sheets:
        if sheet.layout != "table":
            continue
        ws = template[sheet.name]
        for i, column in enumerate(sheet.columns, start=1):
            width = ws.column_dimensions[get_column_letter(i)].width
            assert width >= column.width
            assert width >= display_width(column.name)


def test_guide_lists_every_column_rule_and_task(template, schema):
    text = "\n".join(str(c.value) for row in template[GUIDE_SHEET].iter_rows() for c in row if c.value is not None)
    for sheet in schema.sheets:
        assert sheet.name in text
        for column in sheet.columns:
            assert column.name in text
            if column.description:
                assert column.description in text
            for value in column.values or ():
                assert value in text
    for name in schema.tasks.values():
        assert name in text
    assert text.count("规则") >= len(schema.rules)
    assert "销号" in text and "不得大于" in text


def test_added_column_and_long_list_need_no_code(tmp_path):
    data = yaml.safe_load(Path(DEFAULT_SCHEMA).read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    ledger = next(s for s in data["sheets"] if s["key"] == "ledger")
    long_values = [f"督查组第{i}组反馈的问题类型" for i in range(30)]
    ledger["columns"].append({"name": "督查组别", "key": "inspection_group", "type": "enum", "required": False,
                              "values": long_values, "width": 14, "description": "反馈问题的督查组。"})
    ledger["columns"].append({"name": "整改资金（万元）", "key": "funds", "type": "integer", "width": 10,
                              "description": "投入整改的资金。"})
    schema = parse_schema(data)
    wb = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", schema=schema))
    ws = wb["整改台账"]
    headers = [c.value for c in ws[1]]
    assert headers[-2:] == ["督查组别", "整改资金（万元）"]
    assert len(",".join(long_values)) > 255
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    assert wb.sheetnames[-1] == LISTS_SHEET
    listed = [wb[LISTS_SHEET].cell(row=i + 1, column=1).value for i in range(len(long_values))]
    assert listed == long_values
    dvs = _validations(ws)
    group_col = get_column_letter(len(headers) - 1)
    funds_col = get_column_letter(len(headers))
    assert any(t == "list" and LISTS_SHEET in f for t, f, cells in dvs if f"{group_col}3" in cells)
    assert any(t == "whole" for t, _f, cells in dvs if f"{funds_col}3" in cells)
    for dv in ws.data_validations.dataValidation:
        assert len(dv.error or "") <= 225 and len(dv.prompt or "") <= 255 and len(dv.errorTitle or "") <= 32
    guide = "\n".join(str(c.value) for row in wb[GUIDE_SHEET].iter_rows() for c in row if c.value)
    assert "督查组别" in guide and "投入整改的资金" in guide
    assert column_index_from_string(funds_col) == len(schema.sheet("ledger").columns)


def test_default_template_has_no_hidden_sheet(template):
    assert LISTS_SHEET not in template.sheetnames
    assert all(ws.sheet_state == "visible" for ws in template.worksheets)


def test_cli_writes_template(tmp_path):
    out = tmp_path / "sub" / "模板.xlsx"
    result = CliRunner().invoke(main, ["template", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "已生成" in result.output
    bad = CliRunner().invoke(main, ["template", "--out", str(tmp_path / "t.csv")])
    assert bad.exit_code != 0
    assert "xlsx" in bad.output and "Traceback" not in bad.output


@pytest.mark.slow
def test_filled_template_round_trips_without_findings(tmp_path, schema):
    """A blank template filled with correct content reads and validates clean."""
    import datetime as dt

    import polars as pl

    from jobs.office.registry import REGISTRY_SCHEMA
    from jobs.office.template import build_template
    from jobs.tooling.samples.content import build_return
    from jobs.tooling.samples.registry import Unit
    from jobs.validate import validate_files

    unit = Unit("110000", "北京市", "000000", "省级", "地方", "张建国", "010-65231234")
    data = build_return(unit, place=unit.name, periods=("2015-01",), index=0, filled_on=dt.date(2015, 1, 26), seed=3)
    wb = build_template(schema=schema)
    for sheet in schema.sheets:
        ws = wb[sheet.name]
        if sheet.layout == "keyvalue":
            values = data.kv[sheet.key]
            for r in range(2, 2 + len(sheet.columns)):
                key = next(c.key for c in sheet.columns if c.name == ws.cell(row=r, column=1).value)
                ws.cell(row=r, column=2, value=values[key])
            continue
        rows = data.tables[sheet.key]
        if sheet.key == "tasks":
            rows = sorted(rows, key=lambda row: row["task_no"])
            assert [ws.cell(row=i + 2, column=1).value for i in range(len(rows))] == [x["task_no"] for x in rows]
        for i, row in enumerate(rows, start=2):
            for j, column in enumerate(sheet.columns, start=1):
                ws.cell(row=i, column=j, value=row.get(column.key))
    path = tmp_path / "110000.xlsx"
    wb.save(path)
    registry = pl.DataFrame(
        [
            {"code": "000000", "name": "全国", "parent": None, "level": "全国", "category": "地方",
             "contact": None, "phone": None, "must_report": False},
            {"code": unit.code, "name": unit.name, "parent": "000000", "level": unit.level, "category": "地方",
             "contact": unit.contact, "phone": unit.phone, "must_report": True},
        ],
        schema=REGISTRY_SCHEMA,
    )
    [result] = validate_files([path], registry=registry, period="2015-01",
                              received_at={path: dt.datetime(2015, 1, 27, 10, 0)}, schema=schema)
    assert [f.to_dict() for f in result.report.findings] == []
    assert result.report.accepted and result.tables is not None
    assert result.tables["ledger"].height == len(data.tables["ledger"])
    assert result.tables["tasks"].height == 21
