"""Copy detection (``copied-text``, 照抄照搬/拼拼凑凑) by hashing folded text.

见物/见思想 text of at least the minimum length is folded (whitespace and
punctuation removed, NFKC), hashed, and grouped by hash: no pairwise
comparison, so it stays cheap at national scale.

- Within a return (:func:`detect_repeats`, a per-file check run by the
  validator): the same text on different items (rows) — every later cell
  names the first cell carrying it.
- Across units of the same period (:func:`cross_unit_copies`, a stage over a
  whole batch's text hashes, run once: by intake's single writer, with the
  texts stored earlier, or by ``validate_files`` over the files it is given).
  The same unit (a resubmission) is never its own copy; other periods are
  never compared. See :mod:`jobs.validate.cross_units`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import polars as pl

from jobs.core.findings import column_letter
from jobs.core.schema import Schema
from jobs.validate.typing import RID, ROW, copy_key_expr, fold, fold_expr, length, raw

TEXTS_SCHEMA = {"unit": pl.Utf8, "sheet": pl.Utf8, "row": pl.Int32, "column": pl.Utf8, "hash": pl.Utf8}
# A batch's text hashes, as workers return them: ``_i`` (the result's index in
# the batch), the stored text columns, and ``col`` (0-based source column, for the cell).
BATCH_TEXTS_SCHEMA: dict[str, pl.DataType] = {
    "_i": pl.Int32(), "unit": pl.Utf8(), "sheet": pl.Utf8(), "row": pl.Int64(), "column": pl.Utf8(),
    "hash": pl.Utf8(), "col": pl.Int32(),
}


def text_hash(keys: pl.Series) -> pl.Series:
    """Stable hash of folded texts; stored, so it must not depend on the process.

    sha1, 20 hex digits: the store keeps these (:func:`copy_texts`), so stored
    texts and a later batch compare.
    """
    uniq = keys.drop_nulls().unique()
    hashes = pl.Series([hashlib.sha1(k.encode("utf-8")).hexdigest()[:20] for k in uniq.to_list()], dtype=pl.Utf8)
    return keys.replace_strict(uniq, hashes, default=None, return_dtype=pl.Utf8)


def _checked(schema: Schema) -> list[tuple[str, str, str, int]]:
    """(sheet key, column key, header, min length) of every copy-checked column."""
    sub = schema.substance
    return [
        (sheet.key, col.key, col.name, sub.min_length[col.substance])
        for sheet in schema.sheets
        if sheet.layout == "table"
        for col in sheet.columns
        if col.substance and col.substance in sub.copy_checked
    ]


def long_texts(frames: Mapping[str, pl.DataFrame], *, schema: Schema) -> pl.DataFrame:
    """Eligible texts, long: ``_rid, sheet, key, column, _row, hash`` (placeholders and short text excluded)."""
    parts = []
    placeholders = list({pl.select(copy_key_expr(pl.lit(p))).item() for p in schema.substance.placeholders})
    for sheet_key, key, header, min_len in _checked(schema):
        frame = frames.get(sheet_key)
        if frame is None or raw(key) not in frame.columns or frame.height == 0:
            continue
        text = pl.col(raw(key))
        if fold(key) in frame.columns and length(key) in frame.columns:
            # typed frames (jobs.validate.typing) already hold the folded text and
            # its length, null for placeholders: folding long texts twice costs more
            # than everything else here
            folded = pl.col(fold(key))
            eligible = pl.col(length(key)) >= min_len
        else:
            folded = copy_key_expr(text)
            eligible = (
                text.is_not_null()
                & (fold_expr(text).str.len_chars() >= min_len)
                & ~folded.is_in(placeholders)
                & (folded != "")
            )
        parts.append(
            frame.filter(eligible).select(
                RID,
                pl.lit(sheet_key).alias("sheet"),
                pl.lit(key).alias("key"),
                pl.lit(header).alias("column"),
                pl.col(ROW),
                folded.alias("_text"),
            )
        )
    empty = pl.DataFrame(schema={RID: pl.Int32, "sheet": pl.Utf8, "key": pl.Utf8, "column": pl.Utf8,
                                 ROW: pl.Int32, "hash": pl.Utf8})
    if not parts:
        return empty
    long = pl.concat(parts, how="vertical_relaxed")
    return long.with_columns(text_hash(long["_text"]).alias("hash")).drop("_text")


def _cell(sheet_name: str, col: int | None, row: int) -> str:
    return f"{sheet_name}!{column_letter(col)}{row}" if col is not None else f"{sheet_name}第{row}行"


Locations = Mapping[str, Mapping[int, Mapping[str, int]]]


def detect_repeats(
    frames: Mapping[str, pl.DataFrame], *, units: pl.DataFrame, locs: Locations, schema: Schema
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Mark texts repeated within a return; also the batch's text hashes for the cross-unit stage.

    Adds ``copy__<key>`` (the first cell carrying the text, for the message;
    null if none) to the sheet frames. ``units`` has ``_rid, unit`` for every
    return; the hashes come back as :data:`BATCH_TEXTS_SCHEMA` with ``_i``
    holding the return id.
    """
    long = long_texts(frames, schema=schema)
    marks = within_marks(long, locs=locs, schema=schema)
    out = dict(frames)
    for sheet_key, key, _header, _min in _checked(schema):
        frame = out.get(sheet_key)
        if frame is None:
            continue
        mark = marks.filter((pl.col("sheet") == sheet_key) & (pl.col("key") == key)).select(
            RID, ROW, pl.col("other").alias(f"copy__{key}")
        ).unique([RID, ROW], keep="first")
        out[sheet_key] = frame.join(mark, on=[RID, ROW], how="left")
    return out, _batch_texts(long, units=units, locs=locs, schema=schema)


