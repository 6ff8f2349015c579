"""A table sheet's cells as fastexcel read them (:class:`AsRead`), stacked a batch at a time.

Reading a return costs a few Polars calls per sheet on top of fastexcel's own
parse, and at national scale those calls, not the parsing, dominated. So the
validator's reader (``read_return(clean=False)``) keeps each table sheet as
fastexcel gave it plus where its header is, and :func:`stack` builds the rows
of every return sharing a layout (the template's, mostly) with one concat and
one gather. Nothing is cleaned here and no row is dropped: the caller cleans
the whole batch (``jobs.validate.typing.stack_table``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

ROW = "_row"


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

    def layout(self) -> tuple[object, ...]:
        return (tuple(self.frame.columns), self.start, self.names, self.positions)

    def table(self) -> pl.DataFrame:
        """The data rows alone: one column per header found, then ``_row`` (text as read, every row)."""
        return stack([(0, self)], rid="_rid").drop("_rid")

    def has_holes(self, required: frozenset[str]) -> bool:
        """Whether a required cell is null in a row holding something else (it may be an
        Excel error fastexcel turned into null); empty spacer and trailing rows do not count."""
        wanted = [(n, p) for n, p in zip(self.names, self.positions, strict=True) if n in required]
        if not wanted:
            return False
        columns = self.frame.get_columns()  # Series calls: no query plan per sheet
        if not any(columns[p].null_count() for _, p in wanted):
            return False  # the usual case
        body = zip(*(columns[p].slice(self.start).to_list() for p in self.positions), strict=True)
        holes = [self.positions.index(p) for _, p in wanted]
        return any(any(row[i] is None for i in holes) and any(v is not None for v in row) for row in body)


def _stack_layout(members: Sequence[tuple[int, AsRead]], rid: str) -> pl.DataFrame:
    """Members sharing one layout: one concat, one column selection, one row gather."""
    first = members[0][1]
    frames = [g.frame for _, g in members]
    heights = np.fromiter((f.height for f in frames), dtype=np.int64, count=len(frames))
    counts = np.maximum(heights - first.start, 0)
    total = int(counts.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.repeat(np.cumsum(heights) - heights + first.start, counts) + within
    big = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")
    columns = big.columns
    picked = big.select([pl.col(columns[p]).cast(pl.Utf8).alias(n)
                         for n, p in zip(first.names, first.positions, strict=True)])
    return picked[pl.Series(rows, dtype=pl.Int64)].with_columns(
        pl.Series(ROW, within + first.start + 1, dtype=pl.Int32),
        pl.Series(rid, np.repeat(np.fromiter((r for r, _ in members), dtype=np.int32, count=len(members)), counts),
                  dtype=pl.Int32),
    )


def stack(members: Sequence[tuple[int, AsRead]], *, rid: str) -> pl.DataFrame:
    """Data rows of many as-read sheets: header-named text columns (the union over layouts),
    ``_row`` and ``rid`` (each member's id), members in the given order within a layout."""
    layouts: dict[tuple[object, ...], list[tuple[int, AsRead]]] = {}
    for r, g in members:
        layouts.setdefault(g.layout(), []).append((r, g))
    pieces = [_stack_layout(group, rid) for group in layouts.values()]
    if not pieces:
        return pl.DataFrame(schema={ROW: pl.Int32, rid: pl.Int32})
    out = pl.concat(pieces, how="diagonal_relaxed") if len(pieces) > 1 else pieces[0]
    return out.sort(rid, ROW, maintain_order=True) if len(pieces) > 1 else out
