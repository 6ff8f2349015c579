"""Graded accountability at month-end: findings read from the store, 诫勉 twice running, the year's ineligible list."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from jobs.core.findings import Finding, Report
from jobs.office.home import init_home
from jobs.rollup.attention import STEPS
from jobs.rollup.period import load_period
from jobs.rollup.run import month_end, output_dir
from jobs.store import Arrival
from tests.test_month_end import HEADER, REGISTRY
from tests.test_rollup import _return
from tests.test_rollup_frames import item

LEDGER = "整改台账"


def _uniform(row: int | None = None) -> Finding:
    return Finding("uniform-figures", "warning", "数字千篇一律", sheet="专项整治", row=row or 2)


def _thin(row: int) -> Finding:
    return Finding("too-thin", "warning", "过于简单", sheet=LEDGER, row=row, column="见物")


def _add(home, period: str, unit: str, findings=(), *, version: int = 1, day: int = 20) -> None:
    sid = f"{period}-{unit}-{version}"
    src = home.root / f"{sid}.xlsx"
    src.write_bytes(sid.encode())
    at = datetime(int(period[:4]), int(period[5:]), day, 9)
    ledger = [item(i, "已完成", "否", "满意", "群众反映", "其他", date(2016, 12, 31)) for i in (1, 2, 3, 4)]
    report = Report(file=src.name, unit=unit, period=period, findings=list(findings))
    arrival = Arrival(home.store.archive(src), src.name, at, report, _return(sid, unit, ledger, period=period),
                      report_type="本级")  # fmt: skip
    with home.lock():
        home.store.write_batch(period, [arrival], ingested_at=at)


def _steps(home, period: str) -> dict[str, list[str]]:
    end = month_end(load_period(home, period))
    end.save()
    return end.summary.national["attention"]


@pytest.fixture
def home(tmp_path):
    h = init_home(tmp_path / "home")
    (tmp_path / "r.csv").write_text(HEADER + "\n".join(REGISTRY) + "\n", encoding="utf-8")
    h.import_registry(tmp_path / "r.csv", from_period="2015-01")
    return h


def test_admonished_twice_running_is_accountability_and_the_year_keeps_the_ineligible(home):
    _add(home, "2015-01", "110000", [_uniform()])
    _add(home, "2015-01", "120000", [_uniform()])
    _add(home, "2015-01", "130000")
    _add(home, "2015-02", "110000", [_uniform()])
    _add(home, "2015-02", "120000")
    _add(home, "2015-02", "130000")
    _add(home, "2015-03", "110000")
    _add(home, "2016-01", "110000")
    assert _steps(home, "2015-01") == {"约谈提醒": [], "诫勉批评": ["110000", "120000"], "追责问责": []}
    assert _steps(home, "2015-02") == {"约谈提醒": [], "诫勉批评": [], "追责问责": ["110000"]}
    feb = month_end(load_period(home, "2015-02")).summary
    assert feb.attention.filter(feb.attention["code"] == "110000")["reason"][0].startswith(
        "连续两期整改走过场、被诫勉批评（2015年1月已被诫勉批评）")
    march = month_end(load_period(home, "2015-03")).summary
    assert march.national["attention"] == {s: [] for s in STEPS}
    assert march.ineligible.rows() == [("110000", "北京市", ["2015-01", "2015-02"]), ("120000", "天津市", ["2015-01"])]
    assert month_end(load_period(home, "2016-01")).summary.ineligible.height == 0  # a new year
    saved = json.loads((output_dir(home, "2015-02") / "national.json").read_text(encoding="utf-8"))
    assert saved["attention"]["追责问责"] == ["110000"]


def test_only_the_counting_return_findings_count_and_items_are_named(home):
    _add(home, "2015-02", "110000", [_thin(2), _thin(3)])  # 2 of 4 items: 50 % > 30 %
    _add(home, "2015-02", "120000", [_thin(2), _thin(3), _thin(4)])
    _add(home, "2015-02", "120000", [_thin(2)], version=2, day=21)  # the resubmission counts: 1 of 4
    end = month_end(load_period(home, "2015-02")).summary
    assert end.national["attention"] == {"约谈提醒": [], "诫勉批评": ["110000"], "追责问责": []}
    assert "（序号1、2）" in end.attention["reason"][0]  # rows 2 and 3 hold items 1 and 2


def test_a_changed_accountability_setting_makes_the_saved_summary_stale(home):
    _add(home, "2015-01", "110000", [_thin(2)])  # 1 of 4 items
    _add(home, "2015-02", "110000")
    month_end(load_period(home, "2015-02"))  # saves January
    text = (home.root / "config.toml").read_text(encoding="utf-8").replace("thin_share = 0.3", "thin_share = 0.2")
    (home.root / "config.toml").write_text(text, encoding="utf-8")
    from jobs.office.home import Home

    again = Home.open(home.root)
    month_end(load_period(again, "2015-02"))
    saved = json.loads((output_dir(again, "2015-01") / "national.json").read_text(encoding="utf-8"))
    assert saved["attention"]["诫勉批评"] == ["110000"]


def test_summarize_prints_the_graded_list_by_step(home):
    from click.testing import CliRunner

    from jobs.cli import main

    _add(home, "2015-01", "110000", [_uniform()])
    _add(home, "2015-02", "110000", [_uniform()])
    _add(home, "2015-02", "120000", [_uniform()])
    result = CliRunner().invoke(main, ["summarize", "--period", "2015-02", "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    assert "分级问责单位2个（诫勉批评1个，追责问责1个），详见" in result.output
    as_json = CliRunner().invoke(main, ["summarize", "--period", "2015-02", "--home", str(home.root), "--json"])
    assert json.loads(as_json.output)["attention"] == {"约谈提醒": [], "诫勉批评": ["120000"], "追责问责": ["110000"]}
