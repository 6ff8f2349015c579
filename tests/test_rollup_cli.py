"""``rectify summarize`` over a real office home (store written through its API)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl
import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.findings import Report, make_finding
from jobs.office.home import init_home
from jobs.rollup.summary import summarize
from jobs.store import Arrival
from tests.test_rollup import DEADLINE, REGISTRY, RETURNS, SUBMISSIONS, P
from tests.test_rollup_frames import concat

HEADERS = {"code": "单位代码", "name": "单位名称", "parent": "上级单位代码", "level": "层级",
           "category": "类别", "contact": "联系人", "phone": "联系电话", "must_report": "是否报送"}  # fmt: skip


def _make_home(root, *, with_returns: bool, skip_units: frozenset[str] = frozenset()):
    home = init_home(root)
    csv = root / "registry.csv"
    REGISTRY.with_columns(
        pl.when(pl.col("must_report")).then(pl.lit("是")).otherwise(pl.lit("否")).alias("must_report"),
        pl.lit("王五").alias("contact"),
    ).rename(HEADERS).write_csv(csv)
    home.import_registry(csv, from_period="2015-01")
    if not with_returns:
        return home
    meta = {r["submission_id"]: r for r in SUBMISSIONS.iter_rows(named=True)}
    by_period: dict[str, list[Arrival]] = {}
    for tables in RETURNS:
        sid = tables["info"]["submission_id"][0]
        m = meta[sid]
        if m["unit"] in skip_units:
            continue
        blob = root / f"{sid}.xlsx"
        blob.write_bytes(sid.encode())
        report = Report(file=blob.name, unit=m["unit"], period=m["period"])
        if not m["accepted"]:
            report.findings.append(make_finding("empty-ledger"))
        received = m["received_at"] - (timedelta(hours=1) if m["superseded_by"] else timedelta(0))
        by_period.setdefault(m["period"], []).append(
            Arrival(archived=home.store.archive(blob), file_name=blob.name, received_at=received,
                    report=report, tables=tables, report_type="本级")
        )  # fmt: skip
    for period, arrivals in by_period.items():
        home.store.write_batch(period, arrivals, ingested_at=datetime(2015, 3, 5))
    return home


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return _make_home(tmp_path_factory.mktemp("office"), with_returns=True)


def _invoke(*args):
    return CliRunner().invoke(main, ["summarize", *args])


def test_json_matches_the_pure_roll_up(home):
    result = _invoke("--period", P, "--home", str(home.root), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # the store's history for rebound is 120000's January return (all items closed then)
    january = concat(RETURNS)["ledger"].filter(pl.col("period") == "2015-01")
    expected = summarize(concat(RETURNS), SUBMISSIONS, REGISTRY, period=P, deadline=DEADLINE,
                         history_tables={"ledger": january}).national  # fmt: skip
    outside_home = {"mom", "registry_version"}  # the pure roll-up knows no registry version
    unpublished = {"published_at": None, "revision": 0, "received_after_publish": []}
    assert {k: v for k, v in out.items() if k not in outside_home} == {
        k: v for k, v in {**expected, **unpublished}.items() if k not in outside_home
    }
    assert out["registry_version"] == 1 and expected["registry_version"] is None
    assert out["items_total"] == 10 and out["items_rebound"] == 1  # 200101 need not report: counts nowhere
    assert set(out["mom"]) == {"reporting_rate", "timeliness_rate", "completion_rate", "closure_rate", "satisfaction_rate"}
    nodes = pl.read_parquet(home.root / "summaries" / P / "nodes.parquet")
    assert nodes.height == REGISTRY.height
    assert "999999" in result.stderr  # the unknown unit's return is named, not counted


def test_unit_and_text_output(home):
    result = _invoke("--period", P, "--home", str(home.root), "--unit", "110000", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items_total"] == 6
    text = _invoke("--period", P, "--home", str(home.root))
    assert text.exit_code == 0 and "完成率" in text.output and "应报5个单位" in text.output


def test_unknown_unit_is_a_clean_error(home):
    result = _invoke("--period", P, "--home", str(home.root), "--unit", "nope")
    assert result.exit_code == 1
    assert "不在" in result.output and "Traceback" not in result.output


def test_export_and_include_summary(home, tmp_path):
    path = tmp_path / "北京汇总.xlsx"
    result = _invoke("--period", P, "--home", str(home.root), "--unit", "110000", "--export-summary", str(path),
                     "--reviewer", "李四")  # fmt: skip
    assert result.exit_code == 0, result.output
    top = _make_home(tmp_path / "top", with_returns=False)
    result = _invoke("--period", P, "--home", str(top.root), "--json", "--include-summary", str(path))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # the 110000 subtree comes from the 汇总 return; 120000 and 200001 are expected but missing
    assert (out["items_total"], out["items_done"], out["units_expected"], out["units_reported"]) == (6, 3, 5, 2)
    bad = _invoke("--period", "2015-03", "--home", str(top.root), "--include-summary", str(path))
    assert bad.exit_code == 1 and "报送期" in bad.output


@pytest.mark.slow
def test_summary_return_through_intake(home, tmp_path):
    """A lower office's 汇总 return is ingested like any return and folded in at the top."""
    inbox = tmp_path / "inbox"
    exported = _invoke("--period", P, "--home", str(home.root), "--unit", "110000",
                       "--export-summary", str(inbox / "北京汇总.xlsx"), "--reviewer", "李四")  # fmt: skip
    assert exported.exit_code == 0, exported.output
    top = _make_home(tmp_path / "top", with_returns=False)
    ingested = CliRunner().invoke(main, ["ingest", str(inbox), "--period", P, "--home", str(top.root)])
    assert ingested.exit_code == 0, ingested.output
    subs = top.store.submissions(P)
    assert subs.select("unit", "accepted", "report_type").rows() == [("110000", True, "汇总")]
    out = json.loads(_invoke("--period", P, "--home", str(top.root), "--json").stdout)
    assert (out["items_total"], out["units_expected"], out["units_reported"]) == (6, 5, 2)


