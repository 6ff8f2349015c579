"""Sign-off of 汇总 returns: the office above rejects an unsigned one, warns on a draft, folds in a signed one."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from jobs import api
from jobs.cli import main
from jobs.rollup.summary_return import (
    SummaryExportError,
    export_summary,
    read_summary_return,
)
from tests.test_rollup import P
from tests.test_rollup_cli import _make_home

BEIJING = frozenset({"110000", "110100", "110101"})
NOT_COMPARED = {"mom", "published_at", "revision", "received_after_publish"}


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def national(home) -> dict:
    done = cli("summarize", "--period", P, "--home", str(home.root), "--json")
    assert done.exit_code == 0, done.output
    return {k: v for k, v in json.loads(done.stdout).items() if k not in NOT_COMPARED}


def info(path) -> dict[str, str]:
    sheet = load_workbook(path)["基本信息"]
    return {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}


def unsign(path, target):
    book = load_workbook(path)
    sheet = book["基本信息"]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "审核人":
            row[1].value = None
    book.save(target)
    return target


@pytest.fixture(scope="module")
def beijing(tmp_path_factory):
    """北京's office: its returns, the month published, its 汇总 return exported and signed."""
    root = tmp_path_factory.mktemp("signoff")
    lower = _make_home(root / "beijing", with_returns=True)
    api.publish(lower, period=P, by="张三")
    signed = root / "out" / "北京汇总.xlsx"
    done = cli("summarize", "--period", P, "--home", str(lower.root), "--unit", "110000",
               "--export-summary", str(signed), "--reviewer", "李四", "--principal", "王五")  # fmt: skip
    assert done.exit_code == 0, done.output
    return root, signed


def test_export_requires_a_reviewer_and_signs_the_return(beijing, tmp_path):
    root, signed = beijing
    lower = root / "beijing"
    missing = cli("summarize", "--period", P, "--home", str(lower), "--unit", "110000",
                  "--export-summary", str(tmp_path / "x.xlsx"))  # fmt: skip
    assert missing.exit_code == 2 and "--reviewer" in missing.output and not (tmp_path / "x.xlsx").exists()
    items = info(signed)
    assert (items["审核人"], items["主要负责人"], items["报表类型"]) == ("李四", "王五", "汇总")
    assert items["审核日期"] == items["填报日期"] and items["发布状态"].startswith("已发布（第1次，")
    _rows, findings = read_summary_return(signed, period=P)
    assert findings == []
    with pytest.raises(SummaryExportError, match="审核人"):
        export_summary(api.summarize(_make_home(tmp_path / "h", with_returns=True), period=P).summary,
                       tmp_path / "y.xlsx", reviewer=" ")  # fmt: skip


def test_a_summary_of_an_unpublished_month_is_a_draft_and_a_warning(tmp_path):
    lower = _make_home(tmp_path / "draft", with_returns=True)
    path = tmp_path / "草稿.xlsx"
    done = cli("summarize", "--period", P, "--home", str(lower.root), "--unit", "110000",
               "--export-summary", str(path), "--reviewer", "李四")  # fmt: skip
    assert done.exit_code == 0 and "草稿" in done.output
    assert info(path)["发布状态"] == "草稿"
    _rows, findings = read_summary_return(path, period=P)
    assert [(f.code, f.severity) for f in findings] == [("summary-draft", "warning")]
    top = _make_home(tmp_path / "top", with_returns=False)
    included = cli("summarize", "--period", P, "--home", str(top.root), "--include-summary", str(path))
    assert included.exit_code == 0, included.output  # a warning: folded in


@pytest.mark.slow
def test_the_office_above_rejects_an_unsigned_summary_and_folds_in_a_signed_one(beijing, tmp_path):
    root, signed = beijing
    one_run = national(_make_home(tmp_path / "one-run", with_returns=True))
    top = _make_home(tmp_path / "top", with_returns=True, skip_units=BEIJING)
    (tmp_path / "inbox1").mkdir()
    unsigned = unsign(signed, tmp_path / "inbox1" / "北京汇总-未审核.xlsx")
    # given by hand: refused as a whole
    refused = cli("summarize", "--period", P, "--home", str(top.root), "--include-summary", str(unsigned))
    assert refused.exit_code == 1 and "审核人" in refused.output
    # received: stored, receipted and rejected like any return with an error
    got = cli("ingest", str(unsigned.parent), "--period", P, "--home", str(top.root), "--json")
    (line,) = [json.loads(x) for x in got.stdout.splitlines() if x.startswith("{")]
    assert line["accepted"] is False and [f["code"] for f in line["findings"]] == ["summary-not-signed"]
    assert national(top) != one_run  # 北京's subtree is still missing
    (tmp_path / "inbox2").mkdir()
    (tmp_path / "inbox2" / signed.name).write_bytes(signed.read_bytes())
    got = cli("ingest", str(tmp_path / "inbox2"), "--period", P, "--home", str(top.root), "--json")
    (line,) = [json.loads(x) for x in got.stdout.splitlines() if x.startswith("{")]
    assert line["accepted"] is True and line["findings"] == []
    folded, expected = national(top), dict(one_run)
    # units covered by the 汇总 return have no own figures to grade: the graded list holds the others
    steps, one_steps = folded.pop("attention"), expected.pop("attention")
    assert folded == expected
    assert all(set(steps[s]) <= set(one_steps[s]) for s in one_steps) and "110000" in one_steps["约谈提醒"]
    assert "110000" not in steps["约谈提醒"]
