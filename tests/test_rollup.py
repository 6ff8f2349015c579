"""The roll-up on a hand-built registry and returns; every expected figure is counted by hand below."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from jobs.rollup.attention import Thresholds
from jobs.rollup.summary import node_json, summarize
from tests.test_rollup_frames import (
    concat,
    item,
    registry,
    submission,
    submissions,
    table,
)

P = "2015-02"
DEADLINE = datetime(2015, 2, 28, 23, 59, 59)
ON_TIME = datetime(2015, 2, 20, 10, 0)
LATE = datetime(2015, 3, 2, 9, 0)
D = date

REGISTRY = registry(
    [
        ("000000", "全国", None, "全国", "地方", False),
        ("110000", "北京市", "000000", "省级", "地方", True),
        ("110100", "北京市辖区", "110000", "市级", "地方", True),
        ("110101", "东城区", "110100", "县级", "地方", True),  # never reports
        ("120000", "天津市", "000000", "省级", "地方", True),  # reports late
        ("200001", "某部", "000000", "省级", "中央和国家机关", True),  # rejected twice, then accepted
        ("200101", "某部直属单位", "200001", "市级", "中央和国家机关", False),  # reports though not required
    ]
)


def _return(sid: str, unit: str, ledger, *, tasks=(), institutions=(), accountability=None, members=(), period=P):
    acc = {"talks": 0, "admonitions": 0, "liable_persons": 0, "liable_leaders": 0, "exposed_cases": 0, "redo_units": 0}
    acc.update(accountability or {})
    return {
        "info": table("info", sid, unit, period, [{"unit_code": unit, "period": period, "report_type": "本级"}]),
        "ledger": table("ledger", sid, unit, period, list(ledger)),
        "tasks": table("tasks", sid, unit, period, [dict(zip(("task_no", "found", "fixed", "cases"), t, strict=True)) for t in tasks]),
        "institutions": table("institutions", sid, unit, period, [{"title": "制度", "kind": k, "state": s} for k, s in institutions]),
        "accountability": table("accountability", sid, unit, period, [acc]),
        "members": table("members", sid, unit, period, [{"member": f"成员{i}", "state": s} for i, s in enumerate(members)]),
    }


def _noise(sid: str, unit: str, period: str = P) -> dict[str, pl.DataFrame]:
    """A return whose rows must count nowhere (rejected, superseded or unknown unit)."""
    return _return(
        sid,
        unit,
        [item(i, "已完成", "是", "满意", "查摆问题", "形式主义", D(2015, 1, 1)) for i in range(1, 11)],
        tasks=[(1, 100, 100, 100)],
        institutions=[("新建", "已出台")] * 5,
        accountability={"talks": 100},
        members=["已落实"] * 5,
        period=period,
    )


RETURNS = [
    _return(
        "S1",
        "110000",
        [
            item(1, "已完成", "是", "满意", "查摆问题", "形式主义", D(2015, 1, 31)),
            item(2, "推进中", "否", "未评价", "群众反映", "官僚主义", D(2015, 2, 10)),  # overdue
            item(3, "效果不理想", "否", "不满意", "回头看新发现", "享乐主义", D(2015, 3, 31)),
            item(4, "已完成", "否", "不满意", "督导指出", "奢靡之风", D(2015, 2, 28)),
        ],
        tasks=[(1, 5, 3, 1), (2, 2, 2, 0)],
        institutions=[("新建", "已出台"), ("修订", "起草中")],
        accountability={"talks": 2, "admonitions": 1},
        members=["已落实", "落实中"],
    ),
    _return(
        "S2",
        "110100",
        [
            item(1, "已完成", "是", "基本满意", "上下联动", "其他", D(2015, 1, 15)),
            item(2, "未启动", "否", "未评价", "查摆问题", "形式主义", D(2015, 2, 27)),  # overdue
        ],
        members=["未落实"],
    ),
    _noise("S2old", "110100"),  # superseded by S2
    _return("S3", "120000", [item(1, "推进中", "否", "满意", "查摆问题", "形式主义", D(2015, 2, 28))],
            institutions=[("承接中央", "已出台")]),
    _noise("S4", "200001"),  # rejected
    _noise("S6", "200001"),  # rejected
    _return(
        "S5",
        "200001",
        [
            item(1, "已完成", "是", "满意", "查摆问题", "官僚主义", D(2015, 1, 10)),
            item(2, "已完成", "是", "满意", "群众反映", "官僚主义", D(2015, 1, 10)),
            item(3, "已完成", "是", "满意", "查摆问题", "其他", D(2015, 1, 10)),
        ],
        tasks=[(1, 10, 1, 2)],
        accountability={"talks": 3, "exposed_cases": 1},
        members=["已落实"],
    ),
    _return("S7", "200101", [item(1, "推进中", "否", "未评价", "回头看新发现", "其他", D(2015, 1, 1))]),  # overdue
    _noise("S8", "999999"),  # unknown unit
    _noise("S9", "120000", "2015-01"),  # another period's return of 120000
]

SUBMISSIONS = submissions(
    [
        submission("S1", "110000", P, ON_TIME),
        submission("S2old", "110100", P, ON_TIME, superseded_by="S2"),
        submission("S2", "110100", P, ON_TIME),
        submission("S3", "120000", P, LATE),
        submission("S4", "200001", P, ON_TIME, accepted=False),
        submission("S6", "200001", P, ON_TIME, accepted=False),
        submission("S5", "200001", P, ON_TIME),
        submission("S7", "200101", P, ON_TIME),
        submission("S8", "999999", P, ON_TIME),
        submission("S9", "120000", "2015-01", ON_TIME),
    ]
)

# 2015-01: 110000's item 2 was closed then (now open again: rebound); its item 3
# was closed under another description (a different item); 110100's item 1 stays closed.
HISTORY = {
    "ledger": pl.concat(
        [
            table("ledger", "H1", "110000", "2015-01", [
                item(2, "已完成", "是", "满意", "群众反映", "官僚主义", D(2015, 2, 10)),
                item(3, "已完成", "是", "满意", "回头看新发现", "享乐主义", D(2015, 3, 31), problem="另一问题"),
            ]),
            table("ledger", "H2", "110100", "2015-01", [item(1, "已完成", "是", "满意", "上下联动", "其他", D(2015, 1, 15))]),
            # a later period never makes a rebound
            table("ledger", "H3", "120000", "2015-03", [item(1, "已完成", "是", "满意", "查摆问题", "形式主义", D(2015, 2, 28))]),
        ]
    )
}

THRESHOLDS = Thresholds(completion_rate=0.6, satisfaction_rate=0.8, rejections=2, overdue_items=1)


@pytest.fixture(scope="module")
def summary():
    return summarize(
        concat(RETURNS), SUBMISSIONS, REGISTRY, period=P, deadline=DEADLINE,
        history_tables=HISTORY, thresholds=THRESHOLDS,
    )


def _node(summary, code):
    return summary.nodes.filter(pl.col("code") == code).row(0, named=True)


def test_national_counts_by_hand(summary):
    n = summary.national
    # expected: 110000 110100 110101 120000 200001 (root and 200101 need not report)
    assert (n["units_expected"], n["units_reported"], n["units_on_time"], n["units_late"], n["units_missing"]) == (5, 4, 3, 1, 1)
    assert n["reporting_rate"] == pytest.approx(4 / 5)
    assert n["timeliness_rate"] == pytest.approx(3 / 5)
    # items: S1 4 + S2 2 + S3 1 + S5 3 (noise returns and 200101, which need not report, count nowhere)
    assert n["items_total"] == 10
    assert (n["items_done"], n["items_in_progress"], n["items_not_started"], n["items_ineffective"]) == (6, 2, 1, 1)
    assert (n["items_closed"], n["items_evaluated"], n["items_satisfied"], n["items_new"]) == (5, 8, 6, 1)
    assert (n["items_overdue"], n["items_rebound"]) == (2, 1)
    assert n["completion_rate"] == pytest.approx(6 / 10)
    assert n["closure_rate"] == pytest.approx(5 / 10)
    assert n["satisfaction_rate"] == pytest.approx(6 / 8)
    assert n["items_by_category"] == {"形式主义": 3, "官僚主义": 3, "享乐主义": 1, "奢靡之风": 1, "其他": 2}
    assert n["items_by_source"] == {"查摆问题": 5, "群众反映": 2, "督导指出": 1, "上下联动": 1, "回头看新发现": 1}
    assert n["tasks"]["1"] == {"found": 15, "fixed": 4, "cases": 3, "rate": pytest.approx(4 / 15)}
    assert n["tasks"]["2"] == {"found": 2, "fixed": 2, "cases": 0, "rate": 1.0}
    assert n["tasks"]["3"] == {"found": 0, "fixed": 0, "cases": 0, "rate": None}
    assert sorted(n["tasks"], key=int) == [str(i) for i in range(1, 22)]
    assert n["institutions_by_status"] == {"已出台": 2, "起草中": 1, "计划中": 0}
    assert n["institutions_by_kind"] == {"承接中央": 1, "新建": 1, "修订": 1}
    assert n["accountability"] == {
        "约谈提醒（人次）": 5, "诫勉批评（人次）": 1, "追究当事人责任（人）": 0,
        "追究领导责任（人）": 0, "通报曝光典型案例（件）": 1, "责令回炉补课（个）": 0,
    }
    assert n["members_total"] == 4
    assert n["members_by_status"] == {"已落实": 2, "落实中": 1, "未落实": 1}
    assert "应报5个单位，已报4个" in n["coverage_note"]


def test_rates_are_from_sums_not_averages(summary):
    n = summary.national
    # per-unit completion rates .5 .5 0 1 average to .5; the sum rate is 6/10
    assert n["completion_rate"] != pytest.approx(0.5)
    # task 1: unit rates 3/5 and 1/10 average to .35; the sum rate is 4/15
    assert n["tasks"]["1"]["rate"] != pytest.approx(0.35)


def test_subtree_and_own_figures(summary):
    bj = _node(summary, "110000")
    assert (bj["units_expected"], bj["units_reported"], bj["units_on_time"], bj["units_missing"]) == (3, 2, 2, 1)
    assert (bj["items_total"], bj["items_done"], bj["items_closed"], bj["items_overdue"]) == (6, 3, 2, 2)
    assert bj["completion_rate"] == pytest.approx(3 / 6)
    assert bj["satisfaction_rate"] == pytest.approx(2 / 4)
    assert (bj["own.items_total"], bj["own.units_expected"], bj["own.items_rebound"]) == (4, 1, 1)
    assert bj["own.satisfaction_rate"] == pytest.approx(1 / 3)


def test_missing_unit_contributes_nothing_and_lowers_coverage(summary):
    dc = _node(summary, "110101")
    assert (dc["units_expected"], dc["units_reported"], dc["units_missing"], dc["items_total"]) == (1, 0, 1, 0)
    assert dc["reporting_rate"] == 0.0
    assert dc["completion_rate"] is None  # no items: null, not 0
    city = _node(summary, "110100")
    assert city["reporting_rate"] == pytest.approx(1 / 2)


def test_unit_not_required_counts_in_no_total(summary):
    """是否报送=否: its accepted return is stored and named in a warning, and counts nowhere (spec)."""
    sub = _node(summary, "200101")
    assert (sub["units_expected"], sub["units_reported"], sub["items_total"], sub["items_overdue"]) == (0, 0, 0, 0)
    assert sub["reporting_rate"] is None
    ministry = _node(summary, "200001")
    assert (ministry["units_expected"], ministry["units_reported"], ministry["items_total"], ministry["items_done"]) == (1, 1, 3, 3)
    assert "200101" not in summary.attention["code"].to_list()
    assert "200101" not in summary.overdue["unit"].to_list()
    assert any("非必报单位" in w and "200101" in w for w in summary.warnings)
    assert ministry["reporting_rate"] == 1.0


def test_by_category(summary):
    cats = summary.by_category.select("category", "units_expected", "units_reported", "items_total", "items_done", "completion_rate")
    expected = pl.DataFrame(
        {
            # every 类别 of the schema is listed, in schema order, even when empty
            "category": ["地方", "中央和国家机关", "中管金融企业", "中管企业", "中管高校"],
            "units_expected": [4, 1, 0, 0, 0],
            "units_reported": [3, 1, 0, 0, 0],
            "items_total": [7, 3, 0, 0, 0],
            "items_done": [3, 3, 0, 0, 0],
            "completion_rate": [3 / 7, 3 / 3, None, None, None],
        },
        schema_overrides={"units_expected": pl.Int64, "units_reported": pl.Int64, "items_total": pl.Int64, "items_done": pl.Int64},
    )
    assert_frame_equal(cats, expected)


def test_overdue_and_rebound_lists(summary):
    assert sorted(summary.overdue.select("unit", "seq").rows()) == [("110000", 2), ("110100", 2)]
    assert summary.overdue.filter(pl.col("unit") == "110000")["days_overdue"].to_list() == [18]
    assert summary.rebound.select("unit", "seq", "problem", "closed_in").rows() == [("110000", 2, "问题2", "2015-01")]


def test_attention_list(summary):
    reasons = dict(summary.attention.select("code", "reason").iter_rows())
    assert sorted(reasons) == ["110000", "110100", "120000", "200001"]
    assert reasons["110000"] == (  # the most serious step's reasons first
        "有1项已销号问题反弹回潮（序号2）；整改完成率50.0%，低于60%；群众满意率33.3%，低于80%；"
        "有1项问题超过整改时限仍未完成（序号2）"
    )
    steps = dict(summary.attention.select("code", "step").iter_rows())
    assert steps == {"110000": "追责问责", "110100": "约谈提醒", "120000": "约谈提醒", "200001": "约谈提醒"}
    assert reasons["200001"] == "本期报表被退回2次"
    assert reasons["120000"].startswith("整改完成率0.0%")


def test_warnings_name_unknown_units(summary):
    assert any("999999" in w for w in summary.warnings)


def test_node_json_for_a_unit(summary):
    out = node_json(summary, "110000")
    assert (out["unit"], out["items_total"], out["units_expected"]) == ("110000", 6, 3)
    with pytest.raises(KeyError):
        node_json(summary, "nope")


def test_month_over_month_against_previous(summary):
    again = summarize(
        concat(RETURNS), SUBMISSIONS, REGISTRY, period=P, deadline=DEADLINE,
        history_tables=HISTORY, thresholds=THRESHOLDS, previous=summary,
    )
    assert again.national["mom"]["completion_rate"] == 0.0
    assert summary.national["mom"] == {}


def test_empty_period_gives_nulls_not_errors():
    empty = summarize({}, SUBMISSIONS.clear(), REGISTRY, period=P, deadline=DEADLINE)
    n = empty.national
    assert (n["units_expected"], n["units_reported"], n["items_total"]) == (5, 0, 0)
    assert n["reporting_rate"] == 0.0
    assert n["completion_rate"] is None and n["satisfaction_rate"] is None


def test_level_by_level_equals_closure_join():
    """The roll-up's level-by-level sums equal the plain join over the ancestor table."""
    from jobs.rollup.tree import closure, roll_up
    from jobs.tooling.synthetic import synthetic

    syn = synthetic(provinces=3, fanout=(2, 3, 2), central=4, seed=5)
    keys = ["a", "b"]
    contrib = syn.registry.select("code").with_columns(
        pl.int_range(pl.len()).cast(pl.Int64).alias("a"), (pl.int_range(pl.len()) % 7).cast(pl.Int64).alias("b")
    )
    contrib = pl.concat([contrib, contrib.head(10)])  # several rows for some nodes
    tree = closure(syn.registry)
    by_join = (
        tree.join(contrib, left_on="descendant", right_on="code").group_by("ancestor").agg(pl.col(keys).sum())
        .rename({"ancestor": "code"})
    )  # fmt: skip
    assert_frame_equal(roll_up(syn.registry, tree, contrib, keys), by_join, check_row_order=False)


