"""Figure rules of the history stage (issue 17): cumulative counts read against the unit's earlier returns.

专项整治 counts (排查问题数, 已整改数, 立案查处数 per task) and 责任追究 rows are
cumulative (累计数); a month's increment is this return's figure minus the
previous accepted one's. Each rule returns marks (:data:`jobs.validate.lifecycle.MARKS`):

- :func:`decreased` — ``count-decreased``: a cumulative figure lower than before;
- :func:`own_outliers` — ``outlier``: an increment far from the unit's own
  earlier increments, by the modified z-score 0.6745·(x − median)/MAD (the
  method DHIS2 and the WHO data-quality review use). Counts are integers, so a
  MAD below 1 (most earlier increments equal) counts as 1: a flat history then
  flags only a jump of 3.5/0.6745 ≈ 5.2 or more above its median, never a
  change of one or two;
- :func:`uniform` — ``uniform-figures``: a whole sheet turned perfect at once
  (every task with problems fully fixed, every item 已完成 and 满意) where the
  previous return was far from it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from jobs.core.schema import Schema, load_schema
from jobs.office.config import History
from jobs.validate.lifecycle import STACK_INDEX, Earlier, empty_marks, marks_frame

TASK_COUNTS = {"found": "排查问题数", "fixed": "已整改数", "cases": "立案查处数"}
SERIES = ["unit", "item"]
# A figure's ``item`` is a small integer (strings cost ~1 s per 1,000 units' six months):
# a task's count is ``task_no * 4 + k`` (k: its index in TASK_COUNTS), a 责任追究 row ``1000 + j``.
_ACCOUNTABILITY_ITEM = 1000
MIN_UNIFORM = 3  # a sheet of one or two rows being perfect says nothing


def figure_names(schema: Schema) -> dict[int, tuple[str, str]]:
    """``item -> (sheet key, column or row name)`` of every figure."""
    out = {no * 4 + k: ("tasks", name) for no in schema.tasks for k, name in enumerate(TASK_COUNTS.values())}
    for j, col in enumerate(c for c in schema.sheet("accountability").columns if c.type == "integer"):
        out[_ACCOUNTABILITY_ITEM + j] = ("accountability", col.name)
    return out


def _long(tasks: pl.DataFrame | None, acc: pl.DataFrame | None, *, schema: Schema, keep: list[str]) -> pl.DataFrame:
    """Counts one row per figure (``keep`` + ``item, value``)."""
    parts = []
    if tasks is not None and tasks.height:
        for k, key in enumerate(TASK_COUNTS):
            parts.append(tasks.filter(pl.col("task_no").is_not_null()).select(
                *keep, (pl.col("task_no").cast(pl.Int64) * 4 + k).alias("item"), pl.col(key).cast(pl.Int64).alias("value")
            ))  # fmt: skip
    if acc is not None and acc.height:
        cols = [c.key for c in schema.sheet("accountability").columns if c.type == "integer"]
        for j, key in enumerate(cols):
            if key in acc.columns:
                parts.append(acc.select(*keep, pl.lit(_ACCOUNTABILITY_ITEM + j, pl.Int64).alias("item"),
                                        pl.col(key).cast(pl.Int64).alias("value")))  # fmt: skip
    if not parts:
        return pl.DataFrame(schema={"item": pl.Int64, "value": pl.Int64})
    return pl.concat(parts, how="diagonal_relaxed").filter(pl.col("value").is_not_null())


def current_counts(tables: Mapping[str, pl.DataFrame], units: pl.DataFrame, *, schema: Schema) -> pl.DataFrame:
    """The batch's figures: ``_i, unit, row, item, value`` (``row`` null for 责任追究)."""
    pick = units.select(STACK_INDEX)
    tasks = tables.get("tasks")
    acc = tables.get("accountability")
    tasks = tasks.join(pick, on=STACK_INDEX, how="semi").with_columns(pl.col("row").cast(pl.Int64)) if tasks is not None else None
    if acc is not None:
        acc = acc.join(pick, on=STACK_INDEX, how="semi").with_columns(pl.lit(None, pl.Int64).alias("row"))
    return _long(tasks, acc, schema=schema, keep=[STACK_INDEX, "unit", "row"])


