"""Federated roll-up: 汇总 returns written by lower offices fold in as the subtrees they cover."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest
from openpyxl import load_workbook
from polars.testing import assert_frame_equal

from jobs.rollup.federation import SUMMARY_TABLE
from jobs.rollup.summary import summarize
from jobs.rollup.summary_return import export_summary, read_summary_return
from jobs.rollup.tree import closure
from jobs.tooling.synthetic import Synthetic, synthetic

PUBLISHED = {"revision": 1, "published_at": "2015-03-05T10:00:00"}


def _subtree(syn: Synthetic, code: str) -> pl.Series:
    tree = closure(syn.registry)
    return tree.filter(pl.col("ancestor") == code)["descendant"]


def _run(syn: Synthetic, units: pl.Series | None, *, registry: pl.DataFrame | None = None, extra=None, extra_subs=None):
    """Summarize only the detail returns of ``units`` (all if None), plus extra summary rows."""
    def keep(frame):
        return frame if units is None else frame.filter(pl.col("unit").is_in(units.implode()))

    tables = {k: keep(v) for k, v in syn.tables.items()}
    subs = keep(syn.submissions)
    if extra is not None:
        tables[SUMMARY_TABLE] = extra
        subs = pl.concat([subs, extra_subs], how="diagonal_relaxed")
    return summarize(
        tables, subs, registry if registry is not None else syn.registry, period=syn.period,
        deadline=syn.deadline, history_tables={"ledger": keep(syn.history["ledger"])},
    )


def _office_return(syn: Synthetic, code: str, folder) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A lower office's run over its own subtree, exported and read back as a 汇总 return."""
    below = _subtree(syn, code)
    registry = syn.registry.filter(pl.col("code").is_in(below.implode())).with_columns(
        pl.when(pl.col("code") == code).then(None).otherwise(pl.col("parent")).alias("parent")
    )
    office = _run(syn, below, registry=registry)
    path = export_summary(office, folder / f"{code}.xlsx", code=code, reviewer="审核人")
    rows, findings = read_summary_return(path, registry=syn.registry, period=syn.period)
    assert [f.code for f in findings if f.severity == "error"] == []
    sid = f"{syn.period}-SUM-{code}"
    sub = pl.DataFrame(
        {"submission_id": [sid], "unit": [code], "period": [syn.period], "received_at": [datetime(2015, 2, 27)],
         "accepted": [True], "superseded_by": [None], "report_type": ["汇总"], "version": [1]},
        schema_overrides={"received_at": pl.Datetime("us"), "superseded_by": pl.Utf8},
    )  # fmt: skip
    return rows.with_columns(pl.lit(sid).alias("submission_id")), sub


def _assert_same(a, b):
    # a 汇总 return carries totals only: the units it covers have no own figures to grade,
    # so the federated attention list holds the units outside it (a subset of the one-run list)
    fed, one = dict(a.national), dict(b.national)
    fed_steps, one_steps = fed.pop("attention"), one.pop("attention")
    assert fed == one
    assert all(set(fed_steps[s]) <= set(one_steps[s]) for s in one_steps)
    assert_frame_equal(a.by_category.sort("category"), b.by_category.sort("category"))


@pytest.fixture(scope="module", params=[0, 1, 2])
def sample(request):
    return synthetic(provinces=4, fanout=(2, 2, 2), central=3, seed=request.param)


