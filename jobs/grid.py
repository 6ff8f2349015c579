"""A table sheet's cells as fastexcel read them (:class:`AsRead`), stacked a batch at a time.

Reading a return costs a few Polars calls per sheet on top of fastexcel's own
parse, and at national scale those calls, not the parsing, dominated. So the
validator's reader (``read_return(clean=False)``) keeps each table sheet as
fastexcel gave it plus where its header is, and :func:`stack` builds the rows
of a whole batch, whatever each sheet's layout, with one concat and one gather. Nothing is cleaned here and no row is dropped: the caller cleans
the whole batch (``jobs.validate.typing.stack_table``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

ROW = "_row"
_KV_SCHEMA = {"_item": pl.Utf8, "_value": pl.Utf8, ROW: pl.Int32}


@dataclass(frozen=True)
class KeyValues:
    """A key/value sheet (基本信息, 责任追究) as read: item names (schema names where
    recognised), cleaned values and Excel rows, as plain lists; a batch becomes one
    frame at once (:func:`key_values_frame`) instead of three Series per sheet."""

    items: tuple[str | None, ...]
    values: tuple[str | None, ...]
    rows: tuple[int, ...]

    def frame(self) -> pl.DataFrame:
        """``_item, _value, _row`` of this sheet alone."""
        return key_values_frame([self])


def key_values_frame(sheets: Sequence[KeyValues]) -> pl.DataFrame:
    """``_item, _value, _row`` of many key/value sheets, one after the other."""
    items = [i for s in sheets for i in s.items]
    values = [v for s in sheets for v in s.values]
    rows = [r for s in sheets for r in s.rows]
    return pl.DataFrame({"_item": items, "_value": values, ROW: rows}, schema=_KV_SCHEMA)


@dataclass(frozen=True)
class AsRead:
    """One table sheet as read.

    ``frame`` is fastexcel's grid (grid row i is Excel row i + 1, all text);
    ``start`` the grid row of the first data row (below the header);
    ``names`` the schema headers found and ``positions`` their grid columns.
    """

    frame: pl.DataFrame
    start: int
    names: tuple[str, ...]
    positions: tuple[int, ...]

    def table(self) -> pl.DataFrame:
        """The data rows alone: one column per header found, then ``_row`` (text as read, every row)."""
        return stack([(0, self)], rid="_rid").drop("_rid")

    def has_holes(self, required: frozenset[str]) -> bool:
        """Whether a required cell is null in a row holding something else (it may be an
        Excel error fastexcel turned into null); empty spacer and trailing rows do not count."""
        key = (self.names, self.positions, required)
        wanted = _REQUIRED.get(key)
        if wanted is None:
            wanted = tuple(p for n, p in zip(self.names, self.positions, strict=True) if n in required)
            if len(_REQUIRED) >= _REQUIRED_MAX:
                _REQUIRED.clear()
            _REQUIRED[key] = wanted
        if not wanted:
            return False
        # One null count for all columns (no query plan, one call). With the header
        # in row 1 the whole grid is counted (its header cells are not null); a count
        # that is too high only sends the sheet to the exact check below.
        counts = (self.frame if self.start == 1 else self.frame.slice(self.start)).null_count().row(0)
        if not any(counts[p] for p in wanted):
            return False  # the usual case
        body = zip(*(self.frame.to_series(p).slice(self.start).to_list() for p in self.positions), strict=True)
        holes = [self.positions.index(p) for p in wanted]
        return any(any(row[i] is None for i in holes) and any(v is not None for v in row) for row in body)


# The required columns' grid positions, by layout (names, positions) and required
# names: returns from one template share their layouts.
_REQUIRED: dict[tuple[tuple[str, ...], tuple[int, ...], frozenset[str]], tuple[int, ...]] = {}
_REQUIRED_MAX = 1024


def stack(members: Sequence[tuple[int, AsRead]], *, rid: str) -> pl.DataFrame:
    """Data rows of many as-read sheets: header-named text columns (the union over the members),
    ``_row`` and ``rid`` (each member's id), in member order.

    Each grid's columns are renamed in place (a header's column gets the header,
    the others a throw-away name), so one diagonal concat lines every layout up
    and one gather keeps the rows below each header.
    """
    if not members:
        return pl.DataFrame(schema={ROW: pl.Int32, rid: pl.Int32})
    frames, headers = [], {}
    for _, g in members:
        frame = g.frame.clone()  # shares the data; only the names differ
        names = [f"\x00{i}" for i in range(frame.width)]
        for name, pos in zip(g.names, g.positions, strict=True):
            names[pos] = name
            headers.setdefault(name, None)
        frame.columns = names
        frames.append(frame)
    heights = np.fromiter((f.height for f in frames), dtype=np.int64, count=len(frames))
    starts = np.fromiter((g.start for _, g in members), dtype=np.int64, count=len(members))
    counts = np.maximum(heights - starts, 0)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    first = np.repeat(starts, counts)
    rows = np.repeat(np.cumsum(heights) - heights, counts) + first + within
    # One chunk: a gather across thousands of small chunks costs more than the copy.
    try:
        big = pl.concat(frames, how="diagonal", rechunk=True)
    except pl.exceptions.SchemaError:  # a column fastexcel typed other than text
        big = pl.concat(frames, how="diagonal_relaxed", rechunk=True)
    picked = big.select(pl.col(h).cast(pl.Utf8) for h in headers)
    return picked[pl.Series(rows, dtype=pl.Int64)].with_columns(
        pl.Series(ROW, first + within + 1, dtype=pl.Int32),
        pl.Series(rid, np.repeat(np.fromiter((r for r, _ in members), dtype=np.int32, count=len(members)), counts),
                  dtype=pl.Int32),
    )
