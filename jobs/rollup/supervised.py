"""督办 items tracked month by month: resolved when the unit's counting return shows the item done, overdue past its new deadline.

The 督办 ledger (:mod:`jobs.store.supervision`) holds items put under
supervision by the 督办通知单 of earlier periods. In a later period an item is
*resolved* when the unit's counting return lists it (same 序号 and 问题描述)
as done (整改状态 已完成); otherwise it is *overdue* once its new deadline is
before the period's last day. Resolution is read from the counting return, so
it follows resubmissions and withdrawals; an overdue item earns its unit
诫勉批评 (:mod:`jobs.rollup.attention`) and is named in the next 通报.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from jobs.rollup.vocab import Vocab

TRACKED_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.Utf8(), "seq": pl.Int64(), "problem": pl.Utf8(), "period": pl.Utf8(), "reasons": pl.Utf8(),
    "due": pl.Date(), "resolved": pl.Boolean(), "overdue": pl.Boolean(),
}  # fmt: skip
JSON_KEYS = ("supervised_items", "supervised_resolved", "supervised_overdue")


def track(
    supervised: pl.DataFrame | None,
    ledger: pl.DataFrame,
    counted: pl.DataFrame,
    vocab: Vocab,
    *,
    period: str,
    end: date,
) -> pl.DataFrame:
    """The items supervised before ``period``, each with ``resolved`` and ``overdue`` (:data:`TRACKED_SCHEMA`).

    ``ledger`` holds the period's stored 整改台账 rows; ``counted`` (``submission_id``) the counting returns.
    """
    if supervised is None or supervised.height == 0:
        return pl.DataFrame(schema=TRACKED_SCHEMA)
    items = supervised.filter(pl.col("period") < period)
    done = (
        ledger.join(counted.select("submission_id"), on="submission_id", how="semi")
        .filter(pl.col(vocab.done_column) == vocab.done_value)
        .select("unit", pl.col("seq").cast(pl.Int64), "problem", pl.lit(True).alias("resolved"))
        .unique()
    )
    return (
        items.join(done, on=["unit", "seq", "problem"], how="left")
        .with_columns(pl.col("resolved").fill_null(False))
        .with_columns((~pl.col("resolved") & (pl.col("due") < end)).alias("overdue"))
        .select(*TRACKED_SCHEMA)
        .cast(TRACKED_SCHEMA)  # type: ignore[arg-type]
    )


def tracked_json(tracked: pl.DataFrame, *, within: pl.Series | None = None) -> dict[str, int]:
    """``supervised_items, supervised_resolved, supervised_overdue`` of the nation (or ``within``'s units)."""
    frame = tracked if within is None else tracked.filter(pl.col("unit").is_in(within.implode()))
    return {
        "supervised_items": frame.height,
        "supervised_resolved": int(frame["resolved"].sum()) if frame.height else 0,
        "supervised_overdue": int(frame["overdue"].sum()) if frame.height else 0,
    }
