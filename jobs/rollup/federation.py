"""Federated roll-up (逐级汇总上报): folding lower offices' 汇总 returns into the tree.

A 汇总 return stands for the whole subtree of its unit (单位代码). Its counts
are stored as the long table ``summary`` (:data:`SUMMARY_SCHEMA`): one row per
(count key, unit 类别). Workbook export and reading live in
:mod:`jobs.rollup.summary_return`.
"""

from __future__ import annotations

import polars as pl

from jobs.core.schema import Schema
from jobs.rollup.counts import counted_submissions
from jobs.rollup.vocab import Vocab

SUMMARY_TABLE = "summary"
SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "submission_id": pl.Utf8(),
    "unit": pl.Utf8(),
    "period": pl.Utf8(),
    "row": pl.Int32(),
    "key": pl.Utf8(),
    "category": pl.Utf8(),
    "value": pl.Int64(),
}


def summary_report_type(schema: Schema) -> str:
    """The 报表类型 of a 汇总 return (the schema's non-default report type)."""
    return next(t for t in schema.report_types if t != schema.default_report_type)


def _names(registry: pl.DataFrame, codes: list[str]) -> str:
    names = dict(registry.filter(pl.col("code").is_in(codes)).select("code", "name").iter_rows())
    shown = [f"{c}（{names.get(c) or '未知单位'}）" for c in sorted(codes)[:20]]
    more = f"等{len(codes)}个单位" if len(codes) > 20 else ""
    return "、".join(shown) + more


def summary_contributions(rows: pl.DataFrame, vocab: Vocab) -> pl.DataFrame:
    """Wide contribution rows (``code, category`` + every count key) from long summary rows."""
    keys = list(vocab.count_keys)
    return (
        rows.filter(pl.col("key").is_in(keys))
        .group_by("unit", "category")
        .agg(pl.col("value").filter(pl.col("key") == k).sum().cast(pl.Int64).alias(k) for k in keys)
        .rename({"unit": "code"})
        .select("code", "category", *keys)
    )


def covering(
    summary_rows: pl.DataFrame | None,
    submissions: pl.DataFrame,
    *,
    tree: pl.DataFrame,
    registry: pl.DataFrame,
    detail_units: pl.Series,
    period: str,
    schema: Schema,
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Which counted 汇总 returns of ``period`` stand for which subtrees.

    Detail wins: a 汇总 return whose subtree holds any counted 本级 return
    (``detail_units``) is not used, and a warning names the overlap. Of two
    nested 汇总 returns the outer one is used (it already covers the inner
    subtree). A 汇总 return of a unit not in the registry is not used.

    Returns
    -------
    rows, covered, warnings
        The long ``summary`` rows of the returns used, ``code, covered_by``
        for every unit of their subtrees (the return's own unit included),
        and Chinese warnings.
    """
    covered_schema = {"code": pl.Utf8, "covered_by": pl.Utf8}
    if summary_rows is None or summary_rows.height == 0:
        return pl.DataFrame(schema=SUMMARY_SCHEMA), pl.DataFrame(schema=covered_schema), []
    counted = counted_submissions(
        submissions, period=period, report_type=summary_report_type(schema), default_report_type=schema.default_report_type
    )
    rows = summary_rows.join(counted.select("submission_id"), on="submission_id", how="semi").filter(
        pl.col("period") == period
    )
    warnings: list[str] = []
    roots = rows.select("unit").unique()
    unknown = roots.join(registry.select("code"), left_on="unit", right_on="code", how="anti")["unit"].to_list()
    if unknown:
        warnings.append(f"以下汇总报表的单位不在本期名册中，未计入：{'、'.join(sorted(unknown))}")
    pairs = tree.join(roots, left_on="ancestor", right_on="unit", how="semi").select(
        pl.col("ancestor").alias("root"), pl.col("descendant").alias("code"), "depth"
    )
    overlap = pairs.join(detail_units.to_frame("code"), on="code", how="semi")
    for root, group in overlap.group_by("root", maintain_order=True):
        codes = group["code"].to_list()
        warnings.append(
            f"{_names(registry, [root[0]])}的汇总报表与其下属{_names(registry, codes)}的本级报表重叠，"
            "该范围按本级报表计算，未采用此汇总报表"
        )
    pairs = pairs.join(overlap.select("root").unique(), on="root", how="anti")
    inner = pairs.filter(pl.col("depth") > 0).join(pairs.select(pl.col("root").alias("code")).unique(), on="code", how="semi")
    for outer, group in inner.group_by("root", maintain_order=True):
        codes = group["code"].to_list()
        warnings.append(
            f"{_names(registry, codes)}的汇总报表已包含在{_names(registry, [outer[0]])}的汇总报表中，未重复计算"
        )
    kept = pairs.select("root").unique().join(inner.select(pl.col("code").alias("root")), on="root", how="anti")
    covered = pairs.join(kept, on="root", how="semi").select("code", pl.col("root").alias("covered_by"))
    used = rows.join(kept, left_on="unit", right_on="root", how="semi")
    return used, covered.cast(covered_schema), warnings


def fold_in(
    contrib: pl.DataFrame, rows: pl.DataFrame, covered: pl.DataFrame, vocab: Vocab
) -> pl.DataFrame:
    """Replace the detail contributions of each covered subtree by its 汇总 return's rows.

    ``rows`` and ``covered`` are :func:`covering`'s (the period's coverage
    holds them): the subtree's units contribute nothing one by one, the
    return's unit contributes the return's counts, one row per unit 类别.
    """
    if covered.height == 0:
        return contrib
    added = summary_contributions(rows, vocab)
    return pl.concat([contrib.join(covered, on="code", how="anti"), added.select(contrib.columns)])
