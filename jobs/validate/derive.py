"""Columns the declared checks compare that come from elsewhere.

Duplicates within a return, the task catalogue, the 填报日期 of the same
return, the registry and the collected period are joined onto the stacked
frames here, vectorised, so that every check stays a plain column
expectation (see suites.py for the column names).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from jobs.core.schema import Schema
from jobs.validate.suites import DATE_NOT_AFTER_FILLED, NO, TASK_NAME, TASK_NO, YES
from jobs.validate.typing import RID, ROW, display_date, fold, fold_expr, per_value, raw


def mark_duplicates(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Add ``dup__key``: ``第N行`` (the first row with the same value in the return) on repeats."""
    # the window is materialised once (an expression referenced twice is evaluated twice)
    first = frame.select(pl.col(ROW).min().over([RID, key])).to_series()
    return frame.with_columns(
        pl.when(pl.col(key).is_not_null() & (pl.col(ROW) != first))
        .then(pl.format("第{}行", pl.lit(first)))
        .otherwise(None)
        .alias(f"dup__{key}")
    )


def with_catalogue(frame: pl.DataFrame, *, schema: Schema) -> pl.DataFrame:
    """Add the catalogue's task name for each row's 任务编号 (``expected__``) and both folded names."""
    catalogue = pl.DataFrame(
        {TASK_NO: list(schema.tasks), "expected__": list(schema.tasks.values())},
        schema={TASK_NO: pl.Int64, "expected__": pl.Utf8},
    ).with_columns(fold_expr(pl.col("expected__")).alias("expected_fold__"))
    # folded once per catalogue entry and once per distinct name typed (every return repeats them)
    out = frame.join(catalogue, on=TASK_NO, how="left")
    names = per_value(out.get_column(raw(TASK_NAME)), fold_expr).alias("fold_name__")
    return out.with_columns(names).select(*frame.columns, "expected__", "fold_name__", "expected_fold__")


def with_filled_on(frame: pl.DataFrame, info: pl.DataFrame, *, sheet_key: str) -> pl.DataFrame:
    """Join the return's 填报日期 onto a table sheet for the not-after-filled date checks."""
    cols = [c for s, c in DATE_NOT_AFTER_FILLED if s == sheet_key and c in frame.columns]
    if not cols:
        return frame
    limits = info.select(
        RID,
        pl.col("filled_on").alias("limit__filled_on"),
        pl.format("填报日期（{}）", display_date(pl.col("filled_on"))).alias("other__filled_on"),
    )
    return frame.join(limits, on=RID, how="left").with_columns(
        display_date(pl.col(c)).alias(f"show__{c}") for c in cols
    )


def with_registry(
    info: pl.DataFrame,
    *,
    registry: pl.DataFrame | None,
    period: str | None,
    arrival: Mapping[int, dt.date] | None,
) -> pl.DataFrame:
    """Join the registry, the collected period and the arrival date onto the info frame.

    Without a registry (or period, or arrival) the joined columns are null and
    the checks on them do not fire.
    """
    # Codes typed with full-width digits or stray spaces are the same code.
    out = info.with_columns(
        fold_expr(pl.col(raw("unit_code"))).replace("", None).alias("unit_code"),
        fold_expr(pl.col(raw("unit_name"))).alias("name_fold__"),
        pl.lit(period, pl.Utf8).alias("expected_period__"),
        display_date(pl.col("filled_on")).alias("show__filled_on"),
    )
    if registry is not None:
        reg = registry.select(
            pl.col("code").cast(pl.Utf8).alias("unit_code"),
            pl.lit(YES).alias("reg_known__"),
            pl.col("name").alias("reg_name__"),
            fold_expr(pl.col("name")).alias("reg_name_fold__"),
            pl.when(pl.col("must_report")).then(pl.lit(YES)).otherwise(pl.lit(NO)).alias("reg_must__"),
        ).unique("unit_code", keep="first")
        out = out.join(reg, on="unit_code", how="left").with_columns(
            pl.when(pl.col("unit_code").is_not_null())
            .then(pl.col("reg_known__").fill_null(NO))
            .alias("reg_known__")
        )
        out = _with_conflict(out, registry)
    else:
        out = out.with_columns(
            pl.lit(None, pl.Utf8).alias(c)
            for c in ("reg_known__", "reg_name__", "reg_name_fold__", "reg_must__", "conflict__", "conflict_name__", "name_cmp__")
        )
    out = _with_period_format(out)
    arrivals = pl.DataFrame(
        {RID: list(arrival or {}), "arrival__": list((arrival or {}).values())},
        schema={RID: pl.Int32, "arrival__": pl.Date},
    )
    return out.join(arrivals, on=RID, how="left").with_columns(
        pl.format("报送日期（{}）", display_date(pl.col("arrival__"))).alias("other__arrival")
    )


def _with_conflict(info: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """Add ``conflict__``/``conflict_name__`` (code and name of the registered unit whose name the return
    carries while its 单位代码 is another unit's) and ``name_cmp__`` (the folded name, for the name-mismatch check).

    A name that is another unit's makes the code suspect (``unit-code-conflict``);
    a name that is no unit's is a variant of the unit's own (``unit-name-mismatch``),
    so ``name_cmp__`` is null on a conflict: one finding per mistake.
    """
    names = (
        registry.select(fold_expr(pl.col("name")).alias("name_fold__"), pl.col("code").cast(pl.Utf8).alias("other__"),
                        pl.col("name").alias("other_name__"))
        .drop_nulls()
        .sort("other__")
        .unique("name_fold__", keep="first")
    )
    joined = info.join(names, on="name_fold__", how="left")
    clash = (
        pl.col("reg_name_fold__").is_not_null()
        & (pl.col("name_fold__") != pl.col("reg_name_fold__"))
        & pl.col("other__").is_not_null()
        & (pl.col("other__") != pl.col("unit_code"))
    )
    return joined.with_columns(
        pl.when(clash).then(pl.col("other__")).alias("conflict__"),
        pl.when(clash).then(pl.col("other_name__")).alias("conflict_name__"),
        pl.when(~clash.fill_null(False)).then(pl.col("name_fold__")).alias("name_cmp__"),
    ).drop("other__", "other_name__")


def _with_period_format(info: pl.DataFrame) -> pl.DataFrame:
    """Add ``period_ok__``: the collected period where the typed 报送期 means it, for ``period-format``
    (a 报送期 of another month is ``wrong-period`` only)."""
    period = pl.col(fold("period"))
    return info.with_columns(
        pl.when(period == pl.col("expected_period__")).then(period).alias("period_ok__"),
        fold_expr(pl.col(raw("period"))).alias("period_typed__"),
    )
