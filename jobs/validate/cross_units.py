"""Cross-unit copy detection: one stage over a batch's text hashes (no file read, no GX).

Per-file validation returns every return's eligible 见物/见思想 text hashes
(:data:`jobs.validate.copies.BATCH_TEXTS_SCHEMA`). This stage runs once over
a whole batch and adds a ``copied-text`` finding, in its place in the file,
to every cell whose text another unit of the same period carries. Two callers:

- intake's single writer, just before it records a batch: the batch is
  compared with the texts stored earlier for the period and, in recording
  order, with the returns of the batch recorded before each one (only
  accepted returns are stored, and a unit's newer accepted return replaces its
  older one). A return is thus compared with exactly what the store holds
  when it is recorded, so the verdicts do not depend on batch boundaries,
  executors or worker counts;
- :func:`jobs.validate.validate_files` (``rectify validate``, no store): every
  file it is given, all at once (every unit of a group is flagged).

A cell already flagged as a repeat within its return keeps that finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from jobs.core.findings import Finding, Report, in_place_order, make_finding
from jobs.core.schema import Schema
from jobs.validate.translate import cut_cascades

COPY_CODE = "copied-text"
_KEY = ["period", "hash", "unit", "rank"]


def cross_unit_copies(
    texts: pl.DataFrame,
    returns: pl.DataFrame,
    *,
    stored: pl.DataFrame | None = None,
    period: str | None = None,
    stored_kind: str | None = None,
) -> pl.DataFrame:
    """Cells of the batch carrying a text another unit carries: ``_i, sheet, row, column, col, other``.

    Parameters
    ----------
    texts
        The batch's text hashes (``_i, sheet, row, column, col, hash``).
    returns
        One row per result: ``_i, unit, kind, period, rank, pooled``. Return
        *i* is compared with the texts of the ``pooled`` returns of other units
        of its period whose ``rank`` is at most its own, each while it is its
        unit's (and kind's) latest pooled one. Equal ranks compare both ways.
    stored
        ``unit, hash`` of texts recorded before the batch for ``period``
        (returns of kind ``stored_kind``): they come before every rank.

    Cost: a text is paired with the batch's versions carrying it (at most the
    batch size) and with at most two stored units, however many store it.
    """
    rets = returns.select(
        pl.col("_i").cast(pl.Int32), pl.col("unit").cast(pl.Utf8), pl.col("kind").cast(pl.Utf8),
        pl.col("period").cast(pl.Utf8), pl.col("rank").cast(pl.Int64), pl.col("pooled").cast(pl.Boolean),
    )  # fmt: skip
    rows = texts.select("_i", "sheet", "row", "column", "col", "hash").join(
        rets.filter(pl.col("unit").is_not_null()), on="_i", how="inner"
    )
    # only a text two units carry can be a copy: most texts leave here
    carriers = [rows.select("hash", "unit")]
    if stored is not None and stored.height:
        carriers.append(stored.select(pl.col("hash").cast(pl.Utf8), pl.col("unit").cast(pl.Utf8)))
    shared = pl.concat(carriers).group_by("hash").agg(pl.col("unit").n_unique().alias("_n")).filter(pl.col("_n") > 1)
    rows = rows.join(shared.select("hash"), on="hash", how="semi")
    pooled = rets.filter(pl.col("pooled") & pl.col("unit").is_not_null())
    # a unit's pooled return is its current one from its rank until the next one's
    versions = (
        pooled.select("unit", "kind", "rank").unique().sort("unit", "kind", "rank")
        .with_columns(pl.col("rank").shift(-1).over("unit", "kind").alias("end"))
    )  # fmt: skip
    parts = [
        rows.join(pooled.select("_i"), on="_i", how="semi")
        .join(versions, on=["unit", "kind", "rank"], how="left", nulls_equal=True)
        .select("period", "hash", "unit", pl.col("rank").alias("start"), "end")
        .unique()
    ]
    if stored is not None and stored.height:
        first = versions.filter(pl.col("kind") == stored_kind).group_by("unit").agg(pl.col("rank").min().alias("end"))
        parts.append(
            stored.select(pl.col("unit").cast(pl.Utf8), pl.col("hash").cast(pl.Utf8)).unique()
            .with_columns(pl.lit(period, pl.Utf8).alias("period"), pl.lit(-1, pl.Int64).alias("start"))
            .join(first, on="unit", how="left")
            .select("period", "hash", "unit", "start", "end")
        )  # fmt: skip
    pool = pl.concat(parts, how="vertical_relaxed")
    # Of the units carrying a text from the same start on for good, only the two smallest can
    # be named (one may be the asking unit): a text thousands of units carry stays cheap.
    lasting = pool.filter(pl.col("end").is_null()).sort("unit").group_by(
        "period", "hash", "start", maintain_order=True
    ).head(2)
    pool = pl.concat([pool.filter(pl.col("end").is_not_null()), lasting.select(pool.columns)])
    found = (
        rows.select(_KEY).unique()
        .join(pool, on=["period", "hash"], how="inner", nulls_equal=True, suffix="_other")
        .filter(
            (pl.col("unit_other") != pl.col("unit")) & (pl.col("start") <= pl.col("rank"))
            & (pl.col("end").is_null() | (pl.col("rank") < pl.col("end")))
        )
        .group_by(_KEY).agg(pl.col("unit_other").min().alias("_other"))
    )  # fmt: skip
    return rows.join(found, on=_KEY, how="inner", nulls_equal=True).select(
        "_i", "sheet", "row", "column", "col", pl.format("单位“{}”报送的内容", pl.col("_other")).alias("other")
    ).sort("_i", "sheet", "row", "column")


def returns_frame(
    reports: Sequence[Report],
    *,
    period: str | None,
    kinds: Sequence[str | None],
    ranks: Sequence[int] | None = None,
    pooled: Sequence[bool] | None = None,
) -> pl.DataFrame:
    """The ``returns`` of :func:`cross_unit_copies` for a batch's reports (default: all at once, all pooled)."""
    n = len(reports)
    return pl.DataFrame(
        {
            "_i": range(n),
            "unit": [r.unit for r in reports],
            "kind": list(kinds),
            "period": [r.period or period for r in reports],
            "rank": list(ranks) if ranks is not None else [0] * n,
            "pooled": list(pooled) if pooled is not None else [True] * n,
        },
        schema={"_i": pl.Int32, "unit": pl.Utf8, "kind": pl.Utf8, "period": pl.Utf8, "rank": pl.Int64,
                "pooled": pl.Boolean},
    )  # fmt: skip


