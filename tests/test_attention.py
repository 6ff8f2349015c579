"""Graded accountability: each rule puts a unit at its step, with its reasons; the year's ineligible list."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from jobs.office.config import Accountability, Config, ConfigError, Thresholds
from jobs.rollup.attention import (
    STEPS,
    attention_json,
    finding_marks,
    graded_attention,
    ineligible_units,
    rejection_counts,
)
from jobs.rollup.vocab import load_vocab

LEDGER = "整改台账"


def _nodes(*rows: tuple[str, int, float | None, float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"code": c, "name": f"单位{c}", "level": "省级", "category": "地方", "own.items_total": n,
          "own.completion_rate": comp, "own.satisfaction_rate": sat} for c, n, comp, sat in rows],
        schema={"code": pl.Utf8, "name": pl.Utf8, "level": pl.Utf8, "category": pl.Utf8, "own.items_total": pl.Int64,
                "own.completion_rate": pl.Float64, "own.satisfaction_rate": pl.Float64},
    )  # fmt: skip


def _marks(*rows: tuple[str, str, int | None, bool]) -> pl.DataFrame:
    schema = {"unit": pl.Utf8, "code": pl.Utf8, "seq": pl.Int64, "explained": pl.Boolean}
    return pl.DataFrame([dict(zip(schema, r, strict=True)) for r in rows], schema=schema)


NO_REJECTIONS = pl.DataFrame(schema={"unit": pl.Utf8, "rejections": pl.Int64})
T, A = Thresholds(), Accountability()


def _grade(nodes, **kwargs) -> dict[str, tuple[str, str]]:
    frame = graded_attention(nodes, kwargs.pop("rejections", NO_REJECTIONS), T, A, **kwargs)
    return {code: (step, reason) for code, step, reason in frame.select("code", "step", "reason").iter_rows()}


def test_a_unit_with_good_figures_is_not_listed():
    assert _grade(_nodes(("A", 5, 0.8, 1.0), ("B", 0, None, None))) == {}


def test_low_rates_earn_a_talk_with_the_figures():
    got = _grade(_nodes(("A", 5, 0.2, 1.0), ("B", 4, 1.0, 0.25), ("C", 5, 0.4, 0.5)))
    assert got == {"A": ("约谈提醒", "整改完成率20.0%，低于40%"), "B": ("约谈提醒", "群众满意率25.0%，低于50%")}


def test_unexplained_stalled_and_postponed_items_earn_a_talk_with_their_numbers():
    marks = _marks(("A", "stalled-item", 3, False), ("A", "stalled-item", 1, False), ("A", "deadline-postponed", 2, False),
                   ("B", "stalled-item", 4, True), ("B", "deadline-postponed", 5, True))  # fmt: skip
    got = _grade(_nodes(("A", 5, 1.0, 1.0), ("B", 5, 1.0, 1.0)), marks=marks)
    assert got == {"A": ("约谈提醒", "有2项问题长期未启动且未作说明（序号1、3）；有1项问题推迟整改时限且未作说明（序号2）")}


def test_unexplained_backsliding_warnings_earn_a_talk_dissatisfaction_and_explained_ones_do_not():
    marks = _marks(("A", "item-vanished", None, False), ("A", "status-regressed", 4, False),
                   ("B", "count-decreased", None, True), ("C", "persistent-dissatisfaction", 2, False))  # fmt: skip
    got = _grade(_nodes(("A", 5, 1.0, 1.0), ("B", 5, 1.0, 1.0), ("C", 5, 1.0, 1.0)), marks=marks)
    assert got == {"A": ("约谈提醒", "有2条前后变化提示（问题消失、问题改写、状态倒退、累计数减少或异常等）未作说明（序号4）")}


def test_shallow_text_beyond_the_share_earns_an_admonition():
    # A: 2 of 5 items (40 % > 30 %), two findings on one item count it once; B: 1 of 5 (20 %)
    marks = _marks(("A", "too-thin", 2, False), ("A", "copied-text", 2, False), ("A", "copied-text", 4, False),
                   ("B", "too-thin", 1, False))  # fmt: skip
    got = _grade(_nodes(("A", 5, 0.2, 1.0), ("B", 5, 1.0, 1.0)), marks=marks)
    reason = "2项问题的见人见物见思想过于简单或照抄照搬，占全部5项的40.0%，超过30%（序号2、4）；整改完成率20.0%，低于40%"
    assert got == {"A": ("诫勉批评", reason)}


def test_unexplained_uniform_figures_earn_an_admonition_explained_ones_do_not():
    marks = _marks(("A", "uniform-figures", None, False), ("B", "uniform-figures", None, True))
    got = _grade(_nodes(("A", 5, 1.0, 1.0), ("B", 5, 1.0, 1.0)), marks=marks)
    assert got == {"A": ("诫勉批评", "报表数字千篇一律且未作说明1处，疑似弄虚作假")}


def test_rebound_and_overdue_items_are_named_by_number():
    items = pl.DataFrame({"unit": ["A", "A", "B", "B", "B"], "seq": [4, 2, 1, 2, 3]})
    got = _grade(_nodes(("A", 5, 1.0, 1.0), ("B", 5, 1.0, 1.0)), rebound=items.filter(pl.col("unit") == "A"),
                 overdue=items.filter(pl.col("unit") == "B"))  # fmt: skip
    assert got == {"A": ("追责问责", "有2项已销号问题反弹回潮（序号2、4）"),
                   "B": ("约谈提醒", "有3项问题超过整改时限仍未完成（序号1、2、3）")}  # fmt: skip


def test_rejections_at_the_count_earn_a_talk():
    subs = pl.DataFrame({"unit": ["A", "A", "B"], "period": ["2015-02"] * 3, "accepted": [False, False, False]})
    got = _grade(_nodes(("A", 5, 1.0, 1.0), ("B", 5, 1.0, 1.0)), rejections=rejection_counts(subs, period="2015-02"))
    assert got == {"A": ("约谈提醒", "本期报表被退回2次")}


def test_a_second_consecutive_admonition_is_accountability():
    marks = _marks(("A", "uniform-figures", None, False), ("B", "uniform-figures", None, False))
    previous = pl.DataFrame({"code": ["A", "C"], "admonished": [True, True]})
    got = _grade(_nodes(("A", 5, 1.0, 1.0), ("B", 5, 1.0, 1.0), ("C", 5, 0.1, 1.0)), marks=marks,
                 previous=previous, previous_period="2015-01")  # fmt: skip
    assert got["A"] == ("追责问责", "连续两期整改走过场、被诫勉批评（2015年1月已被诫勉批评）；报表数字千篇一律且未作说明1处，疑似弄虚作假")
    assert got["B"][0] == "诫勉批评"  # first time
    assert got["C"][0] == "约谈提醒"  # admonished before, only slack now


def test_json_lists_codes_by_step_every_step_present():
    marks = _marks(("B", "uniform-figures", None, False))
    frame = graded_attention(_nodes(("A", 5, 0.1, 1.0), ("B", 5, 1.0, 1.0), ("C", 5, 0.1, 1.0)), NO_REJECTIONS, T, A,
                             marks=marks)  # fmt: skip
    assert attention_json(frame) == {"约谈提醒": ["A", "C"], "诫勉批评": ["B"], "追责问责": []}
    assert attention_json(frame, within=pl.Series(["C"])) == {"约谈提醒": ["C"], "诫勉批评": [], "追责问责": []}
    assert tuple(attention_json(frame)) == STEPS == load_vocab().attention_steps


def test_finding_marks_map_ledger_rows_to_item_numbers_and_read_explained():
    findings = pl.DataFrame({
        "submission_id": ["s1", "s1", "s1", "s2", "old"], "seq": [0, 1, 2, 0, 0], "code": ["too-thin", "stalled-item", "bad-date", "uniform-figures", "too-thin"],
        "sheet": [LEDGER, LEDGER, LEDGER, "专项整治", LEDGER], "row": [3, 2, 2, 2, 2],
    })  # fmt: skip
    counted = pl.DataFrame({"submission_id": ["s1", "s2"], "unit": ["A", "B"]})
    ledger = pl.DataFrame({"submission_id": ["s1", "s1", "s2"], "row": [2, 3, 2], "seq": [7, 9, 1]})
    marks = finding_marks(findings, counted, ledger)
    assert_frame_equal(marks, _marks(("A", "too-thin", 9, False), ("A", "stalled-item", 7, False),
                                     ("B", "uniform-figures", None, False)), check_row_order=False)  # fmt: skip
    explained = finding_marks(findings.with_columns(pl.Series("explained", [True, None, False, False, False])), counted, ledger)
    assert explained.filter(pl.col("explained"))["code"].to_list() == ["too-thin"]


def test_ineligible_units_are_kept_across_the_year_and_dropped_the_next():
    now = pl.DataFrame({"code": ["A", "B", "C"], "name": ["甲", "乙", "丙"], "step": ["诫勉批评", "约谈提醒", "追责问责"]})
    earlier = pl.DataFrame({"code": ["D", "A", "E"], "name": ["丁", "甲旧名", "戊"],
                            "periods": [["2015-01"], ["2015-01"], ["2014-12"]]})  # fmt: skip
    got = ineligible_units(now, earlier, period="2015-03")
    assert got.rows() == [("A", "甲", ["2015-01", "2015-03"]), ("C", "丙", ["2015-03"]), ("D", "丁", ["2015-01"])]
    assert ineligible_units(now.clear(), got, period="2016-01").height == 0


@pytest.mark.parametrize(("key", "value", "words"), [
    ("thin_share", 1.5, ["thin_share", "1.5", "大于0且小于等于1的数"]),
    ("stalled_items", 0, ["stalled_items", "大于等于1的整数"]),
    ("supervision_days", "30天", ["supervision_days", "“30天”"]),
    ("unknown", 1, ["[accountability] unknown", "无法识别"]),
])  # fmt: skip
def test_accountability_settings_are_checked_at_load(key, value, words):
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"accountability": {key: value}}, source="config.toml")
    assert all(w in str(err.value) for w in words), str(err.value)


def test_accountability_defaults_round_trip():
    config = Config.from_dict({"accountability": {"thin_share": 0.5}})
    assert config.accountability == Accountability(thin_share=0.5)
    assert Config.from_dict(Config().to_dict()).accountability == Accountability()