def earlier_counts(earlier: Earlier, *, schema: Schema) -> pl.DataFrame:
    """Every earlier counting return's figures: ``unit, period, rank, item, value``."""
    return _long(earlier.tasks, earlier.accountability, schema=schema, keep=["unit", "period", "rank"])


def decreased(cur: pl.DataFrame, stats: pl.DataFrame) -> pl.DataFrame:
    """``count-decreased``: a cumulative figure lower than in the previous return (``stats``: :func:`increment_stats`)."""
    hit = cur.join(stats.select(*SERIES, "_p", "_period"), on=SERIES).filter(pl.col("value") < pl.col("_p"))
    return _with_column(hit, code="count-decreased", value=pl.col("value").cast(pl.Utf8),
                        earlier=pl.col("_p").cast(pl.Utf8), previous=pl.col("_period"))  # fmt: skip


def increment_stats(hist: pl.DataFrame, *, min_history: int) -> pl.DataFrame:
    """Per figure of each unit's previous return: ``_p`` (its value, of period ``_period``), ``_n``
    earlier increments and, with at least ``min_history`` of them, their ``_med`` and ``_mad``.

    Computed once per run, in NumPy over a (unit, figure, return) cube: a
    Polars median per figure cost ~1 s per 1,000 units' six months. An
    increment across a return that lacks the figure is unknown (NaN), not 0.
    """
    out_schema = {"unit": pl.Utf8, "item": pl.Int64, "_p": pl.Int64, "_period": pl.Utf8, "_n": pl.Int64,
                  "_med": pl.Float64, "_mad": pl.Float64}  # fmt: skip
    if hist.height == 0:
        return pl.DataFrame(schema=out_schema)
    units = hist["unit"].unique().sort()
    items = hist["item"].unique().sort()
    idx = hist.select(
        pl.col("unit").replace_strict(units, range(len(units)), return_dtype=pl.Int64).alias("u"),
        pl.col("item").replace_strict(items, range(len(items)), return_dtype=pl.Int64).alias("i"),
        (pl.col("rank") - 1).alias("r"), pl.col("value").cast(pl.Float64),
    )  # fmt: skip
    depth = int(idx["r"].max()) + 1
    cube = np.full((len(units), len(items), depth), np.nan)
    cube[idx["u"].to_numpy(), idx["i"].to_numpy(), idx["r"].to_numpy()] = idx["value"].to_numpy()
    inc = np.diff(cube[:, :, ::-1], axis=2)  # oldest first: each return minus the one before
    known = ~np.isnan(inc)
    n = known.sum(axis=2)
    scored = n >= max(min_history, 1)
    med = np.full(n.shape, np.nan)
    mad = np.full(n.shape, np.nan)
    if scored.any():
        med[scored] = np.nanmedian(inc[scored], axis=1)
        mad[scored] = np.nanmedian(np.abs(inc[scored] - med[scored][:, None]), axis=1)
    present = ~np.isnan(cube[:, :, 0])
    u, i = np.nonzero(present)
    previous = hist.filter(pl.col("rank") == 1).group_by("unit").agg(pl.col("period").first().alias("_period"))
    return pl.DataFrame({
        "unit": units.gather(u), "item": items.gather(i), "_p": cube[u, i, 0].astype(np.int64),
        "_n": n[u, i].astype(np.int64), "_med": med[u, i], "_mad": mad[u, i],
    }).join(previous, on="unit", how="left").select(list(out_schema))  # fmt: skip


def own_outliers(cur: pl.DataFrame, stats: pl.DataFrame, *, z: float, min_history: int) -> pl.DataFrame:
    """``outlier``: this month's increment against the unit's own earlier increments (modified z-score).

    ``stats`` is :func:`increment_stats` of the earlier returns.
    """
    scored = (
        cur.join(stats.filter((pl.col("_n") >= min_history) & pl.col("_med").is_not_nan()), on=SERIES)
        .with_columns((pl.col("value") - pl.col("_p")).alias("_x"))
        # a fall is count-decreased, not scored here
        .filter(pl.col("_x") >= 0)
        .with_columns((0.6745 * (pl.col("_x") - pl.col("_med")) / pl.max_horizontal(pl.col("_mad"), 1.0)).alias("_z"))
        .filter(pl.col("_z").abs() >= z)
    )  # fmt: skip
    reason = pl.format(
        "本月增加{}，与本单位此前{}个月的增量（中位数{}）相比异常（修正Z值{}）",
        "_x", "_n", pl.col("_med").round(1), pl.col("_z").round(1),
    )
    return _with_column(scored, code="outlier", reason=reason)