@pytest.fixture(scope="module")
def province_returns(sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp("federation")
    provinces = sample.registry.filter(pl.col("parent") == "000000", pl.col("category") == "地方")["code"]
    return {p: _office_return(sample, p, folder) for p in provinces}


def _top(sample, province_returns, detail_units):
    rows = pl.concat([r for r, _ in province_returns.values()])
    subs = pl.concat([s for _, s in province_returns.values()])
    return _run(sample, detail_units, extra=rows, extra_subs=subs)


def _not_in_provinces(sample, provinces):
    inside = pl.concat([_subtree(sample, p) for p in provinces])
    return sample.registry.filter(~pl.col("code").is_in(inside.implode()))["code"]


def test_federated_equals_one_run(sample, province_returns):
    one_run = _run(sample, None)
    central = _not_in_provinces(sample, province_returns)
    top = _top(sample, province_returns, central)
    _assert_same(top, one_run)
    assert top.national["items_total"] > 0 and top.national["units_expected"] > 0
    # every province node carries the same subtree figures both ways
    keys = [k for k in one_run.nodes.columns if not k.startswith("own.") and k != "covered_by"]
    codes = list(province_returns)
    pick = lambda s: s.nodes.filter(pl.col("code").is_in(codes)).select(keys).sort("code")  # noqa: E731
    assert_frame_equal(pick(top), pick(one_run))
    covered = top.nodes.filter(pl.col("code") == codes[0]).row(0, named=True)
    assert covered["covered_by"] == codes[0]
    # its own figures are unknown at the top (not "missing"), its subtree comes from the 汇总 return
    assert covered["own.units_missing"] is None and covered["own.items_total"] is None
    assert top.nodes.filter(pl.col("covered_by").is_not_null())["own.units_missing"].null_count() == len(
        top.nodes.filter(pl.col("covered_by").is_not_null())
    )
    # synthetic units that need not report may send returns: named, counted nowhere
    assert [w for w in top.warnings if "非必报单位" not in w] == []


def test_overlap_is_counted_once_and_named(sample, province_returns):
    """The top holds every detail return *and* the provinces' 汇总 returns: each subtree counted once."""
    one_run = _run(sample, None)
    top = _top(sample, province_returns, None)
    _assert_same(top, one_run)
    overlapping = [w for w in top.warnings if "本级报表未计入合计" in w]
    assert len(overlapping) == len(province_returns)  # one note per 汇总 return, naming what it sets aside
    first = sorted(province_returns)[0]
    assert any(f"（{first}）的汇总报表" in w for w in overlapping)
    inside = pl.concat([_subtree(sample, p) for p in province_returns])
    counted_inside = top.coverage.set_aside["unit"].sort().to_list()
    assert counted_inside and set(counted_inside) <= set(inside.to_list())
    assert top.coverage.counted.filter(pl.col("unit").is_in(inside.implode())).height == 0


def test_summary_return_and_a_detail_return_inside_it_count_the_subtree_once(sample, province_returns):
    """Issue 16 item 7: a province's 汇总 return plus one city's detail returns: the province is not dropped.

    The 汇总 return holds only subtree totals, so it counts for the whole
    province and the city's detail returns are set aside, each named.
    """
    first = sorted(province_returns)[0]
    city = f"{first}.0"
    detail = pl.concat([_not_in_provinces(sample, province_returns), _subtree(sample, city)])
    top = _top(sample, province_returns, detail)
    _assert_same(top, _run(sample, None))  # national totals equal the one-run figures
    node = top.nodes.filter(pl.col("code") == first).row(0, named=True)
    one_run = _run(sample, None).nodes.filter(pl.col("code") == first).row(0, named=True)
    assert node["covered_by"] == first
    assert (node["items_total"], node["units_expected"]) == (one_run["items_total"], one_run["units_expected"])
    aside = top.coverage.set_aside
    # every expected unit of the city that reported is set aside (and counted nowhere else), none other
    city_units = top.coverage.units.filter(pl.col("code").is_in(_subtree(sample, city).implode()), pl.col("must_report"))
    reported = sample.submissions.filter(pl.col("unit").is_in(city_units["code"].implode()), pl.col("accepted"))
    assert aside.height > 0 and set(aside["unit"]) == set(reported["unit"])
    assert set(aside["covered_by"]) == {first}
    assert top.coverage.counted.join(aside, on="unit", how="semi").height == 0
    notes = [w for w in top.warnings if "本级报表未计入合计" in w]
    assert len(notes) == 1 and f"（{first}）的汇总报表" in notes[0]
    shown = aside.head(20)["unit"].to_list()
    assert all(f"（{u}，文件" in notes[0] for u in shown)


def test_nested_summaries_use_the_outer_one(sample, province_returns, tmp_path):
    first = sorted(province_returns)[0]
    city_rows, city_sub = _office_return(sample, f"{first}.0", tmp_path)
    rows = pl.concat([*(r for r, _ in province_returns.values()), city_rows])
    subs = pl.concat([*(s for _, s in province_returns.values()), city_sub])
    top = _run(sample, _not_in_provinces(sample, province_returns), extra=rows, extra_subs=subs)
    _assert_same(top, _run(sample, None))
    assert any("已包含在" in w and f"{first}.0" in w for w in top.warnings)


@pytest.fixture
def exported(sample, province_returns, tmp_path):
    one_run = _run(sample, None)
    return export_summary(one_run, tmp_path / "nation.xlsx", reviewer="审核人", published=PUBLISHED), sample


def _edit(path, sheet, cell, value):
    book = load_workbook(path)
    book[sheet][cell] = value
    book.save(path)


def test_read_summary_return_findings(exported):
    path, sample = exported
    rows, findings = read_summary_return(path, registry=sample.registry, period=sample.period)
    assert findings == []
    assert rows.filter(pl.col("key") == "items_total")["value"].sum() > 0

    _edit(path, "汇总指标", "D7", 999999)  # row 7 is items_total: 地方 no longer sums to 合计
    _edit(path, "基本信息", "B4", "2015-13")
    rows, findings = read_summary_return(path, registry=sample.registry.filter(pl.col("code") != "000000"), period=sample.period)
    codes = sorted({f.code for f in findings})
    assert codes == ["count-inconsistent", "unknown-unit", "wrong-period"]
    assert all(f.message for f in findings)


def test_read_summary_return_wrong_workbook(tmp_path):
    from openpyxl import Workbook

    path = tmp_path / "plain.xlsx"
    Workbook().save(path)
    rows, findings = read_summary_return(path)
    assert rows.height == 0
    assert {f.code for f in findings} == {"missing-sheet"}


def test_mixed_depth_federation(sample, province_returns, tmp_path):
    """Cities of one province report through 汇总 returns, the province itself in detail, other provinces as 汇总."""
    first = sorted(province_returns)[0]
    cities = sample.registry.filter(pl.col("parent") == first)["code"].to_list()
    parts = [_office_return(sample, c, tmp_path) for c in cities]
    parts += [province_returns[p] for p in sorted(province_returns)[1:]]
    rows = pl.concat([r for r, _ in parts])
    subs = pl.concat([s for _, s in parts])
    detail = pl.concat([_not_in_provinces(sample, province_returns), pl.Series([first])])
    top = _run(sample, detail, extra=rows, extra_subs=subs)
    _assert_same(top, _run(sample, None))
    # synthetic units that need not report may send returns: named, counted nowhere
    assert [w for w in top.warnings if "非必报单位" not in w] == []
