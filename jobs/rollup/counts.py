"""Per-unit counts from the stored tables of counted returns, and registry coverage.

Every function is DataFrame -> DataFrame keyed by ``unit`` (or ``code``), with
one Int64 column per counted key of :mod:`jobs.rollup.vocab`.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from jobs.rollup.vocab import Vocab

COUNT = pl.Int64


def counted_submissions(
    submissions: pl.DataFrame,
    *,
    period: str,
    report_type: str,
    default_report_type: str,
) -> pl.DataFrame:
    """The one current accepted return per unit of ``period`` and ``report_type``.

    Rejected returns count nowhere; a superseded return is replaced by its
    successor. Should the ledger still hold two current returns of one unit,
    the latest received wins.
    """
    frame = submissions.filter(
        (pl.col("period") == period)
        & pl.col("accepted").fill_null(False)
        & pl.col("superseded_by").is_null()
        & (pl.col("report_type").fill_null(default_report_type) == report_type)
    )
    sort_by = [c for c in ("received_at", "version") if c in frame.columns]
    if sort_by:
        frame = frame.sort(sort_by, nulls_last=False)
    return frame.unique("unit", keep="last", maintain_order=True).select("submission_id", "unit", "received_at")


def only_counted(tables: dict[str, pl.DataFrame], counted: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Restrict every table to the rows of counted submissions."""
    ids = counted.select("submission_id")
    return {key: frame.join(ids, on="submission_id", how="semi") for key, frame in tables.items()}


def _is(column: str, values: tuple[str, ...]) -> pl.Expr:
    if len(values) == 1:
        return pl.col(column) == values[0]
    return pl.col(column).is_in(values)


def _sum(cond: pl.Expr, key: str) -> pl.Expr:
    return cond.fill_null(False).sum().cast(COUNT).alias(key)


def _breakdown_exprs(vocab: Vocab, sheet: str) -> list[pl.Expr]:
    return [
        _sum(pl.col(b.column) == v, b.key(v)) for b in vocab.breakdowns if b.sheet == sheet for v in b.values
    ]


def ledger_counts(ledger: pl.DataFrame, vocab: Vocab, *, overdue: pl.Expr) -> pl.DataFrame:
    """Ledger counts per unit (rebound excluded: it needs history, see crossperiod)."""
    exprs = []
    for c in vocab.ledger:
        if c.key == "items_rebound":
            continue
        if c.key == "items_overdue":
            exprs.append(_sum(overdue, c.key))
        elif c.column is None:
            exprs.append(pl.len().cast(COUNT).alias(c.key))
        else:
            exprs.append(_sum(_is(c.column, c.values or ()), c.key))
    exprs += _breakdown_exprs(vocab, "ledger")
    return ledger.group_by("unit").agg(exprs)


def task_counts(tasks: pl.DataFrame, vocab: Vocab) -> pl.DataFrame:
    """Per task number, sums of found / fixed / cases per unit."""
    exprs = [
        pl.col(column).filter(pl.col(vocab.task_number) == n).sum().cast(COUNT).alias(vocab.task_key(n, field))
        for n in vocab.task_numbers
        for field, column in vocab.task_sums.items()
    ]
    return tasks.group_by("unit").agg(exprs)


def table_counts(frame: pl.DataFrame, vocab: Vocab, *, sheet: str, total: str) -> pl.DataFrame:
    """Row count and per-value breakdowns of one table sheet per unit."""
    return frame.group_by("unit").agg(pl.len().cast(COUNT).alias(total), *_breakdown_exprs(vocab, sheet))


def accountability_counts(frame: pl.DataFrame, vocab: Vocab) -> pl.DataFrame:
    """Sums of each fixed 责任追究 row per unit."""
    return frame.group_by("unit").agg(
        pl.col(key).sum().cast(COUNT).alias(vocab.accountability_key(name)) for key, name in vocab.accountability
    )


def own_counts(
    tables: dict[str, pl.DataFrame],
    vocab: Vocab,
    *,
    overdue: pl.Expr,
    rebound: pl.DataFrame,
) -> pl.DataFrame:
    """All content counts of each unit's own counted return (no coverage).

    ``rebound`` is ``unit, items_rebound``. Units without rows in a sheet get 0.
    """
    parts = [
        ledger_counts(tables["ledger"], vocab, overdue=overdue),
        rebound.select("unit", pl.col("items_rebound").cast(COUNT)),
        task_counts(tables["tasks"], vocab),
        table_counts(tables["institutions"], vocab, sheet="institutions", total=vocab.institutions.key),
        table_counts(tables["members"], vocab, sheet="members", total=vocab.members.key),
        accountability_counts(tables["accountability"], vocab),
    ]
    units = pl.concat([p.select("unit") for p in parts]).unique()
    out = units
    for part in parts:
        out = out.join(part, on="unit", how="left")
    content = [k for k in vocab.count_keys if k not in {c.key for c in vocab.coverage}]
    return out.select("unit", *(pl.col(k).fill_null(0).cast(COUNT) for k in content))


def coverage(registry: pl.DataFrame, counted: pl.DataFrame, *, deadline: datetime) -> pl.DataFrame:
    """Per registry node: expected (是否报送=是), reported, on time, late, missing (0/1 each).

    A unit not expected to report never counts as reported, so no rate goes
    above 100%. A return with an unknown arrival time counts as on time.
    """
    got = counted.select("unit", pl.lit(True).alias("_got"), "received_at")
    frame = registry.select("code", "must_report").join(got, left_on="code", right_on="unit", how="left")
    expected = pl.col("must_report").fill_null(False)
    reported = expected & pl.col("_got").fill_null(False)
    on_time = reported & (pl.col("received_at").is_null() | (pl.col("received_at") <= deadline))
    return frame.select(
        "code",
        expected.cast(COUNT).alias("units_expected"),
        reported.cast(COUNT).alias("units_reported"),
        on_time.cast(COUNT).alias("units_on_time"),
        (reported & ~on_time).cast(COUNT).alias("units_late"),
        (expected & ~reported).cast(COUNT).alias("units_missing"),
    )
