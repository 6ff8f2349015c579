"""One coverage model: status, summarize and the report (text, tables, annex) agree to the unit.

The office's home holds: detail returns (on time, late, rejected), a unit that
sent nothing, a village that need not report but sent a return with overdue
items, and a province (河北省) that reports through its 汇总 return, in which
one of its cities is missing.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner

from jobs.cli import main
from jobs.core.findings import Report, make_finding
from jobs.office.home import init_home
from jobs.report.pipeline import make_report
from jobs.rollup.coverage import compute_coverage
from jobs.rollup.period import load_period
from jobs.rollup.run import summarize_home
from jobs.rollup.status import compute_status
from jobs.rollup.summary import summarize
from jobs.rollup.summary_return import export_summary
from jobs.store import Arrival
from tests.test_report import _Figures
from tests.test_rollup import _return
from tests.test_rollup_frames import concat, item, registry, submission, submissions

P = "2015-02"
DEADLINE = datetime(2015, 2, 27, 18, 0)
ON_TIME, LATE = datetime(2015, 2, 20, 9), datetime(2015, 3, 2, 9)
HEADER = "单位代码,单位名称,上级单位代码,层级,类别,联系人,联系电话,是否报送\n"
ROWS = [
    ("000000", "全国", None, "全国", "地方", False),
    ("110000", "北京市", "000000", "省级", "地方", True),  # on time
    ("110199", "某村", "110000", "村级", "地方", False),  # need not report, sends a return anyway
    ("120000", "天津市", "000000", "省级", "地方", True),  # late
    ("130000", "河北省", "000000", "省级", "地方", True),  # 汇总 return for its subtree
    ("130100", "石家庄市", "130000", "市级", "地方", True),
    ("130200", "唐山市", "130000", "市级", "地方", True),
    ("140000", "山西省", "000000", "省级", "地方", True),  # rejected
    ("150000", "内蒙古自治区", "000000", "省级", "地方", True),  # sends nothing
    ("900001", "某部委", "000000", "省级", "中央和国家机关", True),  # on time
]
COVERAGE_KEYS = ("units_expected", "units_reported", "units_on_time", "units_late", "units_missing",
                 "reporting_rate", "timeliness_rate")  # fmt: skip


def _items(n: int, status: str = "已完成") -> list[dict]:
    return [item(i, status, "否", "满意", "查摆问题", "形式主义", date(2015, 1, 10)) for i in range(1, n + 1)]


def _hebei_return(folder) -> object:
    """河北省's own office: it and 石家庄市 reported, 唐山市 did not; exported as a 汇总 return."""
    sub = [r if r[0] != "130000" else (*r[:2], None, *r[3:]) for r in ROWS if r[0].startswith("13")]
    returns = [_return("H1", "130000", _items(2)), _return("H2", "130100", _items(3))]
    subs = submissions([submission("H1", "130000", P, ON_TIME), submission("H2", "130100", P, ON_TIME)])
    office = summarize(concat(returns), subs, registry(sub), period=P, deadline=DEADLINE)
    return export_summary(office, folder / "河北汇总.xlsx", code="130000", reviewer="审核人")


def _office(root, *, extra: tuple = ()):
    """The office's home described in the module docstring, plus ``extra`` detail returns ``(sid, unit, at, items)``."""
    h = init_home(root / "home")
    csv = "\n".join(",".join([c, n, p or "", lv, cat, "联系人", "010", "是" if m else "否"]) for c, n, p, lv, cat, m in ROWS)
    (root / "r.csv").write_text(HEADER + csv + "\n", encoding="utf-8")
    h.import_registry(root / "r.csv", from_period="2015-01")
    h.set_deadline(P, DEADLINE)
    detail = [
        ("S1", "110000", ON_TIME, _items(4)),
        ("S2", "120000", LATE, _items(2, "推进中")),
        ("S3", "900001", ON_TIME, _items(1)),
        ("S4", "110199", ON_TIME, _items(5, "推进中")),  # overdue items: would put the village on the attention list
        *extra,
    ]
    arrivals = []
    for sid, unit, at, ledger in detail:
        src = root / f"{sid}.xlsx"
        src.write_bytes(sid.encode())
        arrivals.append(Arrival(h.store.archive(src), src.name, at, Report(file=src.name, unit=unit, period=P),
                                _return(sid, unit, ledger), report_type="本级"))  # fmt: skip
    src = root / "S5.xlsx"
    src.write_bytes(b"S5")
    rejected = Report(file=src.name, unit="140000", period=P)
    rejected.findings.append(make_finding("empty-ledger", sheet="整改台账"))
    arrivals.append(Arrival(h.store.archive(src), src.name, ON_TIME, rejected, None, report_type="本级"))
    hebei = _hebei_return(root)
    summary_report = Report(file=hebei.name, unit="130000", period=P)
    arrivals.append(Arrival(h.store.archive(hebei), hebei.name, ON_TIME, summary_report, None, report_type="汇总"))
    with h.lock():
        h.store.write_batch(P, arrivals, ingested_at=LATE)
    return h


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return _office(tmp_path_factory.mktemp("coverage"))


