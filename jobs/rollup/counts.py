"""Per-unit counts from the stored tables of counted returns (coverage: :mod:`jobs.rollup.coverage`).

Every function is DataFrame -> DataFrame keyed by ``unit`` (or ``code``), with
one Int64 column per counted key of :mod:`jobs.rollup.vocab`.

Stated counts are summed in Int128 and narrowed to Int64 only after a check
(:func:`narrowed`, :func:`check_totals`): a sum that does not fit stops the
roll-up with :class:`CountOverflow` instead of wrapping into a wrong (negative) total.
"""

from __future__ import annotations

import polars as pl

from jobs.core.errors import RectifyError
from jobs.rollup.vocab import Vocab
from jobs.store.history import WITHDRAWN

COUNT = pl.Int64
WIDE = pl.Int128  # sums of stated counts: two Int64 values may not add up within Int64
INT64_MAX = 2**63 - 1
_SHOWN = 5  # units named in an overflow message


class CountOverflow(RectifyError):
    """A total that cannot be computed exactly (Chinese message naming the indicator and the units)."""


def _too_big(frame: pl.DataFrame, keys: list[str], by: str) -> tuple[str, list[str]] | None:
    """The first of ``keys`` with a value out of ``0..INT64_MAX``, and the ``by`` of its largest rows."""
    if frame.height == 0 or not keys:
        return None
    bad = frame.select(((pl.col(k) < 0) | (pl.col(k) > INT64_MAX)).any().alias(k) for k in keys).row(0, named=True)
    key = next((k for k in keys if bad[k]), None)
    if key is None:
        return None
    top = frame.sort(key, descending=True).head(_SHOWN)[by].cast(pl.Utf8).to_list()
    return key, [str(t) for t in top]


def _overflow(vocab: Vocab, key: str, units: list[str], *, what: str) -> CountOverflow:
    label = vocab.labels.get(key, key)
    msg = (f"指标“{label}”的{what}超出可计算的范围（0至{INT64_MAX}），无法得出正确合计。"
           f"数值最大的单位：{'、'.join(units)}。请核对这些单位报表中的数字，退回错误报表后重新汇总。")  # fmt: skip
    return CountOverflow(msg)


def narrowed(frame: pl.DataFrame, keys: list[str], vocab: Vocab, *, by: str) -> pl.DataFrame:
    """``frame`` with ``keys`` cast to Int64 (nulls as 0) after checking every value fits.

    Raises
    ------
    CountOverflow
        A value (a sum of one return's stated counts) is negative or above Int64.
    """
    frame = frame.with_columns(pl.col(k).fill_null(0) for k in keys)
    found = _too_big(frame, keys, by)
    if found is not None:
        raise _overflow(vocab, found[0], found[1], what="单位数值")
    return frame.with_columns(pl.col(k).cast(COUNT) for k in keys)


def check_totals(contrib: pl.DataFrame, keys: list[str], vocab: Vocab) -> None:
    """Check that the grand total of every key over all contributions fits Int64.

    Contributions are non-negative, so every subtree and category total is at
    most the grand total: one exact (Int128) sum per key guards them all.

    Raises
    ------
    CountOverflow
        A negative contribution, or a grand total above Int64.
    """
    totals = contrib.select(pl.col(k).cast(WIDE).sum() for k in keys).with_columns(pl.lit("").alias("_all"))
    negative = _too_big(contrib, keys, "code")
    if negative is not None:
        raise _overflow(vocab, negative[0], negative[1], what="单位数值")
    found = _too_big(totals, keys, "_all")
    if found is not None:
        key = found[0]
        top = contrib.sort(key, descending=True).head(_SHOWN)["code"].to_list()
        raise _overflow(vocab, key, top, what="合计")


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
    unit's first accepted, not withdrawn return of the period: a unit that
    reported on time and later sent a correction stays on time (the same rule
    as ``status``). Which return counts is the store's rule
    (:mod:`jobs.store.history`), read through ``superseded_by``.
    """
    accepted = submissions.filter(
        (pl.col("period") == period)
        & pl.col("accepted").fill_null(False)
        & (pl.col("report_type").fill_null(default_report_type) == report_type)
    )
    # a withdrawn version was never the unit's report: it cannot make the unit on time
    sent = accepted.filter(pl.col("superseded_by").fill_null("") != WITHDRAWN)
    first = sent.group_by("unit").agg(pl.col("received_at").min().alias("first_accepted_at"))
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
    """Per task number, sums of found / fixed / cases per ``by`` (``tasks.N.field``; Int128: see :func:`narrowed`)."""
    fields = list(vocab.task_sums.items())
    per_task = tasks.filter(pl.col(vocab.task_number).is_in(vocab.task_numbers)).select(
        by, vocab.task_number, *(pl.col(column).fill_null(0).cast(WIDE).alias(field) for field, column in fields)
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
        by, *(pl.col(k).fill_null(0).cast(WIDE) if k in wide.columns else pl.lit(0, WIDE).alias(k) for k in keys)
    )


def table_counts(frame: pl.DataFrame, vocab: Vocab, *, sheet: str, total: str, by: str = "unit") -> pl.LazyFrame:
    """Row count and per-value breakdowns of one table sheet per ``by``."""
    return _sum_by(frame, [pl.lit(1, pl.UInt32).alias(total), *_breakdown_flags(vocab, sheet)], by)


def accountability_counts(frame: pl.DataFrame, vocab: Vocab, *, by: str = "unit") -> pl.LazyFrame:
    """Sums of each fixed 责任追究 row per ``by`` (Int128: see :func:`narrowed`)."""
    return frame.lazy().group_by(by).agg(
        pl.col(key).cast(WIDE).sum().alias(vocab.accountability_key(name)) for key, name in vocab.accountability
    )


def own_counts(
    tables: dict[str, pl.DataFrame],
    counted: pl.DataFrame,
    vocab: Vocab,
    *,
    overdue: pl.Expr,
    rebound: pl.DataFrame,
    history: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """All content counts of each unit's own counted return (no coverage).

    Tables are aggregated per ``submission_id`` and only then matched to the
    counted submissions (one per unit): rows of rejected or superseded
    returns drop out at that small join, so the large tables are hashed once.
    ``rebound`` is ``unit, items_rebound``; ``history`` is ``submission_id`` +
    the history counts (``vocab.history``). Units without rows in a sheet get 0.
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
    keys = [c.key for c in vocab.history]
    if keys:
        if history is None:
            out = out.with_columns(pl.lit(0, COUNT).alias(k) for k in keys)
        else:
            out = out.join(history.select("submission_id", *(pl.col(k).cast(COUNT) for k in keys)),
                           on="submission_id", how="left")  # fmt: skip
    content = [k for k in vocab.count_keys if k not in {c.key for c in vocab.coverage}]
    return narrowed(out.select("unit", *content), content, vocab, by="unit")
