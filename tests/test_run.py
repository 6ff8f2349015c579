"""``rectify run`` on the bundled samples: the monthly job end to end, and ``rectify report`` for any node."""

from __future__ import annotations

import json

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.report.indicators import INDICATORS
from tests.conftest import SAMPLES
from tests.test_report import _Figures, _parse

pytestmark = pytest.mark.slow
PERIOD, BEFORE = "2015-02", "2015-01"


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    """The bundled samples, or the same ones generated (a clone before ``make samples``)."""
    if (SAMPLES / "registry.xlsx").is_file() and (SAMPLES / "returns" / PERIOD).is_dir():
        return SAMPLES
    from jobs.tooling.samples import generate_samples

    out = tmp_path_factory.mktemp("samples")
    generate_samples(out, units=40, periods=(BEFORE, PERIOD), defects=0.3, seed=7)
    return out


@pytest.fixture(scope="session")
def month(samples, tmp_path_factory):
    """A home with the previous month ingested, then ``rectify run`` for the period."""
    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import init_home

    root = tmp_path_factory.mktemp("home")
    home = init_home(root)
    home.import_registry(samples / "registry.xlsx", from_period=BEFORE)
    ingest_paths(home, [samples / "returns" / BEFORE], period=BEFORE, receipts=False)
    runner = CliRunner()
    result = runner.invoke(
        main, ["run", "--period", PERIOD, "--inbox", str(samples / "returns" / PERIOD), "--home", str(root), "--docx"]
    )
    return {"home": home, "root": root, "result": result, "runner": runner, "samples": samples}


def _report(month, suffix: str):
    return month["root"] / "reports" / PERIOD / f"汇总报告_{PERIOD}.{suffix}"


def test_run_produces_every_output(month):
    result = month["result"]
    assert result.exit_code == 0, result.output
    assert _report(month, "html").is_file() and _report(month, "xlsx").is_file() and _report(month, "docx").is_file()
    summaries = month["root"] / "summaries" / PERIOD
    assert (summaries / "nodes.parquet").is_file() and (summaries / "national.json").is_file()
    assert any((month["root"] / "outbox" / PERIOD).iterdir()), "receipts for the units"
    out = result.output
    assert "关于2015年2月整改落实情况“回头看”的汇总报告" in out
    assert "收件：" in out and "报送：" in out and "台账：" in out and str(_report(month, "html")) in out
    assert len(out.splitlines()) <= 25  # one screen


def test_report_figures_equal_the_rollup(month):
    national = json.loads((month["root"] / "summaries" / PERIOD / "national.json").read_text(encoding="utf-8"))
    parser = _Figures()
    parser.feed(_report(month, "html").read_text(encoding="utf-8"))
    checked = 0
    for key, text in parser.found:
        head, *rest = key.split(".")
        if head in INDICATORS:
            expected = national[head]
        elif head == "task":
            expected = national["tasks"][rest[0]][rest[1]]
        else:
            continue
        shown = _parse(text)
        if expected is None or not key.endswith("rate"):
            assert shown == expected, key
        else:
            assert shown == pytest.approx(expected, abs=0.0005 + 1e-9), key
        checked += 1
    assert checked > 100
    assert national["items_total"] > 0 and national["units_reported"] > 0

    ws = openpyxl.load_workbook(_report(month, "xlsx"))["主要指标"]
    cells = {ws.cell(r, 2).value: ws.cell(r, 4).value for r in range(4, ws.max_row + 1)}
    for key, ind in INDICATORS.items():
        assert cells[ind.label] == (pytest.approx(national[key]) if national[key] is not None else None), key


def test_previous_month_is_compared(month):
    page = _report(month, "html").read_text(encoding="utf-8")
    assert "主要指标与2015年1月比较" in page
    assert page.count("<svg") == 3


def test_missing_units_annex_lists_contacts(month):
    registry = month["home"].registry(PERIOD)
    national = json.loads((month["root"] / "summaries" / PERIOD / "national.json").read_text(encoding="utf-8"))
    ws = openpyxl.load_workbook(_report(month, "xlsx"))["未报送单位"]
    codes = [ws.cell(r, 2).value for r in range(4, ws.max_row + 1) if ws.cell(r, 2).value]
    assert len(codes) == national["units_missing"]
    contacts = dict(registry.select("code", "contact").iter_rows())
    for r in range(4, 4 + len(codes)):
        assert ws.cell(r, 6).value == contacts[ws.cell(r, 2).value]


