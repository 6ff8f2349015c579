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

import polars as pl

from jobs.core.schema import Schema
from jobs.office.config import History
from jobs.validate.lifecycle import STACK_INDEX, Earlier, empty_marks, marks_frame

TASK_COUNTS = {"found": "排查问题数", "fixed": "已整改数", "cases": "立案查处数"}
SERIES = ["unit", "sheet", "item", "column"]
_LONG = {STACK_INDEX: pl.Int32, "unit": pl.Utf8, "sheet": pl.Utf8, "row": pl.Int64, "item": pl.Utf8,
         "column": pl.Utf8, "value": pl.Int64}  # fmt: skip
MIN_UNIFORM = 3  # a sheet of one or two rows being perfect says nothing


def _long(tasks: pl.DataFrame | None, acc: pl.DataFrame | None, *, schema: Schema, keep: list[str]) -> pl.DataFrame:
    """Counts one row per figure: ``item`` is ``<task_no>:<key>`` or an accountability key."""
    parts = []
    if tasks is not None and tasks.height:
        parts.append(
            tasks.filter(pl.col("task_no").is_not_null())
            .unpivot(index=[*keep, "task_no"], on=list(TASK_COUNTS), variable_name="_key", value_name="value")
            .select(*keep, pl.lit("tasks").alias("sheet"),
                    pl.format("{}:{}", "task_no", "_key").alias("item"),
                    pl.col("_key").replace_strict(TASK_COUNTS, return_dtype=pl.Utf8).alias("column"),
                    pl.col("value").cast(pl.Int64))
        )  # fmt: skip
    names = {c.key: c.name for c in schema.sheet("accountability").columns}
    if acc is not None and acc.height:
        present = [k for k in names if k in acc.columns]
        parts.append(
            acc.unpivot(index=keep, on=present, variable_name="item", value_name="value")
            .select(*keep, pl.lit("accountability").alias("sheet"), "item",
                    pl.col("item").replace_strict(names, return_dtype=pl.Utf8).alias("column"),
                    pl.col("value").cast(pl.Int64))
        )  # fmt: skip
    if not parts:
        return pl.DataFrame(schema={k: v for k, v in _LONG.items() if k in [*keep, "sheet", "item", "column", "value"]})
    return pl.concat(parts, how="diagonal_relaxed").filter(pl.col("value").is_not_null())


def current_counts(tables: Mapping[str, pl.DataFrame], units: pl.DataFrame, *, schema: Schema) -> pl.DataFrame:
    """The batch's figures: ``_i, unit, row, sheet, item, column, value`` (``row`` null for 责任追究)."""
    pick = units.select(STACK_INDEX)
    tasks = tables.get("tasks")
    acc = tables.get("accountability")
    tasks = tasks.join(pick, on=STACK_INDEX, how="semi").with_columns(pl.col("row").cast(pl.Int64)) if tasks is not None else None
    if acc is not None:
        acc = acc.join(pick, on=STACK_INDEX, how="semi").with_columns(pl.lit(None, pl.Int64).alias("row"))
    return _long(tasks, acc, schema=schema, keep=[STACK_INDEX, "unit", "row"])


def earlier_counts(earlier: Earlier, *, schema: Schema) -> pl.DataFrame:
    """Every earlier counting return's figures: ``unit, period, rank, sheet, item, column, value``."""
    return _long(earlier.tasks, earlier.accountability, schema=schema, keep=["unit", "period", "rank"])


def decreased(cur: pl.DataFrame, hist: pl.DataFrame) -> pl.DataFrame:
    """``count-decreased``: a cumulative figure lower than in the previous return."""
    prev = hist.filter(pl.col("rank") == 1).select(*SERIES, pl.col("value").alias("_p"), "period")
    hit = cur.join(prev, on=SERIES).filter(pl.col("value") < pl.col("_p"))
    return _with_column(hit, code="count-decreased", value=pl.col("value").cast(pl.Utf8),
                        earlier=pl.col("_p").cast(pl.Utf8), previous=pl.col("period"))  # fmt: skip


def own_outliers(cur: pl.DataFrame, hist: pl.DataFrame, *, z: float, min_history: int) -> pl.DataFrame:
    """``outlier``: this month's increment against the unit's own earlier increments (modified z-score)."""
    inc = (
        hist.sort(*SERIES, "rank", descending=[False, False, False, False, True])
        .with_columns((pl.col("value") - pl.col("value").shift(1).over(SERIES)).alias("_inc"))
        .filter(pl.col("_inc").is_not_null())
        .with_columns(pl.col("_inc").median().over(SERIES).alias("_med"))
        .group_by(SERIES).agg(
            pl.len().alias("_n"), pl.col("_med").first(), (pl.col("_inc") - pl.col("_med")).abs().median().alias("_mad")
        )
    )  # fmt: skip
    prev = hist.filter(pl.col("rank") == 1).select(*SERIES, pl.col("value").alias("_p"))
    scored = (
        cur.join(prev, on=SERIES).join(inc.filter(pl.col("_n") >= min_history), on=SERIES)
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
    """Marks on each row's own sheet and column (figures of both sheets in one frame)."""
    parts = []
    for sheet in ("tasks", "accountability"):
        part = frame.filter(pl.col("sheet") == sheet)
        marks = marks_frame(part, code=code, sheet=sheet, column=None, **params)
        parts.append(marks.with_columns(part["column"].alias("column")) if part.height else marks)
    return pl.concat(parts)


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
    hist = earlier_counts(earlier, schema=schema)
    return pl.concat([
        decreased(cur, hist),
        own_outliers(cur, hist, z=rules.outlier_z, min_history=rules.outlier_history),
        uniform(tables, units, earlier),
    ])  # fmt: skip
