"""Copy detection (``copied-text``, 照抄照搬/拼拼凑凑) by hashing folded text.

见物/见思想 text of at least the minimum length is folded (whitespace and
punctuation removed, NFKC), hashed, and grouped by hash: no pairwise
comparison, so it stays cheap at national scale.

- Within a return: the same text on different items (rows) — every such
  cell names another cell carrying it.
- Across units in the same period (this batch, plus ``other_units_texts``
  already stored): every unit in the group is flagged, each naming one other
  unit. The same unit (a resubmission) is never its own copy; other periods
  are never compared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import polars as pl

from jobs.core.findings import column_letter
from jobs.core.schema import Schema
from jobs.validate.typing import RID, ROW, copy_key_expr, fold, fold_expr, length, raw

TEXTS_SCHEMA = {"unit": pl.Utf8, "sheet": pl.Utf8, "row": pl.Int32, "column": pl.Utf8, "hash": pl.Utf8}


def text_hash(keys: pl.Series) -> pl.Series:
    """Stable hash of folded texts; stored, so it must not depend on the process.

    sha1, 20 hex digits: the same fingerprint as ``jobs.intake.batch.copy_fingerprint``
    (which the store keeps), so stored texts and this batch compare.
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


def detect_copies(
    frames: Mapping[str, pl.DataFrame],
    *,
    units: pl.DataFrame,
    locs: Mapping[str, Mapping[int, Mapping[str, int]]],
    other_units_texts: pl.DataFrame | None = None,
    period: str | None = None,
    schema: Schema,
) -> dict[str, pl.DataFrame]:
    """Add ``copy__<key>`` (who else carries the text, for the message; null if nobody) to the sheet frames.

    ``units`` has ``_rid, unit, period`` for every return of the batch;
    ``other_units_texts`` are stored texts of ``period`` (of every period in
    the batch when ``period`` is None). Inside :func:`collect_copies`, what
    was compared is also recorded (see :class:`CopyCapture`).
    """
    long = long_texts(frames, schema=schema).join(units, on=RID, how="left")
    inner = within_marks(long, locs=locs, schema=schema)
    across = across_marks(long, other_units_texts=other_units_texts, period=period)
    marks = pl.concat([inner, across.join(inner, on=MARK_KEY, how="anti")])
    out = dict(frames)
    for sheet_key, key, _header, _min in _checked(schema):
        frame = out.get(sheet_key)
        if frame is None:
            continue
        mark = marks.filter((pl.col("sheet") == sheet_key) & (pl.col("key") == key)).select(
            RID, ROW, pl.col("other").alias(f"copy__{key}")
        ).unique([RID, ROW], keep="first")
        out[sheet_key] = frame.join(mark, on=[RID, ROW], how="left")
    calls = _COLLECTING.get()
    if calls is not None:
        calls.append(_capture(out, long, units, locs, inner, marks, schema=schema))
    return out


MARK_KEY = [RID, "sheet", "key", ROW]
_MARK_SCHEMA = {RID: pl.Int32, "sheet": pl.Utf8, "key": pl.Utf8, ROW: pl.Int32, "other": pl.Utf8}


