"""The report built from a real roll-up ``Summary``: every node's page and tables match its figures."""

from __future__ import annotations

import openpyxl
import polars as pl
import pytest

from jobs.report.build import UnknownUnit, build_context
from jobs.report.html import render_html
from jobs.report.indicators import BREAKDOWN_KEYS, INDICATORS
from jobs.report.xlsx import write_xlsx
from jobs.rollup.summary import node_json, summarize
from tests.test_report import _Figures, _parse
from tests.test_rollup import (
    DEADLINE,
    HISTORY,
    REGISTRY,
    RETURNS,
    SUBMISSIONS,
    THRESHOLDS,
    P,
    concat,
)


@pytest.fixture(scope="module")
def summary():
    return summarize(
        concat(RETURNS), SUBMISSIONS, REGISTRY, period=P, deadline=DEADLINE,
        history_tables=HISTORY, thresholds=THRESHOLDS,
    )


def _close(shown, expected, key):
    if expected is None:
        assert shown is None, key
    elif key.endswith("rate"):
        assert shown == pytest.approx(expected, abs=0.0005 + 1e-9), key
    else:
        assert shown == expected, key


def _check_page(summary, code):
    node = node_json(summary, code)
    nodes = {r["code"]: r for r in summary.nodes.iter_rows(named=True)}
    ctx = build_context(summary, deadline=DEADLINE, unit=code, charts=False)
    parser = _Figures()
    parser.feed(render_html(ctx))
    checked = 0
    for key, text in parser.found:
        parts = key.split(".")
        shown = _parse(text)
        if parts[0] in INDICATORS:
            _close(shown, node[parts[0]], key)
        elif parts[0] == "task":
            _close(shown, node["tasks"][parts[1]][parts[2]], key)
        elif parts[0] == "unit":
            assert nodes[parts[1]]["parent"] == code
            _close(shown, nodes[parts[1]][parts[2]], key)
        elif parts[0] == "accountability":
            name = next(c.label for c in ctx.accountability if c.key == parts[1])
            _close(shown, node["accountability"][name], key)
        elif parts[0] in ("items_by_category", "items_by_source", "institutions_by_kind"):
            _close(shown, node[parts[0]][parts[1]], key)
        elif parts[0] in ("institutions", "members") and parts[1] != "total":
            _close(shown, node[f"{parts[0]}_by_status"][parts[1]], key)
        else:
            continue
        checked += 1
    return ctx, checked


def test_every_node_report_matches_its_json(summary):
    for code in summary.nodes["code"].to_list():
        ctx, checked = _check_page(summary, code)
        assert checked >= len(INDICATORS) - 3 + 21 * 4 + 3, code
        assert ctx.institutions_by_kind, "the roll-up gives institutions by 制度类别"
        assert ctx.scope_code == code


def test_national_breakdown_and_annex(summary):
    ctx = build_context(summary, deadline=DEADLINE, charts=False)
    assert ctx.is_national and ctx.title == "关于2015年2月整改落实情况“回头看”的汇总报告"
    assert [r.code for r in ctx.breakdown] == ["110000", "120000", "200001"]
    assert {r.name for r in ctx.by_category} == set(summary.by_category["category"].to_list())
    assert {"地方", "中央和国家机关"} <= {r.name for r in ctx.by_category}
    by_cat = {r["category"]: r for r in summary.by_category.iter_rows(named=True)}
    for row in ctx.by_category:
        for key in BREAKDOWN_KEYS:
            assert row.values[key] == by_cat[row.code][key], (row.code, key)
    # 东城区 must report and has not: in the annex with its parent's name
    assert [(m.code, m.parent) for m in ctx.missing] == [("110101", "北京市辖区")]
    assert {a.code for a in ctx.attention} == set(summary.attention["code"].to_list())


def test_unit_report_restricts_to_subtree(summary):
    ctx = build_context(summary, deadline=DEADLINE, unit="110000", charts=False)
    assert ctx.title == "关于北京市2015年2月整改落实情况“回头看”的汇总报告"
    assert [r.code for r in ctx.breakdown] == ["110100"]
    assert {a.code for a in ctx.attention} <= {"110000", "110100", "110101"}
    assert [m.code for m in ctx.missing] == ["110101"]
    ctx = build_context(summary, deadline=DEADLINE, unit="120000", charts=False)
    assert ctx.missing == () and ctx.breakdown == ()


def test_unknown_unit_is_a_chinese_error(summary):
    with pytest.raises(UnknownUnit, match="不在.*组织机构名册"):
        build_context(summary, deadline=DEADLINE, unit="999999", charts=False)


def test_month_over_month_from_previous_summary(summary):
    previous = summarize(
        concat(RETURNS), SUBMISSIONS.with_columns(pl.lit("2015-01").alias("period")), REGISTRY,
        period="2015-01", deadline=DEADLINE, thresholds=THRESHOLDS,
    )
    ctx = build_context(
        summary, deadline=DEADLINE, previous=previous,
        history=[("2015-01", node_json(previous, previous.root))], charts=False,
    )
    assert ctx.previous_period == "2015-01"
    rows = {c.key: c for c in ctx.changes}
    before = node_json(previous, previous.root)
    assert rows["items_total"].previous == before["items_total"]
    assert rows["items_total"].change == summary.national["items_total"] - before["items_total"]
    assert [p for p, _ in ctx.trend] == ["2015-01", "2015-02"]


def test_xlsx_of_a_summary_parses_back(summary, tmp_path):
    ctx = build_context(summary, deadline=DEADLINE, charts=False)
    wb = openpyxl.load_workbook(write_xlsx(ctx, tmp_path / "s.xlsx"))
    ws = wb["主要指标"]
    values = {ws.cell(r, 2).value: ws.cell(r, 4).value for r in range(4, ws.max_row + 1)}
    for key, ind in INDICATORS.items():
        expected = summary.national[key]
        assert values[ind.label] == (pytest.approx(expected) if expected is not None else None), key
    ws = wb["未报送单位"]
    assert ws.cell(4, 2).value == "110101" and ws.cell(4, 6).value in (None, "")