def _with_column(frame: pl.DataFrame, *, code: str, **params: pl.Expr) -> pl.DataFrame:
    """Marks on each figure's own sheet and column (``item``: see :func:`figure_names`)."""
    if frame.height == 0:
        return empty_marks()
    names = figure_names(load_schema())
    items = frame["item"].to_list()
    marks = marks_frame(frame, code=code, sheet="tasks", column=None, **params)
    return marks.with_columns(
        pl.Series("sheet", [names[i][0] for i in items], pl.Utf8),
        pl.Series("column", [names[i][1] for i in items], pl.Utf8),
    )


def uniform(tables: Mapping[str, pl.DataFrame], units: pl.DataFrame, earlier: Earlier) -> pl.DataFrame:
    """``uniform-figures``: a sheet made perfect at once, where the previous return was far from it."""
    out = [empty_marks()]
    prev_returns = earlier.returns.filter(pl.col("rank") == 1).select("unit", pl.col("period").alias("_period"))
    tasks = tables.get("tasks")
    if tasks is not None and tasks.height:
        def shape(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
            busy = frame.filter(pl.col("found") > 0)
            return busy.group_by(by).agg(pl.len().alias("_n"), (pl.col("fixed") == pl.col("found")).all().alias("_all"))

        now = shape(tasks.join(units, on=[STACK_INDEX, "unit"], how="semi"), [STACK_INDEX, "unit"])
        before = shape(earlier.tasks.filter(pl.col("rank") == 1), ["unit"])
        hit = (
            now.filter((pl.col("_n") >= MIN_UNIFORM) & pl.col("_all"))
            .join(before.filter(~pl.col("_all")), on="unit", suffix="_p").join(prev_returns, on="unit")
        )  # fmt: skip
        reason = pl.format("本月{}项有排查问题的任务已整改数全部等于排查问题数，而{}报表中尚有未整改完的任务",
                           "_n", "_period")  # fmt: skip
        out.append(marks_frame(hit, code="uniform-figures", sheet="tasks", column=None, reason=reason,
                               previous=pl.col("_period")))  # fmt: skip
    ledger = tables.get("ledger")
    if ledger is not None and ledger.height:
        now = ledger.join(units, on=[STACK_INDEX, "unit"], how="semi").group_by(STACK_INDEX, "unit").agg(
            pl.len().alias("_n"), ((pl.col("status") == "已完成") & (pl.col("evaluation") == "满意")).all().alias("_all")
        )
        before = earlier.ledger.filter(pl.col("rank") == 1).group_by("unit").agg(
            pl.len().alias("_k"), (pl.col("status") != "已完成").sum().alias("_open")
        )
        hit = (
            now.filter((pl.col("_n") >= MIN_UNIFORM) & pl.col("_all"))
            .join(before.filter(pl.col("_open") * 2 > pl.col("_k")), on="unit").join(prev_returns, on="unit")
        )  # fmt: skip
        reason = pl.format("本月{}项问题全部为“已完成”且群众评价全部为“满意”，而{}报表{}项问题中有{}项尚未完成",
                           "_n", "_period", "_k", "_open")  # fmt: skip
        out.append(marks_frame(hit, code="uniform-figures", sheet="ledger", column=None, reason=reason,
                               previous=pl.col("_period")))  # fmt: skip
    return pl.concat(out)


def figure_marks(
    tables: Mapping[str, pl.DataFrame], units: pl.DataFrame, earlier: Earlier, *, rules: History, schema: Schema
) -> pl.DataFrame:
    """Every figure rule over a batch's tables (``units``: ``_i, unit`` of the returns taking part)."""
    cur = current_counts(tables, units, schema=schema)
    stats = earlier.derived(f"increments-{rules.outlier_history}", lambda: increment_stats(
        earlier_counts(earlier, schema=schema), min_history=rules.outlier_history))
    return pl.concat([
        decreased(cur, stats),
        own_outliers(cur, stats, z=rules.outlier_z, min_history=rules.outlier_history),
        uniform(tables, units, earlier),
    ])  # fmt: skip
