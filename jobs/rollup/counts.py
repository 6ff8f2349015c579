"""Per-unit counts from the stored tables of counted returns (coverage: :mod:`jobs.rollup.coverage`).

Every function is DataFrame -> DataFrame keyed by ``unit`` (or ``code``), with
one Int64 column per counted key of :mod:`jobs.rollup.vocab`.
"""

from __future__ import annotations

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
    the latest received wins. ``first_accepted_at`` is the arrival of the
    unit's first accepted return of the period: a unit that reported on time
    and later sent a correction stays on time (the same rule as ``status``).
    """
    accepted = submissions.filter(
        (pl.col("period") == period)
        & pl.col("accepted").fill_null(False)
        & (pl.col("report_type").fill_null(default_report_type) == report_type)
    )
    first = accepted.group_by("unit").agg(pl.col("received_at").min().alias("first_accepted_at"))
    frame = accepted.filter(pl.col("superseded_by").is_null())
    sort_by = [c for c in ("received_at", "version") if c in frame.columns]
    if sort_by:
        frame = frame.sort(sort_by, nulls_last=False)
    current = frame.unique("unit", keep="last", maintain_order=True).select("submission_id", "unit", "received_at")
    return current.join(first, on="unit", how="left")


def _is(column: str, values: tuple[str, ...]) -> pl.Expr:
    if len(values) == 1:
        return pl.col(column) == values[0]
    return pl.col(column).is_in(values)


def _flag(cond: pl.Expr, key: str) -> pl.Expr:
    return cond.fill_null(False).cast(pl.UInt32).alias(key)


def _sum_by(frame: pl.DataFrame | pl.LazyFrame, flags: list[pl.Expr], by: str) -> pl.LazyFrame:
    # Flags are computed over the whole frame first, then summed per group:
    # plain column sums take Polars' fast group-by path, where per-group
    # expressions (``(col == v).sum()`` inside ``agg``) are many times slower.
    return frame.lazy().select(by, *flags).group_by(by).agg(pl.exclude(by).sum().cast(COUNT))


def _breakdown_flags(vocab: Vocab, sheet: str) -> list[pl.Expr]:
    return [_flag(pl.col(b.column) == v, b.key(v)) for b in vocab.breakdowns if b.sheet == sheet for v in b.values]


def ledger_counts(ledger: pl.DataFrame, vocab: Vocab, *, overdue: pl.Expr, by: str = "unit") -> pl.LazyFrame:
    """Ledger counts per ``by`` (rebound excluded: it needs history, see crossperiod)."""
    flags = []
    for c in vocab.ledger:
        if c.key == "items_rebound":
            continue
        if c.key == "items_overdue":
            flags.append(_flag(overdue, c.key))
        elif c.column is None:
            flags.append(pl.lit(1, pl.UInt32).alias(c.key))
        else:
            flags.append(_flag(_is(c.column, c.values or ()), c.key))
    return _sum_by(ledger, flags + _breakdown_flags(vocab, "ledger"), by)


def task_counts(tasks: pl.DataFrame, vocab: Vocab, *, by: str = "unit") -> pl.DataFrame:
    """Per task number, sums of found / fixed / cases per ``by`` (``tasks.N.field``)."""
    fields = list(vocab.task_sums.items())
    per_task = tasks.filter(pl.col(vocab.task_number).is_in(vocab.task_numbers)).select(
        by, vocab.task_number, *(pl.col(column).fill_null(0).cast(COUNT).alias(field) for field, column in fields)
    )
    # one pivot (it groups by unit itself); a group-by first doubles the cost
    wide = per_task.pivot(
        on=vocab.task_number,
        on_columns=list(vocab.task_numbers),
        index=by,
        values=[field for field, _ in fields],
        aggregate_function="sum",
        separator="\x00",
    )
    # pivot names columns ``field<sep>N``; rename to ``tasks.N.field`` and add absent tasks as 0
    renamed = {}
    for col in wide.columns:
        if "\x00" in col:
            field, number = col.split("\x00")
            renamed[col] = vocab.task_key(int(number), field)
    wide = wide.rename(renamed)
    keys = [vocab.task_key(n, f) for n in vocab.task_numbers for f, _ in fields]
    return wide.select(
        by, *(pl.col(k).fill_null(0).cast(COUNT) if k in wide.columns else pl.lit(0, COUNT).alias(k) for k in keys)
    )


def table_counts(frame: pl.DataFrame, vocab: Vocab, *, sheet: str, total: str, by: str = "unit") -> pl.LazyFrame:
    """Row count and per-value breakdowns of one table sheet per ``by``."""
    return _sum_by(frame, [pl.lit(1, pl.UInt32).alias(total), *_breakdown_flags(vocab, sheet)], by)


def accountability_counts(frame: pl.DataFrame, vocab: Vocab, *, by: str = "unit") -> pl.LazyFrame:
    """Sums of each fixed 责任追究 row per ``by``."""
    return frame.lazy().group_by(by).agg(
        pl.col(key).sum().cast(COUNT).alias(vocab.accountability_key(name)) for key, name in vocab.accountability
    )


def own_counts(
    tables: dict[str, pl.DataFrame],
    counted: pl.DataFrame,
    vocab: Vocab,
    *,
    overdue: pl.Expr,
    rebound: pl.DataFrame,
) -> pl.DataFrame:
    """All content counts of each unit's own counted return (no coverage).

    Tables are aggregated per ``submission_id`` and only then matched to the
    counted submissions (one per unit): rows of rejected or superseded
    returns drop out at that small join, so the large tables are hashed once.
    ``rebound`` is ``unit, items_rebound``. Units without rows in a sheet get 0.
    """
    by = "submission_id"
    queries = [
        ledger_counts(tables["ledger"], vocab, overdue=overdue, by=by),
        table_counts(tables["institutions"], vocab, sheet="institutions", total=vocab.institutions.key, by=by),
        table_counts(tables["members"], vocab, sheet="members", total=vocab.members.key, by=by),
        accountability_counts(tables["accountability"], vocab, by=by),
    ]
    parts = [*pl.collect_all(queries), task_counts(tables[vocab.tasks_sheet], vocab, by=by)]
    out = counted.select("submission_id", "unit")
    for part in parts:
        out = out.join(part, on=by, how="left")
    out = out.join(rebound.select("unit", pl.col("items_rebound").cast(COUNT)), on="unit", how="left")
    content = [k for k in vocab.count_keys if k not in {c.key for c in vocab.coverage}]
    return out.select("unit", *(pl.col(k).fill_null(0).cast(COUNT) for k in content))
