"""The one coverage model: who was expected to report in a period, and what became of each unit.

Computed once per period from the registry version in force, the period's
submissions, its deadline and the counted 汇总 returns; ``status``,
``summarize`` and the report (its text, tables and annex) all read it.

Per registry unit, ``state`` is one of:

- ``on_time`` / ``late``: expected (是否报送=是) with a counted 本级 return;
  on time when its *first* accepted return arrived by the deadline (a
  correction sent later does not make it late; an unknown arrival is on time);
- ``covered``: in the subtree of a counted 汇总 return (its own unit
  included): the lower office reported for it and chases it, so its reporting
  counts come from that return and it is neither counted nor chased one by one;
- ``rejected`` (退回待改): expected, sent something, none of it accepted;
- ``not_received`` (未报送): expected, sent nothing (or only a 汇总 return not used, see
  :func:`jobs.rollup.federation.covering`);
- ``not_required``: 是否报送=否: counts in no total, whatever it sent.

Each unit row carries its *contribution* to the reporting counts (0/1 per
key; 0 for covered units); each counted 汇总 return adds one row per unit
类别 with the return's counts under its own unit. Any subtree's or group's
counts are the sums of those rows, so every reader gets the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import polars as pl

from jobs.core.schema import Schema, load_schema
from jobs.rollup import federation
from jobs.rollup.counts import counted_submissions
from jobs.rollup.indicators import ratio
from jobs.rollup.tree import closure, subtree_codes
from jobs.rollup.vocab import Vocab, load_vocab

UnitState = Literal["on_time", "late", "covered", "rejected", "not_received", "not_required"]
STATE_LABELS: dict[str, str] = {
    "on_time": "按时报送", "late": "逾期报送", "covered": "由下级汇总报送", "rejected": "退回待改",
    "not_received": "未报送", "not_required": "无需报送",
}  # fmt: skip
CHASED: tuple[UnitState, ...] = ("rejected", "not_received")
# beyond the spec's coverage keys (schema): units covered by a 汇总 return, missing units that sent a rejected return
EXTRA_KEYS = ("units_covered", "units_rejected")
UNIT_COLUMNS = (
    "code", "name", "level", "category", "parent", "parent_name", "contact", "phone", "must_report", "state",
    "covered_by", "first_accepted_at", "last_received_at", "last_errors", "n_submissions", "correction_rejected",
)  # fmt: skip


def per_unit_submissions(submissions: pl.DataFrame) -> pl.DataFrame:
    """One row per unit: first accepted arrival, latest submission, number of submissions."""
    # the store's frame has every column; frames built in memory (tests, benchmark) may lack some
    subs = submissions.filter(pl.col("unit").is_not_null()).with_columns(
        pl.lit(None, pl.Int64).alias(c) for c in ("version", "n_errors") if c not in submissions.columns
    )
    subs = subs.sort("unit", "version", "received_at", nulls_last=False)
    current = pl.col("accepted") & pl.col("superseded_by").is_null()
    return subs.group_by("unit", maintain_order=True).agg(
        current.any().alias("has_current"),
        pl.col("received_at").last().alias("last_received_at"),
        pl.col("accepted").last().alias("last_accepted"),
        pl.col("n_errors").last().alias("last_errors"),
        pl.len().alias("n_submissions"),
    )


@dataclass(frozen=True)
class Coverage:
    """Per-unit coverage of one period.

    Attributes
    ----------
    units
        One row per registry unit (:data:`UNIT_COLUMNS`) plus its contribution
        to every reporting count (:attr:`keys`).
    returns
        One row per counted 汇总 return and unit 类别: ``code`` (the return's
        unit), ``category`` and the return's reporting counts.
    counted
        The counted 本级 submissions (``submission_id, unit, received_at,
        first_accepted_at``): one per expected unit that reported.
    summary_rows, covered
        The long rows of the 汇总 returns used, and ``code, covered_by``.
    tree
        The registry's closure table (``ancestor, descendant, depth``).
    unexpected
        Submissions of the period from units that need not report or are not in the registry.
    set_aside
        Counted 本级 returns of units inside a subtree covered by a 汇总 return
        (:func:`jobs.rollup.federation.set_aside`): stored, counted in no total.
    registry_version
        The registry version the coverage was computed from (None outside an office home).
    warnings
        Chinese notes (unknown units, units that need not report, overlapping 汇总 returns).
    """

    period: str
    deadline: datetime
    keys: tuple[str, ...]
    units: pl.DataFrame
    returns: pl.DataFrame
    counted: pl.DataFrame
    summary_rows: pl.DataFrame
    covered: pl.DataFrame
    tree: pl.DataFrame
    unexpected: pl.DataFrame
    rate_keys: tuple[tuple[str, str, str], ...] = ()
    warnings: list[str] = field(default_factory=list)
    registry_version: int | None = None
    set_aside: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=federation.SET_ASIDE_SCHEMA))

    def subtree(self, code: str) -> pl.Series:
        """Codes of ``code`` and every unit below it."""
        return subtree_codes(self.tree, code)

    def contributions(self, *, within: str | None = None) -> pl.DataFrame:
        """``code, category, level`` and every count: unit rows, then 汇总 return rows (of ``within``'s subtree)."""
        units = self.units.select("code", "category", "level", *self.keys)
        levels = self.units.select("code", "level")
        returns = self.returns.join(levels, on="code", how="left").select(
            "code", "category", "level", *(pl.col(k) if k in self.returns.columns else pl.lit(0, pl.Int64).alias(k)
                                           for k in self.keys)
        )  # fmt: skip
        frame = pl.concat([units, returns])
        if within is not None:
            frame = frame.filter(pl.col("code").is_in(self.subtree(within).implode()))
        return frame

    def counts(self, *, within: str | None = None, by: str | None = None) -> pl.DataFrame:
        """Summed counts and their rates (from the schema), one row (or one per ``by`` group)."""
        frame = self.contributions(within=within)
        sums = [pl.col(k).sum().cast(pl.Int64) for k in self.keys]
        out = frame.group_by(by).agg(sums) if by else frame.select(sums)
        return out.with_columns(ratio(pl.col(num), pl.col(den)).alias(key) for key, num, den in self.rate_keys)

    def totals(self, *, within: str | None = None) -> dict[str, int | float | None]:
        """The counts of the nation (or of ``within``'s subtree) as one dict."""
        return self.counts(within=within).row(0, named=True)

    def chase(self, *, within: str | None = None) -> pl.DataFrame:
        """催报名单: expected units without a counted return, outside every covered subtree."""
        frame = self.units.filter(pl.col("state").is_in(CHASED))
        if within is not None:
            frame = frame.filter(pl.col("code").is_in(self.subtree(within).implode()))
        return frame.sort("parent", "code")

    def delegated(self, *, within: str | None = None) -> pl.DataFrame:
        """Missing units inside covered subtrees, per 汇总 return: ``code, name, ... , units_missing`` (> 0)."""
        missing = self.returns.group_by("code").agg(pl.col("units_missing").sum())
        frame = self.units.join(missing, on="code", how="inner", suffix="_return").filter(
            pl.col("units_missing_return") > 0
        )
        if within is not None:
            frame = frame.filter(pl.col("code").is_in(self.subtree(within).implode()))
        return frame.with_columns(pl.col("units_missing_return").alias("units_missing")).drop(
            "units_missing_return"
        ).sort("code")


def compute_coverage(
    registry: pl.DataFrame,
    submissions: pl.DataFrame,
    *,
    period: str,
    deadline: datetime,
    summary_rows: pl.DataFrame | None = None,
    tree: pl.DataFrame | None = None,
    schema: Schema | None = None,
    vocab: Vocab | None = None,
    registry_version: int | None = None,
) -> Coverage:
    """The period's coverage (see the module docstring for the states and counts).

    Parameters
    ----------
    registry
        The registry version in force for ``period``.
    submissions
        The store's submissions (other periods are ignored).
    summary_rows
        Long rows of 汇总 returns (:data:`jobs.rollup.federation.SUMMARY_SCHEMA`);
        only those of counted 汇总 submissions of the period are used.
    """
    schema = schema or load_schema()
    vocab = vocab or load_vocab(schema=None if schema is load_schema() else schema)
    tree = tree if tree is not None else closure(registry)
    subs = submissions.filter(pl.col("period") == period)
    warnings: list[str] = []

    expected_codes = registry.filter(pl.col("must_report").fill_null(False)).select("code")
    counted = counted_submissions(
        subs, period=period, report_type=schema.default_report_type, default_report_type=schema.default_report_type
    )
    unknown = counted.join(registry.select("code"), left_on="unit", right_on="code", how="anti")
    if unknown.height:
        warnings.append(f"以下单位不在本期名册中，其报表未计入汇总：{'、'.join(sorted(unknown['unit'].to_list()))}")
    optional = counted.join(registry.select("code"), left_on="unit", right_on="code", how="semi").join(
        expected_codes, left_on="unit", right_on="code", how="anti"
    )
    if optional.height:
        warnings.append(
            f"另有{optional.height}个非必报单位报送，其报表已存档，未计入任何合计："
            f"{'、'.join(sorted(optional['unit'].to_list()))}"
        )
    counted = counted.join(expected_codes, left_on="unit", right_on="code", how="semi")

    rows, covered, fold_warnings = federation.covering(
        summary_rows, subs, tree=tree, registry=registry, period=period, schema=schema
    )
    # a subtree is counted once: its 汇总 return cannot be split, so detail returns inside it count nowhere
    aside = federation.set_aside(counted, covered, rows, subs, registry=registry)
    counted = counted.join(aside.select("submission_id"), on="submission_id", how="anti")
    warnings += fold_warnings + federation.set_aside_notes(aside)
    units = _unit_rows(registry, subs, counted, covered, deadline=deadline)
    keys = tuple(c.key for c in vocab.coverage) + EXTRA_KEYS
    returns = federation.summary_contributions(rows, vocab).select(
        "code", "category", *(k for k in keys if k not in EXTRA_KEYS)
    )
    unexpected = subs.filter(~pl.col("unit").is_in(expected_codes["code"].implode()) | pl.col("unit").is_null())
    rate_keys = tuple((r.key, r.num, r.den) for r in vocab.rates if r.num in keys and r.den in keys)
    return Coverage(
        period=period,
        deadline=deadline,
        keys=keys,
        units=units,
        returns=returns,
        counted=counted,
        summary_rows=rows,
        covered=covered,
        tree=tree,
        unexpected=unexpected.select(
            "unit", pl.col("file_name") if "file_name" in subs.columns else pl.lit(None, pl.Utf8).alias("file_name"),
            "received_at", "accepted",
        ),
        rate_keys=rate_keys,
        warnings=warnings,
        registry_version=registry_version,
        set_aside=aside,
    )


def _unit_rows(
    registry: pl.DataFrame, subs: pl.DataFrame, counted: pl.DataFrame, covered: pl.DataFrame, *, deadline: datetime
) -> pl.DataFrame:
    names = registry.select(pl.col("code").alias("parent"), pl.col("name").alias("parent_name"))
    got = counted.select("unit", pl.lit(True).alias("_counted"), "first_accepted_at")
    frame = (
        registry.join(per_unit_submissions(subs), left_on="code", right_on="unit", how="left")
        .join(got, left_on="code", right_on="unit", how="left")
        .join(covered, on="code", how="left")
        .join(names, on="parent", how="left")
    )
    expected = pl.col("must_report").fill_null(False)
    is_counted = pl.col("_counted").fill_null(False)
    arrived = pl.col("first_accepted_at")
    state = (
        pl.when(~expected)
        .then(pl.lit("not_required"))
        .when(pl.col("covered_by").is_not_null())
        .then(pl.lit("covered"))
        .when(is_counted & (arrived.is_null() | (arrived <= deadline)))
        .then(pl.lit("on_time"))
        .when(is_counted)
        .then(pl.lit("late"))
        # an accepted 汇总 return not used (nested in another, or of an unknown unit) is no rejection
        .when((pl.col("n_submissions").fill_null(0) > 0) & ~pl.col("has_current").fill_null(False))
        .then(pl.lit("rejected"))
        .otherwise(pl.lit("not_received"))
    )
    frame = frame.with_columns(
        state.alias("state"),
        pl.col("n_submissions").fill_null(0),
        (is_counted & ~pl.col("last_accepted").fill_null(True)).alias("correction_rejected"),
        expected.alias("must_report"),
    )
    s = pl.col("state")
    reported = s.is_in(["on_time", "late"])
    flag = lambda cond, key: cond.cast(pl.Int64).alias(key)  # noqa: E731
    return frame.select(
        *UNIT_COLUMNS,
        flag(expected & (s != "covered"), "units_expected"),
        flag(reported, "units_reported"),
        flag(s == "on_time", "units_on_time"),
        flag(s == "late", "units_late"),
        flag(s.is_in(CHASED), "units_missing"),
        flag(expected & (s == "covered"), "units_covered"),
        flag(s == "rejected", "units_rejected"),
    )
