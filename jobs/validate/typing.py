"""Cleaned text -> typed columns, vectorised over a whole batch.

A batch's returns are stacked per sheet into one frame with ``_rid`` (the
return's position in the batch) and ``_row`` (1-based Excel row). Every
schema column ``k`` becomes:

- ``raw__k``  the cleaned text as received (null when empty or absent);
- ``k``       the typed value (Utf8 canonical enum / Int64 / Date / ``YYYY-MM``),
  null when empty *or unparseable* — so conditional rules never fire on a
  value that already has its own bad-enum/bad-date/bad-number finding;
- ``fold__k`` (enum, period and substance columns) the folded text the
  declared checks compare;
- ``parsed__k`` (date and integer columns) true where the cell is empty or parses;
- ``len__k``  (substance columns) characters after folding whitespace, null
  for empty or placeholder text so ``too-thin`` never doubles ``*-missing``.

Key/value sheets become one wide row per return with ``row__k`` holding the
Excel row of each item. No per-cell Python on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from jobs.core.normalize import clean_cell_expr, date_expr, int_expr
from jobs.core.schema import Column, Schema, Sheet
from jobs.core.text import fold_key
from jobs.intake.read.grid import AsRead, KeyValues, key_values_frame
from jobs.intake.read.grid import stack as stack_grids

RID = "_rid"
ROW = "_row"
# Whitespace kinds clean_text also strips, plus zero-width characters.
_WS = r"[\s\u3000\u00a0\u200b\ufeff]"
_WS_PUNCT = r"[\s\u3000\u00a0\u200b\ufeff\p{P}\p{S}]"
# 2015-02, 2015/2, 2015.02, 2015年2月, or six digits 201502
_PERIOD_RE = r"^(\d{4})(?:[-/.年](\d{1,2})月?|(\d{2}))$"


def raw(key: str) -> str:
    return f"raw__{key}"


def fold(key: str) -> str:
    return f"fold__{key}"


def length(key: str) -> str:
    return f"len__{key}"


def parsed(key: str) -> str:
    return f"parsed__{key}"


def row_of(key: str) -> str:
    return f"row__{key}"


# -- vectorised parsers -------------------------------------------------------


def fold_expr(expr: pl.Expr) -> pl.Expr:
    """NFKC and every kind of whitespace removed (the Polars twin of ``fold_key``)."""
    return expr.str.normalize("NFKC").str.replace_all(_WS, "")


def copy_key_expr(expr: pl.Expr) -> pl.Expr:
    """Fold whitespace *and* punctuation: the text compared for copies and placeholders."""
    return expr.str.normalize("NFKC").str.replace_all(_WS_PUNCT, "")


def parse_date_expr(expr: pl.Expr) -> pl.Expr:
    """Date from any spelling :mod:`jobs.core.normalize` accepts; null otherwise."""
    return date_expr(expr)


def parse_int_expr(expr: pl.Expr, *, max_count: int | None = None) -> pl.Expr:
    """Non-negative integer (``12``, ``１２``, ``12.0``, ``1,200``) up to ``max_count``; null otherwise.

    ``max_count`` (the office's ``[limits] max_count``, None: no bound but Int64's)
    keeps an implausible count such as 9×10¹⁸ out of every total: it is a
    ``bad-number`` like a negative one.
    """
    value = int_expr(expr)
    ok = value >= 0 if max_count is None else value.is_between(0, max_count)
    return pl.when(ok).then(value)


def parse_period_expr(expr: pl.Expr) -> pl.Expr:
    """``YYYY-MM`` from ``2015-02``, ``2015-2``, ``2015年2月``, ``2015.02``, ``201502``, or a date."""
    text = fold_expr(expr)
    year = text.str.extract(_PERIOD_RE, 1)
    month = pl.coalesce(text.str.extract(_PERIOD_RE, 2), text.str.extract(_PERIOD_RE, 3))
    spelled = pl.when(month.cast(pl.Int32, strict=False).is_between(1, 12)).then(
        pl.concat_str(year, pl.lit("-"), month.str.zfill(2))
    )
    as_date = parse_date_expr(expr).dt.strftime("%Y-%m")
    return pl.coalesce(spelled, as_date)


# -- stacking -------------------------------------------------------------------


def stack_table(returns: Sequence[tuple[int, Any]], sheet: Sheet) -> pl.DataFrame:
    """Stack one table sheet of many returns: ``_rid, _row, raw__k...`` (empty rows dropped)."""
    wanted = {c.name: raw(c.key) for c in sheet.columns}
    parts, rids, heights, as_read = [], [], [], []
    for rid, ret in returns:
        src = ret.sheets.get(sheet.key)
        if src is None:
            continue
        data = getattr(src, "data", None)
        if isinstance(data, AsRead):
            as_read.append((rid, data))
        elif src.frame.height:
            parts.append(src.frame)
            rids.append(rid)
            heights.append(src.frame.height)
    schema = {RID: pl.Int32(), ROW: pl.Int32(), **{v: pl.Utf8() for v in wanted.values()}}
    empty = pl.DataFrame(schema=schema)
    # No per-return Polars work: one concat (a single chunk — string kernels,
    # regexes above all, pay a set-up cost per chunk), then rename and tag.
    pieces = []
    if parts:
        tags = pl.Series(RID, np.repeat(np.asarray(rids, dtype=np.int32), heights))
        pieces.append(pl.concat(parts, how="diagonal_relaxed").with_columns(tags))
    if as_read:
        pieces.append(stack_grids(as_read, rid=RID))
    if not pieces:
        return empty
    # Each piece is one chunk already; two chunks cost the string kernels nothing
    # worth copying every text for.
    stacked = pieces[0] if len(pieces) == 1 else pl.concat(pieces, how="diagonal_relaxed", rechunk=False)
    stacked = stacked.rename({k: v for k, v in wanted.items() if k in stacked.columns})
    frame = stacked.select(
        pl.col(c).cast(t) if c in stacked.columns else pl.lit(None, t).alias(c) for c, t in schema.items()
    )
    raws = list(wanted.values())
    # The reader may leave text as read (read_return(clean=False)): cleaning the
    # whole batch here is one pass instead of a Python pass per sheet. It is
    # idempotent, so already cleaned sheets come out unchanged.
    frame = frame.with_columns(_cleaned(frame.get_column(c)) for c in raws)
    return frame.filter(pl.any_horizontal(pl.col(raws).is_not_null()))


_REPEATS = 4  # a column holding fewer distinct values than rows / this is cleaned once per value
_SAMPLE = 2000  # rows that decide whether a column repeats


def per_value(column: pl.Series, make: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """``make(column)``, computed once per distinct value when the column's values repeat.

    Counts, dates, enum choices and task names repeat (100k 专项整治 rows hold
    a few hundred distinct values): a regex pass over those and a mapping back
    costs a fraction of one over every cell. Free text is done cell by cell.
    ``make`` must act value by value (an elementwise Utf8 -> Utf8 expression).
    """
    name = column.name
    # A sample decides (either way gives the same result): hashing every long text
    # only to learn that it never repeats costs about what the regexes do.
    sample = column.head(_SAMPLE)
    if sample.n_unique() * _REPEATS > len(sample):
        return column.to_frame().select(make(pl.col(name)).alias(name)).to_series()
    distinct = column.unique()
    done = distinct.to_frame().select(make(pl.col(name)).alias(name)).to_series()
    return column.replace_strict(distinct, done, return_dtype=pl.Utf8)


def _cleaned(column: pl.Series) -> pl.Series:
    """``clean_cell_expr`` on one stacked column (once per distinct value when values repeat)."""
    return per_value(column, clean_cell_expr)


def stack_keyvalue(returns: Sequence[tuple[int, Any]], sheet: Sheet) -> pl.DataFrame:
    """One wide row per return holding the sheet: ``_rid, raw__k, row__k...``.

    Items are matched by folded name; a repeated item keeps its first row.
    """
    by_fold = {fold_key(c.name): c.key for c in sheet.columns}
    frames, frame_rids, lists, list_rids = [], [], [], []
    for rid, ret in returns:
        src = ret.sheets.get(sheet.key)
        if src is None:
            continue
        data = getattr(src, "data", None)
        if isinstance(data, KeyValues):  # the reader's plain lists: one frame for the batch
            lists.append(data)
            list_rids.append(rid)
        else:
            frame = src.frame
            frames.append(frame if frame.columns == ["_item", "_value", "_row"] else frame.select("_item", "_value", "_row"))
            frame_rids.append(rid)
    parts, tags, heights = [], [*list_rids, *frame_rids], [len(kv.items) for kv in lists] + [f.height for f in frames]
    if lists:
        parts.append(key_values_frame(lists))
    parts += frames
    keys = [c.key for c in sheet.columns]
    out_schema = {RID: pl.Int32(), **{raw(k): pl.Utf8() for k in keys}, **{row_of(k): pl.Int32() for k in keys}}
    if not parts:
        return pl.DataFrame(schema=out_schema)
    stacked = pl.concat(parts, how="vertical_relaxed", rechunk=True).with_columns(
        pl.Series(RID, np.repeat(np.asarray(tags, dtype=np.int32), heights))
    )
    # every return lists the same few item names: fold each once
    item_keys = per_value(
        stacked.get_column("_item").cast(pl.Utf8),
        lambda e: fold_expr(e).replace_strict(by_fold, default=None, return_dtype=pl.Utf8),
    )
    long = (
        stacked.with_columns(
            item_keys.alias("_key"),
            pl.col("_value").cast(pl.Utf8).str.strip_chars().replace("", None),
            pl.col("_row").cast(pl.Int32),
        )
        .filter(pl.col("_key").is_not_null())
        .unique([RID, "_key"], keep="first", maintain_order=True)
    )
    rids = pl.DataFrame({RID: sorted({rid for rid, ret in returns if sheet.key in ret.sheets})}, schema={RID: pl.Int32})
    wide = rids
    if long.height:
        values = long.pivot("_key", index=RID, values="_value").rename({k: raw(k) for k in keys}, strict=False)
        rows = long.pivot("_key", index=RID, values="_row").rename({k: row_of(k) for k in keys}, strict=False)
        wide = rids.join(values, on=RID, how="left").join(rows, on=RID, how="left")
    return pl.concat([pl.DataFrame(schema=out_schema), wide], how="diagonal_relaxed", rechunk=True).select(
        list(out_schema)
    )


# -- typing -----------------------------------------------------------------------


def _typed(col: Column, *, max_count: int | None) -> pl.Expr:
    src = pl.col(raw(col.key))
    if col.type == "integer":
        return parse_int_expr(src, max_count=max_count)
    if col.type == "date":
        return parse_date_expr(src)
    if col.type == "period":
        return parse_period_expr(src)
    if col.type == "enum":
        canon = {fold_key(v): v for v in col.values or ()}
        return fold_expr(src).replace_strict(canon, default=None, return_dtype=pl.Utf8)
    return src


# Typed once per distinct value and joined back: the parsers are regexes, and
# a batch holds 100k task rows but a few hundred distinct counts, dates, codes.
_PER_VALUE = ("integer", "date", "period", "enum")


def _value_exprs(col: Column, *, max_count: int | None) -> list[pl.Expr]:
    """Typed value plus ``parsed__`` / ``fold__`` for one column, as functions of its raw text."""
    src = pl.col(raw(col.key))
    typed = _typed(col, max_count=max_count)
    out = [typed.alias(col.key)]
    if col.type in ("date", "integer"):
        out.append((src.is_null() | typed.is_not_null()).alias(parsed(col.key)))
    if col.type == "enum":
        out.append(fold_expr(src).alias(fold(col.key)))
    elif col.type == "period":
        # wrong-period compares the normalised period, or the text when it is not one.
        out.append(pl.coalesce(parse_period_expr(src), src).alias(fold(col.key)))
    return out


def type_columns(
    frame: pl.DataFrame, sheet: Sheet, *, schema: Schema, max_count: int | None = None
) -> pl.DataFrame:
    """Add typed, folded and length columns for every schema column of ``sheet``.

    Integers above ``max_count`` (``[limits] max_count``) are typed null, so
    ``parsed__k`` is false and the check reports ``bad-number``.
    """
    exprs: list[pl.Expr] = []
    order = list(frame.columns)
    distinct: list[tuple[str, pl.DataFrame]] = []
    placeholders = sorted({copy_key_expr_py(p) for p in schema.substance.placeholders} | {""})
    nfkc: list[pl.Expr] = []
    lengths: list[pl.Expr] = []
    for col in sheet.columns:
        src = pl.col(raw(col.key))
        value_exprs = _value_exprs(col, max_count=max_count)
        order += [e.meta.output_name() for e in value_exprs]
        if col.type in _PER_VALUE:
            distinct.append((raw(col.key), frame.select(src.unique()).with_columns(value_exprs)))
        else:
            exprs += value_exprs
        if col.substance:
            # Free text, long and never repeating: NFKC (the costly part) once per
            # cell, then copy_key_expr / fold_expr finish from it in one pass each.
            normal = _nfkc(col.key)
            nfkc.append(src.str.normalize("NFKC").alias(normal))
            key = pl.col(normal).str.replace_all(_WS_PUNCT, "")
            exprs.append(key.alias(fold(col.key)))
            lengths.append(
                pl.when(src.is_not_null() & ~pl.col(fold(col.key)).is_in(placeholders))
                .then(pl.col(normal).str.replace_all(_WS, "").str.len_chars().cast(pl.Int64))
                .alias(length(col.key))
            )
            order += [fold(col.key), length(col.key)]
    out = frame.with_columns(nfkc).with_columns(exprs)
    if lengths:
        out = out.with_columns(lengths)
    for name, table in distinct:
        out = out.join(table, on=name, how="left", nulls_equal=True, maintain_order="left")
    return out.select(order)


def _nfkc(key: str) -> str:
    return f"nfkc__{key}"


def copy_key_expr_py(text: str) -> str:
    """``copy_key_expr`` for one Python string (placeholder sets, tests)."""
    return _copy_key_cached(text)


@lru_cache(maxsize=1024)
def _copy_key_cached(text: str) -> str:
    return pl.select(copy_key_expr(pl.lit(text, pl.Utf8))).item() or ""


def display_date(expr: pl.Expr) -> pl.Expr:
    """A date as ``2015-02-20`` for messages."""
    return expr.dt.strftime("%Y-%m-%d")