def test_unit_report_for_any_node(month, tmp_path):
    registry = month["home"].registry(PERIOD)
    # one unit of every level, 全国 to the deepest
    picks = {registry.filter(pl.col("level") == level)["code"][0] for level in registry["level"].unique().to_list()}
    assert len(picks) >= 3
    for code in sorted(picks):
        name = registry.filter(pl.col("code") == code)["name"][0]
        out = tmp_path / code
        result = month["runner"].invoke(
            main, ["report", "--period", PERIOD, "--unit", code, "--out", str(out), "--home", str(month["root"])]
        )
        assert result.exit_code == 0, result.output
        page = (out / f"汇总报告_{PERIOD}_{code}.html").read_text(encoding="utf-8")
        if code != registry.filter(pl.col("parent").is_null())["code"][0]:
            assert f"关于{name}2015年2月" in page
        assert (out / f"汇总报告_{PERIOD}_{code}.xlsx").is_file()


def test_unknown_unit_is_a_clean_error(month, tmp_path):
    result = month["runner"].invoke(
        main, ["report", "--period", PERIOD, "--unit", "NOPE99", "--out", str(tmp_path), "--home", str(month["root"])]
    )
    assert result.exit_code == 1
    assert "不在" in result.output and "Traceback" not in result.output


def test_run_again_ingests_nothing_new(month):
    result = month["runner"].invoke(
        main,
        ["run", "--period", PERIOD, "--inbox", str(month["samples"] / "returns" / PERIOD), "--home", str(month["root"])],
    )
    assert result.exit_code == 0, result.output
    assert "新入库0个" in result.output


