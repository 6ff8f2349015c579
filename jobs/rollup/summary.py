"""The roll-up: :func:`summarize` wires the steps into a :class:`Summary`.

Each unit's *contribution* (its registry coverage plus its own counted return,
or a lower office's 汇总 return standing for a whole subtree) is added to every
ancestor through the closure table: one join and one group-by, linear in rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from jobs.core.schema import Schema, load_schema
from jobs.core.tables import empty_table
from jobs.rollup import counts, crossperiod, federation
from jobs.rollup.attention import (
    INELIGIBLE_SCHEMA,
    Accountability,
    Thresholds,
    attention_json,
    finding_marks,
    graded_attention,
    ineligible_units,
    rejection_counts,
)
from jobs.rollup.coverage import Coverage, compute_coverage
from jobs.rollup.indicators import indicators_json, with_rates
from jobs.rollup.supervised import TRACKED_SCHEMA, track, tracked_json
from jobs.rollup.tree import roll_up, root_code, subtree_codes
from jobs.rollup.vocab import Vocab, load_vocab

NODE_COLUMNS = ("code", "name", "level", "category", "parent")
OWN = "own."


@dataclass
class Summary:
    """The result of one period's roll-up.

    Attributes
    ----------
    nodes
        One row per registry node: ``code, name, level, category, parent,
        covered_by``, the subtree's counts and rates under the spec's keys
        (coverage included), and the unit's own figures as ``own.<key>``.
    by_category
        One row per unit 类别 (``category``) with the same counts and rates.
    national
        The spec's ``summarize --json`` object for the root.
    attention, rebound, overdue, mom
        The graded attention list (:mod:`jobs.rollup.attention`: one step per
        unit, with reasons), the rebound and overdue item lists, and the
        month-over-month change of the main rates (``code, rate, current,
        previous, change``).
    supervised
        The 督办 items of earlier periods with ``resolved`` and ``overdue`` this
        period (:mod:`jobs.rollup.supervised`).
    ineligible
        Units judged ineffective (诫勉批评 or 追责问责) in any period of the year
        so far: not eligible for awards that year (``code, name, periods``).
    warnings
        Chinese notes for the office (overlaps, returns of unknown units ...).
    registry_version
        The registry version the period was counted with (its coverage's; None outside a home).
    """

    period: str
    root: str
    nodes: pl.DataFrame
    by_category: pl.DataFrame
    national: dict[str, Any]
    attention: pl.DataFrame
    rebound: pl.DataFrame
    overdue: pl.DataFrame
    mom: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    vocab: Vocab | None = field(default=None, repr=False)
    # per attachment node and unit 类别, after folding in 汇总 returns; with the
    # closure table, what a 汇总 return of any subtree is written from
    contributions: pl.DataFrame | None = field(default=None, repr=False)
    tree: pl.DataFrame | None = field(default=None, repr=False)
    coverage: Coverage | None = field(default=None, repr=False)
    registry_version: int | None = None
    ineligible: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=INELIGIBLE_SCHEMA))
    supervised: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TRACKED_SCHEMA))


def _tables(tables: Mapping[str, pl.DataFrame], schema: Schema) -> dict[str, pl.DataFrame]:
    out = {s.key: tables.get(s.key) for s in schema.sheets}
    return {k: v if v is not None else empty_table(k, schema=schema) for k, v in out.items()}


def _contributions(
    registry: pl.DataFrame, cover: pl.DataFrame, own: pl.DataFrame, vocab: Vocab
) -> pl.DataFrame:
    frame = (
        registry.select("code", "category")
        .join(cover, on="code", how="left")
        .join(own, left_on="code", right_on="unit", how="left")
    )
    return frame.select("code", "category", *(pl.col(k).fill_null(0).cast(pl.Int64) for k in vocab.count_keys))


def node_table(
    registry: pl.DataFrame,
    tree: pl.DataFrame,
    contrib: pl.DataFrame,
    own_cols: pl.DataFrame,
    covered: pl.DataFrame,
    vocab: Vocab,
) -> pl.DataFrame:
    """One row per registry node: identity, ``covered_by``, subtree counts and rates, ``own.*``."""
    keys = list(vocab.count_keys)
    nodes = (
        registry.select(*NODE_COLUMNS)
        .join(covered, on="code", how="left")
        .join(roll_up(registry, tree, contrib, keys), on="code", how="left")
        .with_columns(pl.col(keys).fill_null(0))
        # a node covered by a 汇总 return has no own figures here (null, not 0)
        .join(own_cols.join(covered, on="code", how="anti"), on="code", how="left")
    )
    return with_rates(with_rates(nodes, vocab), vocab, prefix=OWN)


def category_table(contrib: pl.DataFrame, schema: Schema, vocab: Vocab) -> pl.DataFrame:
    """Counts and rates per unit 类别: every schema 类别 in schema order (empty ones as 0), then others."""
    keys = list(vocab.count_keys)
    sums = contrib.group_by("category").agg(pl.col(keys).sum())
    listed = pl.DataFrame({"category": list(schema.categories)})
    extra = sums.join(listed, on="category", how="anti").select("category").sort("category")
    table = pl.concat([listed, extra]).join(sums, on="category", how="left", maintain_order="left")
    return with_rates(table.with_columns(pl.col(keys).fill_null(0)), vocab)


def summarize(
    tables: Mapping[str, pl.DataFrame],
    submissions: pl.DataFrame,
    registry: pl.DataFrame,
    *,
    period: str,
    deadline: datetime,
    previous: Summary | None = None,
    history_tables: Mapping[str, pl.DataFrame] | None = None,
    thresholds: Thresholds | Mapping[str, Any] | None = None,
    accountability: Accountability | Mapping[str, Any] | None = None,
    findings: pl.DataFrame | None = None,
    ineligible_before: pl.DataFrame | None = None,
    supervised: pl.DataFrame | None = None,
    registry_version: int | None = None,
    schema: Schema | None = None,
    vocab: Vocab | None = None,
    coverage: Coverage | None = None,
) -> Summary:
    """Roll the period's counted returns up the registry tree.

    Parameters
    ----------
    tables
        Stored tables by sheet key (jobs.core.tables layouts); may hold rows of
        rejected or superseded returns: only counted submissions are used.
        A ``summary`` table (see :mod:`jobs.rollup.federation`) holds the
        counts of 汇总 returns.
    submissions
        The store's submissions frame (any periods).
    registry
        The registry effective in ``period``.
    deadline
        Returns received after it are late (still counted).
    previous
        The previous period's summary, for the month-over-month change.
    history_tables
        Counted tables of earlier periods (``ledger`` used), for rebound.
    thresholds, accountability
        The attention list's settings (:class:`Thresholds`, :class:`Accountability` or config mappings).
    findings
        Stored findings of the period's submissions (``Store.findings``: ``submission_id, code, explained``
        at least), read by code for the attention list and the history counts; None: no finding-based
        steps, and the history counts are 0.
    ineligible_before
        The ``ineligible`` list saved with the latest earlier period (kept within the year).
    supervised
        The store's 督办 ledger (``Store.supervised``): items of earlier periods are tracked.
    registry_version
        The version of ``registry`` (named in every output), when ``coverage`` is computed here.
    coverage
        The period's coverage (:func:`jobs.rollup.coverage.compute_coverage`),
        when the caller already has it; computed from the arguments otherwise.
    """
    schema = schema or load_schema()
    vocab = vocab or load_vocab(schema=None if schema is load_schema() else schema)
    if not isinstance(thresholds, Thresholds):
        thresholds = Thresholds.from_mapping(thresholds)
    if not isinstance(accountability, Accountability):
        accountability = Accountability.from_mapping(accountability)
    end = crossperiod.period_end(period)
    if coverage is None:
        coverage = compute_coverage(
            registry, submissions, period=period, deadline=deadline,
            summary_rows=tables.get(federation.SUMMARY_TABLE), schema=schema, vocab=vocab,
            registry_version=registry_version,
        )  # fmt: skip
    warnings = list(coverage.warnings)
    # only expected units' returns count (是否报送=否: stored, counted in no total)
    counted = coverage.counted
    detail = _tables(tables, schema)

    history = history_tables.get("ledger") if history_tables else None
    rebound = crossperiod.rebound_items(detail["ledger"], history, vocab, period=period, counted=counted)
    overdue = crossperiod.overdue_items(detail["ledger"], vocab, end=end, counted=counted)
    own = counts.own_counts(
        detail, counted, vocab, overdue=crossperiod.overdue_expr(vocab, end=end),
        rebound=crossperiod.rebound_counts(rebound),
        history=crossperiod.history_counts(findings, counted, vocab),
    )
    cover = coverage.units.select("code", *(c.key for c in vocab.coverage))
    contrib = _contributions(registry, cover, own, vocab)
    keys = list(vocab.count_keys)
    own_cols = contrib.select("code", *(pl.col(k).alias(OWN + k) for k in keys))
    contrib = federation.fold_in(contrib, coverage.summary_rows, coverage.covered, vocab)
    counts.check_totals(contrib, keys, vocab)  # before any total is summed in Int64

    tree = coverage.tree
    nodes = node_table(registry, tree, contrib, own_cols, coverage.covered, vocab)
    by_category = category_table(contrib, schema, vocab)

    root = root_code(registry)
    expected = coverage.units.filter(pl.col("must_report")).select("code")
    rejections = rejection_counts(submissions, period=period).join(expected, left_on="unit", right_on="code", how="semi")
    tracked = track(supervised, detail["ledger"], counted, vocab, period=period, end=end)
    attention = graded_attention(
        nodes.join(expected, on="code", how="semi"), rejections, thresholds, accountability,
        marks=finding_marks(findings, counted, detail["ledger"], schema=schema), overdue=overdue, rebound=rebound,
        supervised=tracked.filter(pl.col("overdue") & pl.col("unit").is_in(expected["code"].implode())),
        previous=previous.attention if previous is not None else None,
        previous_period=previous.period if previous is not None else None,
    )  # fmt: skip
    mom = crossperiod.month_over_month(nodes, previous.nodes if previous is not None else None, vocab)
    summary = Summary(
        period=period,
        root=root,
        nodes=nodes,
        by_category=by_category,
        national={},
        attention=attention,
        rebound=rebound,
        overdue=overdue,
        mom=mom,
        warnings=warnings,
        vocab=vocab,
        contributions=contrib,
        tree=tree,
        coverage=coverage,
        registry_version=coverage.registry_version,
        ineligible=ineligible_units(attention, ineligible_before, period=period),
        supervised=tracked,
    )
    summary.national = node_json(summary, root)
    return summary


def node_json(summary: Summary, code: str) -> dict[str, Any]:
    """The spec's JSON object for the subtree of ``code`` (``--unit``).

    Raises
    ------
    KeyError
        When ``code`` is not a node of the summary's registry.
    """
    vocab = summary.vocab or load_vocab()
    rows = summary.nodes.filter(pl.col("code") == code)
    if rows.height == 0:
        msg = f"单位代码“{code}”不在本期名册中"
        raise KeyError(msg)
    row = rows.row(0, named=True)
    out: dict[str, Any] = {"period": summary.period, "unit": code, "name": row["name"], "level": row["level"],
                           "registry_version": summary.registry_version}
    out.update(indicators_json(row, vocab))
    if row.get("covered_by"):
        out["covered_by"] = row["covered_by"]
    changes = summary.mom.filter(pl.col("code") == code)
    out["mom"] = {r: c for r, c in changes.select("rate", "change").iter_rows()}
    within = None
    if code != summary.root:
        within = subtree_codes(summary.tree, code) if summary.tree is not None else pl.Series([code])
    out["attention"] = attention_json(summary.attention, within=within)
    out.update(tracked_json(summary.supervised, within=within))
    return out
