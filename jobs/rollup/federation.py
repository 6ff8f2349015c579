"""Federated roll-up (逐级汇总上报): folding lower offices' 汇总 returns into the tree.

A 汇总 return stands for the whole subtree of its unit (单位代码). Its counts
are stored as the long table ``summary`` (:data:`SUMMARY_SCHEMA`): one row per
(count key, unit 类别). Workbook export and reading live in
:mod:`jobs.rollup.summary_return`.

A subtree is counted once. A 汇总 return carries only its subtree's totals
(per 类别, not per unit), so the figures of one unit inside it cannot be
taken out: when a detail (本级) return of a unit inside a covered subtree is
also present, the 汇总 return counts for the whole subtree and the detail
return is *set aside* (stored, counted in no total), and a note names the
unit, its code, its file and the 汇总 return that covers it
(:func:`set_aside`, :func:`set_aside_notes`). The 汇总 return is never dropped
whole for one detail return inside it.
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
    period: str,
    schema: Schema,
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Which counted 汇总 returns of ``period`` stand for which subtrees.

    Every counted 汇总 return of a registry unit is used, except one nested
    in another: of two nested 汇总 returns the outer one is used (it already
    covers the inner subtree). Detail returns inside a covered subtree are
    set aside (:func:`set_aside`). A 汇总 return of a unit not in the registry is not used.

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


SET_ASIDE_SCHEMA: dict[str, pl.DataType] = {
    "submission_id": pl.Utf8(), "unit": pl.Utf8(), "name": pl.Utf8(), "file_name": pl.Utf8(),
    "covered_by": pl.Utf8(), "covered_name": pl.Utf8(), "summary_file": pl.Utf8(),
}  # fmt: skip


def _file_names(submissions: pl.DataFrame) -> pl.DataFrame:
    names = pl.col("file_name") if "file_name" in submissions.columns else pl.lit(None, pl.Utf8)
    return submissions.select("submission_id", names.cast(pl.Utf8).alias("file_name")).unique("submission_id")


def set_aside(
    counted: pl.DataFrame,
    covered: pl.DataFrame,
    rows: pl.DataFrame,
    submissions: pl.DataFrame,
    *,
    registry: pl.DataFrame,
) -> pl.DataFrame:
    """The counted 本级 returns of units inside a covered subtree: counted in no total.

    Parameters
    ----------
    counted
        The counted 本级 submissions (``submission_id, unit``).
    covered, rows
        :func:`covering`'s ``code, covered_by`` and the used 汇总 rows.
    submissions
        The period's submissions (for the file names).

    Returns
    -------
    pl.DataFrame
        :data:`SET_ASIDE_SCHEMA`: the set-aside return, its unit and file, and
        the 汇总 return (unit, file) that covers it; sorted by ``covered_by, unit``.
    """
    if covered.height == 0 or counted.height == 0:
        return pl.DataFrame(schema=SET_ASIDE_SCHEMA)
    names = registry.select(pl.col("code").alias("unit"), "name")
    files = _file_names(submissions)
    summaries = (
        rows.select(pl.col("unit").alias("covered_by"), "submission_id").unique("covered_by")
        .join(files, on="submission_id", how="left")
        .select("covered_by", pl.col("file_name").alias("summary_file"))
    )  # fmt: skip
    frame = (
        counted.select("submission_id", "unit")
        .join(covered, left_on="unit", right_on="code", how="inner")
        .join(names, on="unit", how="left")
        .join(files, on="submission_id", how="left")
        .join(summaries, on="covered_by", how="left")
        .join(names.rename({"unit": "covered_by", "name": "covered_name"}), on="covered_by", how="left")
    )
    return frame.select(list(SET_ASIDE_SCHEMA)).cast(SET_ASIDE_SCHEMA).sort("covered_by", "unit")


def set_aside_notes(frame: pl.DataFrame, *, limit: int = 20) -> list[str]:
    """One Chinese note per covering 汇总 return, naming each set-aside return's unit, code and file."""
    notes = []
    for (code,), group in frame.group_by("covered_by", maintain_order=True):
        first = group.row(0, named=True)
        listed = [
            f"{r['name'] or '未知单位'}（{r['unit']}，文件“{r['file_name'] or '未记录'}”）"
            for r in group.head(limit).iter_rows(named=True)
        ]
        more = f"等{group.height}份" if group.height > limit else ""
        summary = f"“{first['summary_file']}”" if first["summary_file"] else ""
        notes.append(
            f"{'、'.join(listed)}{more}的本级报表未计入合计：{'该单位' if group.height == 1 else '上述单位'}在{first['covered_name'] or code}（{code}）"
            f"的汇总报表{summary}范围内，汇总报表只有合计数，无法从中扣除单个单位，同时计入会重复计算，"
            f"因此按汇总报表计算，本级报表仅存档。如应以本级报表为准，请撤回{first['covered_name'] or code}的汇总报表，"
            "并请其报送下属各单位的本级报表。"
        )
    return notes


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