@pytest.fixture(scope="module")
def overlap_home(tmp_path_factory):
    """石家庄市 also sends its own detail return to the top (3 items, overdue: a later state than 河北省 counted)."""
    return _office(tmp_path_factory.mktemp("overlap"), extra=(("S6", "130100", ON_TIME, _items(3, "推进中")),))


def _cli(*args: str) -> dict:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_totals_equal_summarize_on_every_coverage_key(home):
    status = _cli("status", "--period", P, "--home", str(home.root), "--json")
    national = _cli("summarize", "--period", P, "--home", str(home.root), "--json")
    assert {k: status["totals"][k] for k in COVERAGE_KEYS} == {k: national[k] for k in COVERAGE_KEYS}
    # by hand: 5 expected one by one (北京 天津 山西 内蒙古 某部委) + 3 in 河北's return (2 reported, 1 missing)
    assert [national[k] for k in COVERAGE_KEYS[:5]] == [8, 5, 4, 1, 3]
    assert national["reporting_rate"] == pytest.approx(5 / 8)
    assert status["totals"]["units_covered"] == 3 and status["totals"]["units_rejected"] == 1
    assert [c["code"] for c in status["chase"]] == ["140000", "150000"]
    # the same for a subtree
    unit = _cli("status", "--period", P, "--home", str(home.root), "--json", "--unit", "130000")
    node = _cli("summarize", "--period", P, "--home", str(home.root), "--json", "--unit", "130000")
    assert {k: unit["totals"][k] for k in COVERAGE_KEYS} == {k: node[k] for k in COVERAGE_KEYS}
    assert (node["units_expected"], node["units_missing"], unit["chase"]) == (3, 1, [])


def test_status_breakdowns_equal_the_summary_by_category(home):
    status = compute_status(home, period=P)
    summary = summarize_home(home, period=P)
    by_cat = summary.by_category.filter(pl.col("units_expected") > 0).select("category", *COVERAGE_KEYS)
    mine = status.by("category").select("category", *COVERAGE_KEYS)
    assert sorted(mine.rows()) == sorted(by_cat.rows())
    states = dict(status.units.select("code", "state").iter_rows())
    assert states == {"110000": "on_time", "120000": "late", "130000": "covered", "130100": "covered",
                      "130200": "covered", "140000": "rejected", "150000": "not_received", "900001": "on_time"}  # fmt: skip
    text = CliRunner().invoke(main, ["status", "--period", P, "--home", str(home.root)]).output
    assert "62.5%（5/8）" in text and "另有1个未报单位在下级汇总报送范围内" in text and "河北省（未报1个）" in text