def _batch_texts(long: pl.DataFrame, *, units: pl.DataFrame, locs: Locations, schema: Schema) -> pl.DataFrame:
    places = [
        (rid, sheet_key, header, cols[header])
        for sheet_key, _key, header, _min in _checked(schema)
        for rid, cols in locs.get(sheet_key, {}).items()
        if header in cols
    ]
    where = pl.DataFrame(places, schema={RID: pl.Int32, "sheet": pl.Utf8, "column": pl.Utf8, "col": pl.Int32},
                         orient="row")  # fmt: skip
    names = {s.key: s.name for s in schema.sheets}
    return (
        long.join(where, on=[RID, "sheet", "column"], how="left")
        .join(units.select(pl.col(RID).cast(pl.Int32), pl.col("unit").cast(pl.Utf8)), on=RID, how="left")
        .select(
            pl.col(RID).alias("_i"), "unit", pl.col("sheet").replace_strict(names, return_dtype=pl.Utf8),
            pl.col(ROW).alias("row"), "column", "hash", "col",
        )
        .cast(BATCH_TEXTS_SCHEMA)
    )


MARK_KEY = [RID, "sheet", "key", ROW]
_MARK_SCHEMA = {RID: pl.Int32, "sheet": pl.Utf8, "key": pl.Utf8, ROW: pl.Int32, "other": pl.Utf8}


def within_marks(long: pl.DataFrame, *, locs: Locations, schema: Schema) -> pl.DataFrame:
    """Marks (``_rid, sheet, key, _row, other``) of texts repeated on different items of one return.

    The first item carrying the text keeps it; every later item names it.
    """
    found: list[tuple[int, str, str, int, str]] = []
    long = long.with_columns(pl.struct("sheet", ROW).n_unique().over(RID, "hash").alias("_items"))
    inner = long.filter(pl.col("_items") > 1).sort(RID, "hash", "sheet", ROW, "column")
    for (rid, _h), group in inner.group_by(RID, "hash", maintain_order=True):
        rows = group.select("sheet", "key", "column", ROW).rows()
        sheet_key, _k, header_o, row_o = rows[0]
        for sheet, key, _header, row in rows:
            if (sheet, row) == (sheet_key, row_o):
                continue
            col = locs.get(sheet_key, {}).get(rid, {}).get(header_o)
            found.append((rid, sheet, key, row, "本表" + _cell(schema.sheet(sheet_key).name, col, row_o)))
    return pl.DataFrame(found, schema=_MARK_SCHEMA, orient="row")


def copy_texts(tables: Mapping[str, pl.DataFrame], *, schema: Schema) -> pl.DataFrame:
    """Hashes of a validated return's copy-checked texts, as the store keeps them for later batches.

    ``tables`` are the typed tables of :class:`ValidatedReturn`; returns
    ``unit, sheet, row, column, hash``.
    """
    frames = {}
    for sheet_key, key, _h, _m in _checked(schema):
        table = tables.get(sheet_key)
        if table is None or key not in table.columns:
            continue
        frame = frames.get(sheet_key, table.with_columns(pl.lit(0, pl.Int32).alias(RID),
                                                         pl.col("row").cast(pl.Int32).alias(ROW)))
        frames[sheet_key] = frame.with_columns(pl.col(key).alias(raw(key)))
    units = {}
    long = long_texts(frames, schema=schema)
    for sheet_key, frame in frames.items():
        units[sheet_key] = frame.select(ROW, "unit").unique(ROW)
    parts = [
        long.filter(pl.col("sheet") == k).join(u, on=ROW, how="left") for k, u in units.items()
    ]
    if not parts:
        return pl.DataFrame(schema=TEXTS_SCHEMA)
    names = {s.key: s.name for s in schema.sheets}
    return pl.concat(parts).select(
        pl.col("unit"), pl.col("sheet").replace_strict(names, return_dtype=pl.Utf8), pl.col(ROW).alias("row"),
        pl.col("column"), pl.col("hash"),
    ).cast(TEXTS_SCHEMA)
