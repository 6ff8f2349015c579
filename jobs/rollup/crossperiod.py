"""Cross-period indicators: overdue items, rebound (反弹回潮), history warnings, month-over-month change."""

from __future__ import annotations

import calendar
from datetime import date

import polars as pl

from jobs.rollup.vocab import Vocab

ITEM_COLUMNS = ("unit", "seq", "problem", "leader", "deadline", "status", "done_on", "evaluation", "closed")


def period_end(period: str) -> date:
    """The last day of a ``YYYY-MM`` period."""
    try:
        year, month = (int(p) for p in period.split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])
    except (ValueError, calendar.IllegalMonthError):
        msg = f"报送期“{period}”格式不正确，应为YYYY-MM，例如2015-02"
        raise ValueError(msg) from None


def overdue_expr(vocab: Vocab, *, end: date) -> pl.Expr:
    """True for an item whose 整改时限 is before the period's last day and that is not done."""
    not_done = pl.col(vocab.done_column).fill_null("") != vocab.done_value
    return (pl.col("deadline") < end).fill_null(False) & not_done


def _closed_value(vocab: Vocab) -> tuple[str, str]:
    closed = next(c for c in vocab.ledger if c.key == "items_closed")
    return str(closed.column), (closed.values or ("",))[0]


def _counted(frame: pl.LazyFrame, counted: pl.DataFrame | None) -> pl.LazyFrame:
    if counted is None:
        return frame
    return frame.join(counted.lazy().select("submission_id"), on="submission_id", how="semi")


def overdue_items(ledger: pl.DataFrame, vocab: Vocab, *, end: date, counted: pl.DataFrame | None = None) -> pl.DataFrame:
    """The overdue items, one row each: unit, 序号, 问题描述, 责任领导, 整改时限, 整改状态 ...

    ``counted`` (``submission_id``) restricts the rows to counted returns.
    Rows stay in the ledger's order (by return, then row): sorting a
    national list by unit code would cost more than the rest of the roll-up.
    """
    return (
        _counted(ledger.lazy().filter(overdue_expr(vocab, end=end)), counted)
        .select(*ITEM_COLUMNS)
        .with_columns((pl.lit(end) - pl.col("deadline")).dt.total_days().alias("days_overdue"))
        .collect()
    )


def rebound_items(
    ledger: pl.DataFrame,
    history: pl.DataFrame | None,
    vocab: Vocab,
    *,
    period: str,
    counted: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Items closed (销号) in an earlier period of the same unit that are not closed now.

    An item is the same when its unit, 序号 and 问题描述 are the same. ``history``
    holds the counted ledger rows of earlier periods (any columns of the ledger
    layout, with ``period``); rows of ``period`` and later are ignored. Rows
    are not sorted (see :func:`overdue_items`).
    ``counted`` (``submission_id``) restricts the current rows to counted returns.
    """
    column, closed = _closed_value(vocab)
    schema = {**{c: ledger.schema[c] for c in ITEM_COLUMNS}, "closed_in": pl.Utf8}
    if history is None or history.height == 0:
        return pl.DataFrame(schema=schema)
    was_closed = (
        history.lazy()
        .filter((pl.col("period") < period) & (pl.col(column) == closed))
        .group_by("unit", "seq", "problem")
        .agg(pl.col("period").max().alias("closed_in"))
    )
    now_open = ledger.lazy().filter(pl.col(column).fill_null("") != closed)
    # the join with the (small) closed history first, the counted filter on what is left
    found = now_open.join(was_closed, on=["unit", "seq", "problem"], how="inner")
    return _counted(found, counted).select(*ITEM_COLUMNS, "closed_in").collect()


def rebound_counts(items: pl.DataFrame) -> pl.DataFrame:
    """``unit, items_rebound`` from the rebound item list."""
    return items.group_by("unit").agg(pl.len().cast(pl.Int64).alias("items_rebound"))


def history_counts(findings: pl.DataFrame | None, counted: pl.DataFrame, vocab: Vocab) -> pl.DataFrame:
    """``submission_id`` + one column per history count (``vocab.history``) of the counted returns.

    ``findings`` are the stored findings (``submission_id, code, explained``)
    the history stage gave each return when it arrived (issue 17).
    """
    keys = [c.key for c in vocab.history]
    if findings is None or findings.height == 0:
        return counted.select("submission_id", *(pl.lit(0, pl.Int64).alias(k) for k in keys))
    warned = findings.filter(pl.col("code").is_in(list(vocab.history_codes))).join(
        counted.select("submission_id"), on="submission_id", how="semi"
    )
    flags = []
    for c in vocab.history:
        if c.column == "code":
            cond = pl.col("code") == (c.values or ("",))[0]
        else:
            cond = pl.col("explained").fill_null(False) == ((c.values or ("",))[0] == "true")
        flags.append(cond.cast(pl.Int64).alias(c.key))
    per = warned.select("submission_id", *flags).group_by("submission_id").agg(pl.exclude("submission_id").sum())
    return counted.select("submission_id").join(per, on="submission_id", how="left").with_columns(
        pl.col(k).fill_null(0) for k in keys
    )


def month_over_month(nodes: pl.DataFrame, previous: pl.DataFrame | None, vocab: Vocab) -> pl.DataFrame:
    """Change of the main rates per node against the previous period's nodes.

    Returns ``code, rate, current, previous, change`` (change null where either is null).
    """
    schema = {"code": pl.Utf8, "rate": pl.Utf8, "current": pl.Float64, "previous": pl.Float64, "change": pl.Float64}
    rates = list(vocab.main_rates)

    def long(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        return frame.select("code", *rates).unpivot(index="code", variable_name="rate", value_name=name)

    if previous is None:
        return pl.DataFrame(schema=schema)
    out = long(nodes, "current").join(long(previous, "previous"), on=["code", "rate"], how="left")
    return out.with_columns((pl.col("current") - pl.col("previous")).alias("change")).select(
        *(pl.col(k).cast(v) for k, v in schema.items())
    )


def closed_items(ledger: pl.DataFrame, before: pl.DataFrame | None, vocab: Vocab, *, period: str) -> pl.DataFrame:
    """Every item closed (销号) up to ``period``: ``unit, seq, problem, period`` (the latest closing) and the closed flag.

    ``before`` is the same frame as of an earlier period (or None). The frame
    is what :func:`rebound_items` needs as ``history``, so a period's rebound
    reads one earlier period's frame instead of every earlier ledger.
    """
    column, closed = _closed_value(vocab)
    now = ledger.filter(pl.col(column) == closed).select(
        "unit", "seq", "problem", pl.lit(period, pl.Utf8).alias("period")
    )
    parts = [now] if before is None else [before.select("unit", "seq", "problem", "period"), now]
    return (
        pl.concat(parts, how="vertical_relaxed")
        .group_by("unit", "seq", "problem")
        .agg(pl.col("period").max())
        .with_columns(pl.lit(closed, pl.Utf8).alias(column))
        .sort("unit", "seq", "problem")
    )
