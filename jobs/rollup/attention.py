"""The attention list (约谈提醒 / 诫勉批评 candidates), each unit with its reasons in Chinese."""

from __future__ import annotations

import polars as pl

from jobs.office.config import Thresholds

__all__ = ["Thresholds", "attention_list", "rejection_counts"]


def _pct(expr: pl.Expr) -> pl.Expr:
    # via integer tenths: a float cast to text would show 33.300000000000004
    tenths = (expr * 1000).round(0).cast(pl.Int64)
    return pl.format("{}.{}%", tenths // 10, tenths % 10)


def rejection_counts(submissions: pl.DataFrame, *, period: str) -> pl.DataFrame:
    """``unit, rejections``: returns of the period that were rejected."""
    return (
        submissions.filter((pl.col("period") == period) & ~pl.col("accepted").fill_null(False))
        .group_by("unit")
        .agg(pl.len().cast(pl.Int64).alias("rejections"))
    )


def attention_list(nodes: pl.DataFrame, rejections: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """Units to talk to, from their own figures (``own.*`` columns of ``nodes``).

    Returns ``code, name, level, category, reasons (list[str]), reason (str)``,
    one row per listed unit.
    """
    t = thresholds
    frame = nodes.select(
        "code",
        "name",
        "level",
        "category",
        "own.completion_rate",
        "own.satisfaction_rate",
        "own.items_overdue",
        "own.items_rebound",
        # a history warning the unit explained in 说明 lists nobody
        pl.col("own.warnings_unexplained") if "own.warnings_unexplained" in nodes.columns else pl.lit(0).alias(
            "own.warnings_unexplained"),
    ).join(rejections, left_on="code", right_on="unit", how="left")
    comp, sat = pl.col("own.completion_rate"), pl.col("own.satisfaction_rate")
    overdue, rebound = pl.col("own.items_overdue"), pl.col("own.items_rebound")
    rejected = pl.col("rejections").fill_null(0)
    unexplained = pl.col("own.warnings_unexplained")
    reasons = [
        pl.when(comp < t.completion_rate).then(
            pl.lit("整改完成率") + _pct(comp) + pl.lit("，低于") + pl.lit(f"{t.completion_rate:.0%}")
        ),
        pl.when(sat < t.satisfaction_rate).then(
            pl.lit("群众满意率") + _pct(sat) + pl.lit("，低于") + pl.lit(f"{t.satisfaction_rate:.0%}")
        ),
        pl.when(overdue >= t.overdue_items).then(pl.format("有{}项问题超过整改时限仍未完成", overdue)),
        pl.when(rebound >= t.rebound_items).then(pl.format("有{}项已销号问题反弹回潮", rebound)),
        pl.when(rejected >= t.rejections).then(pl.format("本期报表被退回{}次", rejected)),
        pl.when(unexplained >= t.unexplained_warnings).then(
            pl.format("有{}条前后变化提示（问题消失、时限推迟、数字减少等）未作说明", unexplained)
        ),
    ]
    hit = (
        (comp < t.completion_rate).fill_null(False)
        | (sat < t.satisfaction_rate).fill_null(False)
        | (overdue >= t.overdue_items).fill_null(False)
        | (rebound >= t.rebound_items).fill_null(False)
        | (rejected >= t.rejections)
        | (unexplained >= t.unexplained_warnings).fill_null(False)
    )
    # format the Chinese reasons only for the units listed
    return (
        frame.filter(hit)
        .with_columns(pl.concat_list(reasons).list.drop_nulls().alias("reasons"))
        .select("code", "name", "level", "category", "reasons", pl.col("reasons").list.join("；").alias("reason"))
        .sort("code")
    )
