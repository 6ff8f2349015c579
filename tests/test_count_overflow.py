"""Counts never give a wrong total: stated counts are bounded, sums are exact or stop with a Chinese error.

The bound itself (``[limits] max_count``, a count above it is ``bad-number``) is
tested with every finding code in ``test_validate.py``; here stored counts that
got past it (an office that raised the bound, a store written before it) meet
the roll-up's checked sums.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from jobs.office.config import Limits
from jobs.rollup.counts import INT64_MAX, CountOverflow
from jobs.rollup.summary import summarize
from jobs.validate.typing import parse_int_expr
from tests.test_rollup import DEADLINE, ON_TIME, REGISTRY, P, _return
from tests.test_rollup_frames import concat, item, submission, submissions

BIG = 9 * 10**18  # fits Int64; two of them do not


def _ledger() -> list[dict]:
    return [item(1, "已完成", "是", "满意", "查摆问题", "形式主义", date(2015, 1, 31))]


def _summarize(returns: list[tuple[str, str, dict]]):
    tables = concat([_return(sid, unit, _ledger(), **kw) for sid, unit, kw in returns])
    subs = submissions([submission(sid, unit, P, ON_TIME) for sid, unit, _ in returns])
    return summarize(tables, subs, REGISTRY, period=P, deadline=DEADLINE)


def test_max_count_default_and_bound():
    assert Limits().max_count == 10_000_000
    values = pl.Series("x", ["10000000", "10000001", str(BIG), "0", "-1"])
    typed = pl.select(parse_int_expr(pl.lit(values), max_count=Limits().max_count)).to_series()
    assert typed.to_list() == [10_000_000, None, None, 0, None]


@pytest.mark.parametrize("n", [2, 3], ids=["wraps-negative", "wraps-positive"])
def test_big_counts_of_several_units_never_give_a_wrong_total(n):
    # 2 × 9e18 wraps to a negative Int64, 3 × 9e18 to a positive but wrong one
    units = ["110000", "120000", "200001"][:n]
    returns = [(f"S{i}", unit, {"tasks": [(1, BIG, 0, 0)]}) for i, unit in enumerate(units)]
    with pytest.raises(CountOverflow) as caught:
        _summarize(returns)
    message = str(caught.value)
    assert "专项整治第1项" in message and "合计" in message
    assert all(unit in message for unit in units)


def test_big_counts_within_one_return_never_wrap():
    # two rows of the same task in one stored return: the unit's own sum is checked too
    with pytest.raises(CountOverflow, match="单位数值.*110000"):
        _summarize([("S1", "110000", {"tasks": [(1, BIG, 0, 0), (1, BIG, 0, 0)]})])


def test_totals_up_to_int64_are_exact():
    half = INT64_MAX // 2
    summary = _summarize([("S1", "110000", {"accountability": {"talks": half}}),
                          ("S2", "120000", {"accountability": {"talks": half + 1}})])  # fmt: skip
    talks = summary.vocab.accountability_key("约谈提醒（人次）")
    root = summary.nodes.filter(pl.col("code") == summary.root)
    assert root[talks].item() == INT64_MAX