SPEC_KEYS = (
    "units_expected units_reported units_on_time units_late units_missing reporting_rate timeliness_rate "
    "items_total items_done items_in_progress items_not_started items_ineffective items_overdue items_closed "
    "items_evaluated items_satisfied items_new items_rebound completion_rate closure_rate satisfaction_rate "
    "items_by_category items_by_source tasks institutions_by_status accountability members_total members_by_status"
).split()


def test_json_has_every_spec_key(summary):
    import json

    assert [k for k in SPEC_KEYS if k not in summary.national] == []
    assert all(set(v) >= {"found", "fixed", "cases"} for v in summary.national["tasks"].values())
    for key in ("reporting_rate", "timeliness_rate", "completion_rate", "closure_rate", "satisfaction_rate"):
        assert summary.national[key] is None or 0.0 <= summary.national[key] <= 1.0
    json.dumps(summary.national, ensure_ascii=False)  # plain JSON types only


def test_correction_after_deadline_keeps_a_unit_on_time():
    """Same rule as `rectify status`: the first accepted arrival decides timeliness."""
    late_fix = submissions(
        [
            submission("S1", "110000", P, ON_TIME, superseded_by="S1b"),
            submission("S1b", "110000", P, LATE),
            submission("S3", "120000", P, LATE),
        ]
    )
    rows = concat([
        RETURNS[0] | {},
        {k: v.with_columns(pl.lit("S1b").alias("submission_id")) for k, v in RETURNS[0].items()},
        RETURNS[3],
    ])
    result = summarize(rows, late_fix, REGISTRY, period=P, deadline=DEADLINE, thresholds=THRESHOLDS)
    beijing = _node(result, "110000")
    assert (beijing["own.units_on_time"], beijing["own.units_late"]) == (1, 0)
    assert result.national["units_on_time"] == 1
    assert result.national["units_late"] == 1  # 120000's only return was late
    assert result.national["items_total"] == 4 + 1  # the corrected return counts once