def within_marks(
    long: pl.DataFrame, *, locs: Mapping[str, Mapping[int, Mapping[str, int]]], schema: Schema
) -> pl.DataFrame:
    """Marks (``_rid, sheet, key, _row, other``) of texts repeated on different items of one return.

    The first item carrying the text keeps it; every later item names it.
    Stored texts never change these.
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


def across_marks(long: pl.DataFrame, *, other_units_texts: pl.DataFrame | None, period: str | None) -> pl.DataFrame:
    """Marks (``_rid, sheet, key, _row, other``) of texts other units of the same period carry.

    ``long`` is :func:`long_texts` with each return's ``unit`` and ``period``.
    Every unit in a group is marked, naming the first other unit (sorted).
    """
    batch = long.select("unit", "period", "hash", RID, "sheet", "key", ROW).filter(pl.col("unit").is_not_null())
    stored = (
        other_units_texts.select(pl.col("unit").cast(pl.Utf8), pl.col("hash").cast(pl.Utf8)).unique()
        if other_units_texts is not None and other_units_texts.height
        else pl.DataFrame(schema={"unit": pl.Utf8, "hash": pl.Utf8})
    )
    if period is not None:
        stored = stored.with_columns(pl.lit(period, pl.Utf8).alias("period"))
        stored = stored.join(batch.select("period", "hash").unique(), on=["period", "hash"], how="inner")
    else:
        stored = stored.join(batch.select("period", "hash").unique(), on="hash", how="inner")
    pool = pl.concat([batch.select("unit", "period", "hash"), stored.select("unit", "period", "hash")],
                     how="vertical_relaxed").unique()
    groups = pool.group_by("period", "hash").agg(pl.col("unit").sort().alias("_units")).filter(
        pl.col("_units").list.len() > 1
    )
    shared = batch.join(groups, on=["period", "hash"], how="inner", nulls_equal=True).with_columns(
        pl.col("_units").list.set_difference(pl.concat_list(pl.col("unit"))).list.first().alias("_other")
    )
    return shared.filter(pl.col("_other").is_not_null()).select(
        pl.col(RID).cast(pl.Int32), "sheet", "key", pl.col(ROW).cast(pl.Int32),
        pl.format("单位“{}”报送的内容", pl.col("_other")).alias("other"),
    )


@dataclass(frozen=True)
class CopyCapture:
    """What one :func:`detect_copies` call compared, so a writer can redo the cross-unit part alone.

    ``texts``: ``_rid, check, _row, hash, _pos`` (``check`` indexes
    :func:`checked_columns`; ``_pos`` is the row's place in the frame the
    ``…:copy`` check ran on, the order its findings come in); ``units``:
    ``_rid, unit, period`` as compared; ``places``: ``_rid, check, col``
    (0-based source column, where the return has the column); ``marks``:
    ``_rid, check, _row, other, inner`` (``inner``: a repeat within the return);
    ``cells``: ``_rid, check, _row, text``, every row's text as compared (to
    prove the record matches the returns' tables; never sent anywhere).
    """

    texts: pl.DataFrame
    units: pl.DataFrame
    places: pl.DataFrame
    marks: pl.DataFrame
    cells: pl.DataFrame | None = None


_COLLECTING: ContextVar[list[CopyCapture] | None] = ContextVar("rectify_copy_captures", default=None)


@contextmanager
def collect_copies() -> Iterator[list[CopyCapture]]:
    """Record a :class:`CopyCapture` of every :func:`detect_copies` call made inside (in call order)."""
    calls: list[CopyCapture] = []
    token = _COLLECTING.set(calls)
    try:
        yield calls
    finally:
        _COLLECTING.reset(token)


def checked_columns(schema: Schema) -> list[tuple[str, str, str, int]]:
    """(sheet key, column key, header, min length) of every copy-checked column, in schema order."""
    return _checked(schema)


def _capture(
    frames: Mapping[str, pl.DataFrame],
    long: pl.DataFrame,
    units: pl.DataFrame,
    locs: Mapping[str, Mapping[int, Mapping[str, int]]],
    inner: pl.DataFrame,
    marks: pl.DataFrame,
    *,
    schema: Schema,
) -> CopyCapture:
    checked = _checked(schema)
    index = pl.DataFrame(
        {"sheet": [c[0] for c in checked], "key": [c[1] for c in checked], "check": range(len(checked))},
        schema={"sheet": pl.Utf8, "key": pl.Utf8, "check": pl.Int16},
    )
    positions = [
        frames[sheet_key].select(RID, ROW).with_row_index("_pos").with_columns(pl.lit(sheet_key).alias("sheet"))
        for sheet_key in dict.fromkeys(c[0] for c in checked)
        if sheet_key in frames
    ]
    where = pl.concat(positions) if positions else pl.DataFrame(schema={"_pos": pl.UInt32, RID: pl.Int32,
                                                                        ROW: pl.Int32, "sheet": pl.Utf8})
    texts = long.join(index, on=["sheet", "key"]).join(where, on=["sheet", RID, ROW], how="left").select(
        pl.col(RID).cast(pl.Int32), "check", pl.col(ROW).cast(pl.Int32), "hash", "_pos"
    )
    places = [
        (rid, c, cols[header])
        for c, (sheet_key, _key, header, _min) in enumerate(checked)
        for rid, cols in locs.get(sheet_key, {}).items()
        if header in cols
    ]
    inner_cells = inner.select(*MARK_KEY, pl.lit(True).alias("inner"))
    cells = [
        frames[sheet_key].select(pl.col(RID).cast(pl.Int32), pl.lit(c, pl.Int16).alias("check"),
                                 pl.col(ROW).cast(pl.Int32), pl.col(raw(key)).cast(pl.Utf8).alias("text"))
        for c, (sheet_key, key, _header, _min) in enumerate(checked)
        if sheet_key in frames and raw(key) in frames[sheet_key].columns
    ]  # fmt: skip
    return CopyCapture(
        texts=texts,
        units=units.select(pl.col(RID).cast(pl.Int32), pl.col("unit").cast(pl.Utf8), pl.col("period").cast(pl.Utf8)),
        places=pl.DataFrame(places, schema={RID: pl.Int32, "check": pl.Int16, "col": pl.Int32}, orient="row"),
        marks=marks.join(index, on=["sheet", "key"]).join(inner_cells, on=MARK_KEY, how="left").select(
            RID, "check", ROW, "other", pl.col("inner").fill_null(False)
        ),
        cells=pl.concat(cells) if cells else None,
    )


def copy_texts(tables: Mapping[str, pl.DataFrame], *, schema: Schema) -> pl.DataFrame:
    """Hashes of a validated return's copy-checked texts, for the store (``other_units_texts`` later).

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