def test_run_json_prints_only_the_intakes_json_lines(month):
    inbox = month["samples"] / "returns" / PERIOD
    result = month["runner"].invoke(
        main, ["run", "--period", PERIOD, "--inbox", str(inbox), "--home", str(month["root"]), "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len([p for p in inbox.iterdir() if not p.name.startswith((".", "~$"))])
    assert {v["stored"] for v in lines} == {False}  # all received before: duplicates
    assert all(isinstance(v["version"], int) and v["period"] == PERIOD for v in lines)
    assert {v["accepted"] for v in lines} == {True, False}
    assert all(v["accepted"] == (not any(f["severity"] == "error" for f in v["findings"])) for v in lines)
    assert "报送率" in result.stderr


def test_report_folds_in_a_lower_offices_summary_without_double_counting(month, tmp_path):
    """A province's 汇总 return over a subtree the office also holds returns for changes no national figure."""
    runner, root = month["runner"], str(month["root"])
    export = tmp_path / "汇总_110000.xlsx"
    result = runner.invoke(
        main, ["summarize", "--period", PERIOD, "--unit", "110000", "--export-summary", str(export), "--reviewer", "李四",
              "--home", root]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main, ["report", "--period", PERIOD, "--include-summary", str(export), "--out", str(tmp_path), "--home", root]
    )
    assert result.exit_code == 0, result.output

    def figures(path):
        parser = _Figures()
        parser.feed(path.read_text(encoding="utf-8"))
        return {k: v for k, v in parser.found if k.split(".")[0] in INDICATORS}

    assert figures(tmp_path / f"汇总报告_{PERIOD}.html") == figures(_report(month, "html"))


def test_a_provinces_summary_and_one_of_its_units_own_return_count_the_province_once(month, tmp_path):
    """Issue 16 item 7: the top office holds 370000's 汇总 return and 370101's own return, no other return of
    the province. The 汇总 return (subtree totals only) counts for the province, 370101's return is set aside
    and named: national figures equal the one-run figures (before: the province was dropped whole)."""
    import shutil

    from jobs.intake.parallel import ingest_paths
    from jobs.office.home import init_home

    runner, root, samples = month["runner"], str(month["root"]), month["samples"]
    export = tmp_path / "汇总_370000.xlsx"
    result = runner.invoke(
        main, ["summarize", "--period", PERIOD, "--unit", "370000", "--export-summary", str(export),
               "--reviewer", "李四", "--home", root]
    )
    assert result.exit_code == 0, result.output
    one_run = json.loads(runner.invoke(main, ["summarize", "--period", PERIOD, "--json", "--home", root]).stdout)

    top = init_home(tmp_path / "top")
    top.import_registry(samples / "registry.xlsx", from_period=BEFORE)
    for period in (BEFORE, PERIOD):
        inbox = tmp_path / "inbox" / period
        inbox.mkdir(parents=True)
        for path in (samples / "returns" / period).iterdir():
            if not path.stem.startswith("37") or (period == PERIOD and path.stem == "370101"):
                shutil.copy2(path, inbox / path.name)  # the arrival time (mtime) travels with the file
        ingest_paths(top, [inbox], period=period, receipts=False)
    result = runner.invoke(
        main, ["summarize", "--period", PERIOD, "--json", "--include-summary", str(export), "--home", str(top.root)]
    )
    assert result.exit_code == 0, result.output
    federated = json.loads(result.stdout)
    # units covered by the 汇总 return have no own figures to grade: the graded list holds the others
    steps, one_steps = federated.pop("attention"), one_run.pop("attention")
    assert {k: v for k, v in federated.items() if k != "mom"} == {k: v for k, v in one_run.items() if k != "mom"}
    assert all(set(steps[s]) <= set(one_steps[s]) for s in one_steps)
    assert "（370101，文件“370101.xlsx”）的本级报表未计入合计" in result.stderr
    assert "（370000）的汇总报表“汇总_370000.xlsx”" in result.stderr


def test_unwritable_output_is_a_clean_error(month, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = month["runner"].invoke(
        main, ["report", "--period", PERIOD, "--out", str(blocker / "reports"), "--home", str(month["root"])]
    )
    assert result.exit_code == 1
    # named by the one mapping of environment failures (jobs.core.errors.known_error)
    assert f"“{blocker / 'reports'}”" in result.output and "Traceback" not in result.output


def test_graded_attention_lists_a_minority_of_reporting_units_on_the_samples(month):
    """With the default settings the list is one the office can act on: fewer than half the units that reported."""
    national = json.loads((month["root"] / "summaries" / PERIOD / "national.json").read_text(encoding="utf-8"))
    steps = national["attention"]
    assert list(steps) == ["约谈提醒", "诫勉批评", "追责问责"]
    listed = [code for codes in steps.values() for code in codes]
    assert len(listed) == len(set(listed)) > 0  # one step per unit
    assert len(listed) * 2 < national["units_reported"], (len(listed), national["units_reported"])
    counts = "".join(f"，{step}{len(codes)}个" for step, codes in reversed(steps.items()) if codes)
    assert f"分级问责单位{len(listed)}个{counts}：" in month["result"].output


def test_circular_names_every_missing_and_late_unit_exactly_once_on_the_samples(month):
    import docx

    from jobs.rollup.coverage import CHASED
    from jobs.rollup.period import load_period
    from tests.test_circular import _named

    result = month["runner"].invoke(main, ["circular", "--period", PERIOD, "--home", str(month["root"])])
    assert result.exit_code == 0, result.output
    doc = docx.Document(str(month["root"] / "reports" / PERIOD / f"通报_{PERIOD}.docx"))
    text = "\n".join(p.text for p in doc.paragraphs)
    units = load_period(month["home"], PERIOD).coverage.units
    missing = units.filter(pl.col("state").is_in(CHASED))["name"].to_list()
    late = units.filter(pl.col("state") == "late")["name"].to_list()
    assert missing and late
    assert sorted(_named(text, "未报送的单位")) == sorted(missing)
    assert sorted(_named(text, "逾期报送的单位")) == sorted(late)
    national = json.loads((month["root"] / "summaries" / PERIOD / "national.json").read_text(encoding="utf-8"))
    for step, codes in national["attention"].items():
        if codes:
            assert len(_named(text, step, sep="；")) == len(codes)
