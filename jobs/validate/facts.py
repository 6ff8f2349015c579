"""Per-return facts, built with ``group_by`` over the stacked batch.

Rules about a return as a whole (every task present exactly once, the fixed
责任追究 rows, a non-empty ledger, the principal among the members) are
checked as expectations on these small frames, one row per return (or per
return × task / item), so the whole batch is still one GX run per frame.
A return whose sheet or key column is missing gets no facts row for it: the
structural finding already says so.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from jobs.core.schema import Schema
from jobs.validate.suites import NO, TASK_NO, YES
from jobs.validate.typing import RID, fold_expr, raw, row_of

PRINCIPAL = "principal"  # 基本信息 item that must appear among the members
MEMBER = "member"  # 个人整改 column holding the member's name

Locations = Mapping[str, Mapping[int, Mapping[str, int]]]  # sheet key -> rid -> header -> column index


def _with_column(locs: Locations, sheet_key: str, header: str) -> list[int]:
    return sorted(rid for rid, cols in locs.get(sheet_key, {}).items() if header in cols)


def task_facts(tasks: pl.DataFrame, locs: Locations, *, schema: Schema) -> pl.DataFrame:
    """One row per return × catalogue task: ``_rid, task_no, task_name, n`` (rows carrying that number)."""
    header = next(c.name for c in schema.sheet("tasks").columns if c.key == TASK_NO)
    rids = pl.DataFrame({RID: _with_column(locs, "tasks", header)}, schema={RID: pl.Int32})
    catalogue = pl.DataFrame(
        {"task_no": list(schema.tasks), "task_name": list(schema.tasks.values())},
        schema={"task_no": pl.Int64, "task_name": pl.Utf8},
    )
    counts = tasks.group_by(RID, TASK_NO).len("n").rename({TASK_NO: "task_no"})
    return (
        rids.join(catalogue, how="cross")
        .join(counts, on=[RID, "task_no"], how="left")
        .with_columns(pl.col("n").fill_null(0).cast(pl.Int64))
        .sort(RID, "task_no")
    )


def accountability_facts(accountability: pl.DataFrame, *, schema: Schema) -> pl.DataFrame:
    """One row per return × fixed 责任追究 item: ``_rid, item, present`` (``yes``/``no``)."""
    cols = schema.sheet("accountability").columns
    return (
        accountability.select(
            RID,
            *[
                pl.when(pl.col(row_of(c.key)).is_not_null()).then(pl.lit(YES)).otherwise(pl.lit(NO)).alias(c.name)
                for c in cols
            ],
        )
        .unpivot(index=RID, variable_name="item", value_name="present")
        .sort(RID)
    )


def return_facts(
    rids: list[int],
    *,
    info: pl.DataFrame,
    ledger: pl.DataFrame,
    members: pl.DataFrame,
    locs: Locations,
    schema: Schema,
) -> pl.DataFrame:
    """One row per return: ``_rid, report_type, n_ledger, principal, principal_listed``."""
    base = pl.DataFrame({RID: rids}, schema={RID: pl.Int32})
    kinds = info.select(RID, pl.col("report_type"), pl.col(raw(PRINCIPAL)).alias("principal"))
    with_ledger = pl.DataFrame({RID: sorted(locs.get("ledger", {}))}, schema={RID: pl.Int32})
    n_ledger = with_ledger.join(ledger.group_by(RID).len("n_ledger"), on=RID, how="left").with_columns(
        pl.col("n_ledger").fill_null(0).cast(pl.Int64)
    )
    member_header = next(c.name for c in schema.sheet("members").columns if c.key == MEMBER)
    checkable = pl.DataFrame({RID: _with_column(locs, "members", member_header)}, schema={RID: pl.Int32})
    names = members.select(RID, fold_expr(pl.col(raw(MEMBER))).alias("_name")).drop_nulls().unique()
    facts = (
        base.join(kinds, on=RID, how="left")
        .join(n_ledger, on=RID, how="left")
        .with_columns(
            pl.col("report_type").fill_null(schema.default_report_type),
            fold_expr(pl.col("principal")).alias("_name"),
        )
    )
    listed = facts.join(names, on=[RID, "_name"], how="semi").select(RID, pl.lit(YES).alias("principal_listed"))
    facts = facts.join(listed, on=RID, how="left").with_columns(
        pl.when(pl.col(RID).is_in(checkable[RID].implode()) & pl.col("principal").is_not_null())
        .then(pl.col("principal_listed").fill_null(NO))
        .alias("principal_listed")
    )
    return facts.drop("_name").sort(RID)