def test_bad_input_gives_chinese_errors(home, tmp_path):
    bare = init_home(tmp_path / "bare")
    no_registry = _invoke("--period", P, "--home", str(bare.root))
    assert no_registry.exit_code == 1 and "名册" in no_registry.output
    bad_period = _invoke("--period", "2015-13", "--home", str(home.root))
    assert bad_period.exit_code == 2 and "报送期" in bad_period.output
    (tmp_path / "blocker").write_text("a file, not a folder")
    unwritable = _invoke("--period", P, "--home", str(home.root), "--export-summary", str(tmp_path / "blocker" / "x.xlsx"),
                         "--reviewer", "李四")  # fmt: skip
    assert unwritable.exit_code == 1 and "无法写入" in unwritable.output
    not_excel = tmp_path / "fake.xlsx"
    not_excel.write_text("not a workbook")
    rejected = _invoke("--period", P, "--home", str(home.root), "--include-summary", str(not_excel))
    assert rejected.exit_code == 1 and "fake.xlsx" in rejected.output
    for result in (no_registry, bad_period, unwritable, rejected):
        assert "Traceback" not in result.output


def test_hostile_summary_returns_get_the_guarded_open(home, tmp_path):
    """汇总 returns given with --include-summary pass preflight and the guarded reader like any
    received file: a hostile one is a clean Chinese rejection naming its sub-code's reason."""
    from jobs.core.errors import UnreadableFile
    from jobs.rollup.summary_return import read_summary_return
    from tests import hostile as H
    from tests.corpus import calamine

    cases = {
        H.zip_bomb(tmp_path / "bomb-lying.xlsx", megabytes=64, lie=True): "zip-bomb-overrun",
        H.long_cell(H.write_return(tmp_path / "good.xlsx"), tmp_path / "long-cell.xlsx"): "cell-too-long",
        calamine("ptgexp-truncated-operand.xls"): "corrupt",  # a Rust panic in the reader
    }
    for path, kind in cases.items():
        with pytest.raises(UnreadableFile) as info:
            read_summary_return(path, period=P)  # also how archived 汇总 returns are re-read
        assert info.value.kind == kind, path.name
        result = _invoke("--period", P, "--home", str(home.root), "--include-summary", str(path))
        assert result.exit_code == 1, result.output
        assert f"{path.name}：{info.value.reason}" in result.output
        assert "Traceback" not in result.output