def test_report_text_tables_and_annex_agree(home, tmp_path):
    files = make_report(home, period=P, out_dir=tmp_path, formats=("html", "xlsx"))
    ctx = files.context
    figure = ctx.figures["units_missing"].value
    assert figure == 3 == ctx.missing_total
    assert [(m.code, m.units, m.covering) for m in ctx.missing] == [
        ("140000", 1, False), ("150000", 1, False), ("130000", 1, True)
    ]
    parser = _Figures()
    parser.feed(files.html.read_text(encoding="utf-8"))
    shown = dict(parser.found)
    assert shown["units_missing"] == "3" and shown["annex.units_missing"] == "3"
    page = files.html.read_text(encoding="utf-8")
    assert "尚有<span class=\"fig\" data-key=\"units_missing\">3</span>个单位未报送" in page
    assert "河北省（其汇总范围内未报1个）" in page
    sheet = openpyxl.load_workbook(files.xlsx)["未报送单位"]
    rows = [r for r in sheet.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert sum(r[8] for r in rows) == figure and len(rows) == 3


def test_unit_that_need_not_report_counts_in_no_total(home):
    summary = summarize_home(home, period=P)
    n = summary.national
    # 北京 4 + 天津 2 + 某部委 1 + 河北's return 5; the village's 5 are not counted
    assert n["items_total"] == 12
    assert "110199" not in summary.attention["code"].to_list()
    assert "110199" not in summary.overdue["unit"].to_list()
    assert any("非必报单位" in w and "110199" in w for w in summary.warnings)
    status = compute_status(home, period=P)
    assert status.unexpected["unit"].to_list() == ["110199"]
    assert "110199" not in status.units["code"].to_list()


def test_coverage_is_computed_once_per_view(home, monkeypatch):
    """status and the roll-up read one Coverage: a PeriodView computes it once."""
    import jobs.rollup.period as period_module

    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return compute_coverage(*args, **kwargs)

    monkeypatch.setattr(period_module, "compute_coverage", counting)
    view = load_period(home, P)
    status = compute_status(home, period=P, view=view)
    assert summarize(view.tables, view.submissions, view.registry, period=P, deadline=view.deadline,
                     coverage=view.coverage).coverage is status.coverage  # fmt: skip
    assert len(calls) == 1


def test_a_detail_return_inside_a_summary_return_is_set_aside_not_the_province(home):
    """The 汇总 return cannot be split: it counts for its whole subtree, the detail return inside is set aside."""
    view = load_period(home, P)
    detail = submissions([submission("X1", "130100", P, ON_TIME)])  # 石家庄市 sends its own return to the top
    subs = pl.concat([view.submissions, detail], how="diagonal_relaxed")
    cov = compute_coverage(view.registry, subs, period=P, deadline=DEADLINE, summary_rows=view.summary_rows)
    states = dict(cov.units.select("code", "state").iter_rows())
    assert (states["130000"], states["130100"], states["130200"]) == ("covered", "covered", "covered")
    assert cov.totals() == view.coverage.totals()  # as without the detail return: 河北省 is not dropped
    assert cov.totals()["units_expected"] == 8 and cov.totals()["units_covered"] == 3
    assert cov.set_aside.select("submission_id", "unit", "file_name", "covered_by").rows() == [
        ("X1", "130100", "X1.xlsx", "130000")
    ]
    assert "X1" not in cov.counted["submission_id"].to_list()
    assert any("石家庄市（130100，文件“X1.xlsx”）的本级报表未计入合计" in w and "河北省（130000）" in w
               for w in cov.warnings)  # fmt: skip


def test_summary_return_plus_detail_inside_it_every_view_agrees_and_names_it(home, overlap_home, tmp_path):
    """Issue 16 item 7 end to end: totals as without the detail return; status, summarize and the report name it."""
    root = str(overlap_home.root)
    note = "石家庄市（130100，文件“S6.xlsx”）的本级报表未计入合计"
    national = _cli("summarize", "--period", P, "--home", root, "--json")
    before = _cli("summarize", "--period", P, "--home", str(home.root), "--json")
    assert {k: v for k, v in national.items() if k != "mom"} == {k: v for k, v in before.items() if k != "mom"}
    assert [national[k] for k in COVERAGE_KEYS[:5]] == [8, 5, 4, 1, 3] and national["items_total"] == 12
    status = _cli("status", "--period", P, "--home", root, "--json")
    assert {k: status["totals"][k] for k in COVERAGE_KEYS} == {k: national[k] for k in COVERAGE_KEYS}
    assert status["set_aside"] == [{"unit": "130100", "name": "石家庄市", "file_name": "S6.xlsx",
                                    "covered_by": "130000", "summary_file": "河北汇总.xlsx"}]  # fmt: skip
    text = CliRunner().invoke(main, ["status", "--period", P, "--home", root]).output
    assert note in text and "河北省（130000）的汇总报表“河北汇总.xlsx”" in text
    assert "130100" not in [c["code"] for c in status["chase"]]
    summarized = CliRunner().invoke(main, ["summarize", "--period", P, "--home", root])
    assert summarized.exit_code == 0 and note in summarized.stderr
    files = make_report(overlap_home, period=P, out_dir=tmp_path, formats=("html", "xlsx"))
    assert any(note in n for n in files.context.notes)
    assert note in files.html.read_text(encoding="utf-8")
    sheet = openpyxl.load_workbook(files.xlsx)["说明"]
    assert any(isinstance(c, str) and note in c for row in sheet.iter_rows(values_only=True) for c in row)
    # the set-aside return's items are in no list either (its overdue items would otherwise show up)
    summary = summarize_home(overlap_home, period=P)
    assert "130100" not in summary.overdue["unit"].to_list()
    assert "130100" not in summary.attention["code"].to_list()
