"""``rectify validate``: exit codes, JSON Lines, summaries, receipts, file discovery."""

from __future__ import annotations

import json

import openpyxl
import pytest
from click.testing import CliRunner
from test_validate_helpers import base_return, registry_frame, set_cell, write_return

from jobs.cli import main
from jobs.intake.discover import expand_paths

KEYS = {"file", "unit", "period", "accepted", "findings"}
FINDING_KEYS = {"code", "severity", "sheet", "row", "column", "cell", "message", "explained"}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("inbox")
    write_return(base_return(), root / "北京市.xlsx")
    bad = base_return("120000", "天津市", seed=1)
    set_cell(bad, "整改台账", 3, "见物", "略")
    write_return(bad, root / "sub" / "天津市.xlsx")
    (root / "sub" / "~$天津市.xlsx").write_bytes(b"lock")  # Excel's lock file: skipped
    (root / "readme.txt").write_text("说明", encoding="utf-8")
    registry = registry_frame().rename({"code": "单位代码", "name": "单位名称", "parent": "上级单位代码",
                                        "level": "层级", "category": "类别", "contact": "联系人", "phone": "联系电话"})
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "组织机构名册"
    ws.append([*registry.columns[:-1], "是否报送"])
    for row in registry.iter_rows():
        ws.append([*row[:-1], "是" if row[-1] else "否"])
    wb.save(root / "名册.xlsx")  # inside the folder: must not be validated as a return
    return root


def test_discovery_recurses_and_skips_lock_files(inbox):
    names = sorted(p.name for p in expand_paths([inbox]))
    assert names == sorted(["北京市.xlsx", "名册.xlsx", "天津市.xlsx", "readme.txt"])


def test_json_lines_and_exit_1_when_any_rejected(inbox, tmp_path):
    result = CliRunner().invoke(main, ["validate", str(inbox), "--registry", str(inbox / "名册.xlsx"),
                                       "--period", "2015-02", "--json", "--receipts", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # no home: no history to read the returns against, said once on stderr
    assert result.stderr.count("没有往期报表可比对") == 1
    assert len(lines) == 3
    assert all(KEYS <= set(obj) for obj in lines)
    by_unit = {obj["unit"]: obj for obj in lines}
    readme = by_unit[None]  # not a workbook: rejected, as ingest does
    assert readme["file"].endswith("readme.txt") and readme["accepted"] is False
    assert [f["code"] for f in readme["findings"]] == ["unreadable-file"]
    assert by_unit["110000"]["accepted"] is True and by_unit["110000"]["findings"] == []
    rejected = by_unit["120000"]
    assert rejected["accepted"] is False and rejected["period"] == "2015-02"
    (finding,) = rejected["findings"]
    assert set(finding) == FINDING_KEYS
    assert (finding["code"], finding["cell"], finding["row"], finding["column"]) == (
        "facts-missing", "整改台账!K3", 3, "见物")
    receipts = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert receipts == ["110000_北京市_回执.xlsx", "120000_天津市_回执.xlsx", "未识别_readme_回执.xlsx"]
    ws = openpyxl.load_workbook(tmp_path / "out" / "120000_天津市_回执.xlsx").active
    meta = {row[0].value: row[1].value for row in ws.iter_rows(min_row=2, max_row=12)}
    assert meta["单位名称"] == "天津市" and meta["截止时间"] == "2015-02-28 23:59:59"
    assert meta["收到时间"] != "—" and meta["版本"] == "未入库（仅检查）"


def test_summary_and_exit_0_when_all_accepted(inbox):
    result = CliRunner().invoke(main, ["validate", str(inbox / "北京市.xlsx"), "--registry",
                                       str(inbox / "名册.xlsx"), "--period", "2015-02"])
    assert result.exit_code == 0, result.output
    assert "北京市.xlsx" in result.output and "通过" in result.output
    assert "共1个文件：通过1个，退回0个。" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--period", "2015-2"],  # malformed period
        [],  # no period
    ],
)
def test_usage_errors_exit_2(inbox, args):
    result = CliRunner().invoke(main, ["validate", str(inbox / "北京市.xlsx"), "--registry",
                                       str(inbox / "名册.xlsx"), *args])
    assert result.exit_code == 2, result.output


def test_no_registry_and_no_home_is_a_usage_error(inbox, tmp_path):
    result = CliRunner().invoke(main, ["validate", str(inbox / "北京市.xlsx"), "--period", "2015-02",
                                       "--home", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "--registry" in result.output


def test_folder_without_workbooks_is_a_usage_error(tmp_path, inbox):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "empty"), "--registry", str(inbox / "名册.xlsx"),
                                       "--period", "2015-02"])
    assert result.exit_code == 2
    assert "没有找到" in result.output


def test_broken_registry_is_a_clean_error(tmp_path, inbox):
    broken = tmp_path / "名册.csv"
    broken.write_text("甲,乙\n1,2\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(inbox / "北京市.xlsx"), "--registry", str(broken),
                                       "--period", "2015-02"])
    assert result.exit_code == 2
    assert "名册" in result.output and "Traceback" not in result.output