def add_copy_findings(reports: Sequence[Report], marks: pl.DataFrame, *, schema: Schema) -> list[int]:
    """Add a ``copied-text`` finding per mark (``_i`` indexes ``reports``), in place order; the indices changed.

    A cell that already has a ``copied-text`` finding (a repeat within the
    return, which names the return's own cell) keeps it alone.
    """
    new: dict[int, list[Finding]] = {}
    for i, sheet, row, column, col, other in marks.select("_i", "sheet", "row", "column", "col", "other").iter_rows():
        finding = make_finding(COPY_CODE, sheet=sheet, row=row, column=column, col_index=col, schema=schema,
                               other=other)  # fmt: skip
        new.setdefault(i, []).append(finding)
    changed = []
    for i, found in new.items():
        report = reports[i]
        have = {(f.sheet, f.row, f.column) for f in report.findings if f.code == COPY_CODE}
        added = [f for f in found if (f.sheet, f.row, f.column) not in have]
        if not added:
            continue
        report.findings = in_place_order(cut_cascades([*report.findings, *added]), schema=schema)
        _recount(report)
        changed.append(i)
    return sorted(changed)


def _recount(report: Report) -> None:
    if isinstance(report.stats, dict) and "n_warnings" in report.stats:
        report.stats["n_errors"] = len(report.errors)
        report.stats["n_warnings"] = len(report.warnings)


def find_cross_unit_copies(
    results: Sequence[Any],
    texts: pl.DataFrame,
    *,
    period: str | None,
    schema: Schema,
    ranks: Sequence[int] | None = None,
    pooled: Sequence[bool] | None = None,
    stored: pl.DataFrame | None = None,
) -> list[int]:
    """The stage: mark the batch's ``results`` (validator results, ``_i`` of ``texts`` indexes them); the indices changed."""
    reports = [r.report for r in results]
    kinds = [getattr(r, "report_type", None) or schema.default_report_type for r in results]
    returns = returns_frame(reports, period=period, kinds=kinds, ranks=ranks, pooled=pooled)
    marks = cross_unit_copies(texts, returns, stored=stored, period=period, stored_kind=schema.default_report_type)
    return add_copy_findings(reports, marks, schema=schema)
