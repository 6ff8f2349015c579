"""A table sheet's cells as fastexcel read them (:class:`AsRead`), stacked a batch at a time.

Reading a return costs a few Polars calls per sheet on top of fastexcel's own
parse, and at national scale those calls, not the parsing, dominated. So the
validator's reader (``read_return(clean=False)``) keeps each table sheet's
header columns as plain lists plus where its header is, and :func:`stack`
builds the rows of a whole batch, whatever each sheet's layout, as one frame.
Nothing is cleaned here and no row is dropped: the caller cleans the whole
batch (``jobs.validate.typing.stack_table``).
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


@dataclass(slots=True)  # not frozen: a frozen __init__ costs several times more, per sheet
class AsRead:
    """One table sheet as read.

    ``columns`` are the grid columns holding a schema header, as plain lists
    (grid row i is Excel row i + 1, all text), aligned with ``names``, the
    headers found; ``start`` is the grid row of the first data row (below the
    header) and ``height`` the grid's number of rows.

    Plain lists, not a frame per sheet: converting each small sheet to a
    Polars frame cost more than fastexcel's parse of it and kept ~4 times the
    memory (small frames over-allocate); a batch becomes one frame at once.
    """

    columns: tuple[list[str | None], ...]
    start: int
    names: tuple[str, ...]
    height: int

    def table(self) -> pl.DataFrame:
        """The data rows alone: one column per header found, then ``_row`` (text as read, every row)."""
        return stack([(0, self)], rid="_rid").drop("_rid")

    def has_holes(self, required: frozenset[str]) -> bool:
        """Whether a required cell is null in a row holding something else (it may be an
        Excel error fastexcel turned into null); empty spacer and trailing rows do not count."""
        key = (self.names, required)
        wanted = _REQUIRED.get(key)
        if wanted is None:
            wanted = tuple(i for i, name in enumerate(self.names) if name in required)
            if len(_REQUIRED) >= _REQUIRED_MAX:
                _REQUIRED.clear()
            _REQUIRED[key] = wanted
        start = self.start
        if not any(None in self.columns[i][start:] for i in wanted):
            return False  # the usual case
        body = zip(*(col[start:] for col in self.columns), strict=True)
        return any(any(row[i] is None for i in wanted) and any(v is not None for v in row) for row in body)


# The required columns' indices by layout (header names) and required names:
# returns from one template share their layouts.
_REQUIRED: dict[tuple[tuple[str, ...], frozenset[str]], tuple[int, ...]] = {}
_REQUIRED_MAX = 1024


def stack(members: Sequence[tuple[int, AsRead]], *, rid: str) -> pl.DataFrame:
    """Data rows of many as-read sheets: header-named text columns (the union over the members),
    ``_row`` and ``rid`` (each member's id), in member order.

    Each header's cells are gathered into one list over all members (nulls
    where a member lacks the header), and each list becomes one column.
    """
    if not members:
        return pl.DataFrame(schema={ROW: pl.Int32, rid: pl.Int32})
    gathered: dict[str, list[str | None]] = {}
    for _, g in members:
        for name in g.names:
            gathered.setdefault(name, [])
    counts = np.fromiter((max(g.height - g.start, 0) for _, g in members), dtype=np.int64, count=len(members))
    for (_, g), n in zip(members, counts.tolist(), strict=True):
        if not n:
            continue
        own = dict(zip(g.names, g.columns, strict=True))
        for name, out in gathered.items():
            col = own.get(name)
            out.extend(col[g.start:] if col is not None else [None] * n)
    starts = np.fromiter((g.start for _, g in members), dtype=np.int64, count=len(members))
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return pl.DataFrame([
        *(pl.Series(name, cells, dtype=pl.Utf8) for name, cells in gathered.items()),
        pl.Series(ROW, np.repeat(starts, counts) + within + 1, dtype=pl.Int32),
        pl.Series(rid, np.repeat(np.fromiter((r for r, _ in members), dtype=np.int32, count=len(members)), counts),
                  dtype=pl.Int32),
    ])
