"""One sheet's cells: loading it with fastexcel, finding its header, and pulling
out a table or a key/value list (the reader's per-sheet work; see ``jobs.intake.read``).

Each needed sheet is loaded with ``header_row=None, dtypes="string",
skip_rows=0``. With ``skip_rows=0`` the grid starts at Excel row 1 even when
the used range does not (with the default ``None`` fastexcel silently drops
leading empty rows), so grid index + 1 is the Excel row; the Excel column is
``ColumnInfo.absolute_index``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any

import fastexcel
import polars as pl

from jobs.core.errors import UnreadableFile
from jobs.core.normalize import clean_column
from jobs.core.schema import Sheet
from jobs.core.text import fold_key as _fold_key
from jobs.intake.read.grid import AsRead, KeyValues


def fold_key(value: str | None) -> str:
    """``jobs.core.text.fold_key``, cached for short text: the same sheet names, headers
    and items recur in every return (long cell text is folded, not kept)."""
    return _fold_short(value) if value is not None and len(value) <= 64 else _fold_key(value)


_fold_short = lru_cache(maxsize=8192)(_fold_key)


# The header is looked for among the first rows only: templates put at most a
# title and a few notes above it.
HEADER_SCAN_ROWS = 30


# calamine's CellErrorType names -> the text Excel shows in the cell.
_EXCEL_ERRORS = {
    "Div0": "#DIV/0!",
    "NA": "#N/A",
    "Name": "#NAME?",
    "Null": "#NULL!",
    "Num": "#NUM!",
    "Ref": "#REF!",
    "Value": "#VALUE!",
    "GettingData": "#GETTING_DATA",
}
_ERROR_DETAIL = re.compile(r"Error\((\w+)\)")


def read_failure(exc: BaseException) -> UnreadableFile:
    """The ``UnreadableFile`` for anything the Excel reader (fastexcel/calamine) raised.

    A calamine panic is a ``pyo3_runtime.PanicException``, not an ``Exception``:
    it is a damaged file like any parser error.
    """
    text = str(exc).lower()
    if "password" in text or "encrypt" in text:
        return UnreadableFile("encrypted")
    if isinstance(exc, MemoryError) or "limit exceeded" in text or "cell limit" in text:
        return UnreadableFile("too-large-to-read")
    return UnreadableFile("corrupt")


class _FastexcelGuard:
    """Turn anything fastexcel raises, Rust panics included, into ``UnreadableFile``.

    A plain class, not ``@contextmanager``: it is entered once per sheet, and a
    generator-based manager costs several times more per use.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None) -> bool:
        if kind is None or issubclass(kind, (KeyboardInterrupt, SystemExit, GeneratorExit, UnreadableFile)):
            return False
        # pyo3_runtime.PanicException derives from BaseException.
        raise read_failure(exc) from None


_GUARD = _FastexcelGuard()


def _fastexcel_guard() -> _FastexcelGuard:
    """The context manager turning fastexcel's failures into ``UnreadableFile``."""
    return _GUARD


@dataclass
class _Grid:
    """A sheet's raw cells: ``columns[i]`` is Excel column ``absolute[i]``; list
    index r is Excel row r + 1 (see the module docstring)."""

    absolute: list[int]
    columns: list[list[str | None]]
    frame: pl.DataFrame | None  # the same cells, uncleaned, for zero-copy reuse (None: lists only)
    hidden: bool

    @property
    def height(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def _patch_errors(columns: list[list[str | None]], errors: Any) -> None:
    """Write Excel error texts (``#NAME?``) into the cells fastexcel left null."""
    for err in errors.errors if errors is not None else ():
        row, col = err.position
        match = _ERROR_DETAIL.search(err.detail)
        if match and col < len(columns) and row < len(columns[col]):
            columns[col][row] = _EXCEL_ERRORS.get(match[1], f"#{match[1].upper()}")


def _load_lists(book: fastexcel.ExcelReader, name: str, *, hidden: bool) -> _Grid | None:
    """The sheet's cells as lists in one eager load, when its used range starts in column A
    (the usual sheet); ``None`` otherwise (the caller loads it the general way).

    An eager load skips fastexcel's sheet object, whose column descriptions and
    visibility cost about as much as the cells of a small sheet; visibility then
    comes from preflight (``hidden``), and the columns are A, B, ... because
    ``use_columns="A:"`` fails unless the range starts in column A.
    """
    try:
        batch = book.load_sheet(name, header_row=None, dtypes="string", skip_rows=0, eager=True, use_columns="A:")
    except BaseException as exc:  # noqa: BLE001 - any failure (a calamine panic too): the general load decides
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return None
    columns = [col.to_pylist() for col in batch.columns]
    return _Grid(absolute=list(range(len(columns))), columns=columns, frame=None, hidden=hidden)


def _load_grid(book: fastexcel.ExcelReader, name: str, *, with_errors: bool, frame: bool = True,
               hidden: bool | None = None) -> _Grid:
    """The sheet's cells as lists; ``frame=False`` skips the Polars frame (key/value
    sheets: Arrow to Python lists costs less than building a frame first).

    ``hidden``: the sheet's visibility when known (preflight read it), which
    allows the cheaper eager load of :func:`_load_lists`.
    """
    if hidden is not None and not with_errors and not frame:
        grid = _load_lists(book, name, hidden=hidden)
        if grid is not None:
            return grid
    with _GUARD:
        sheet = book.load_sheet_by_name(name, header_row=None, dtypes="string", skip_rows=0)
        hidden = str(sheet.visible) != "visible"
        absolute = [c.absolute_index for c in sheet.selected_columns]
        if with_errors:
            batch, errors = sheet.to_arrow_with_errors()
            columns = [col.to_pylist() for col in batch.columns]
            _patch_errors(columns, errors)
            grid = pl.DataFrame([pl.Series(f"c{i}", col, dtype=pl.Utf8) for i, col in enumerate(columns)]) \
                if frame else None
        elif frame:
            # Returns are small frames: a Python pass over the cells costs less
            # than Polars expressions, which pay planning and a regex compile
            # per sheet. Cleaned columns that did not change reuse the Series.
            grid = sheet.to_polars()
            columns = [s.to_list() for s in grid.get_columns()]
        else:
            grid = None
            columns = [col.to_pylist() for col in sheet.to_arrow().columns]
    return _Grid(absolute=absolute, columns=columns, frame=grid, hidden=hidden)


def _header_row(grid: _Grid, known: Collection[str]) -> tuple[int | None, dict[str, int]]:
    """The row holding the most known headers, and folded header -> grid column position."""
    # Header cells are short; long cells (descriptions) are never folded.
    longest = 3 * max(map(len, known)) + 8
    best, best_map = None, {}
    for idx in range(min(HEADER_SCAN_ROWS, grid.height)):
        found: dict[str, int] = {}
        for pos, column in enumerate(grid.columns):
            value = column[idx]
            if value is None or len(value) > longest:
                continue
            folded = value if value in known else fold_key(value)
            if folded in known and folded not in found:
                found[folded] = pos
        if len(found) > len(best_map):
            best, best_map = idx, found
            if len(found) == len(known):  # every header found: the usual row 1
                break
    return best, best_map


def _kept_rows(columns: list[list[str | None]], height: int) -> list[int] | None:
    """Indices of rows with any value, or ``None`` when every row has one."""
    if not columns or any(None not in col for col in columns):
        return None
    last = -1
    for col in columns:
        for i in range(len(col) - 1, last, -1):
            if col[i] is not None:
                last = i
                break
    keep = [i for i, cells in enumerate(zip(*(c[: last + 1] for c in columns), strict=True))
            if any(c is not None for c in cells)]
    return None if len(keep) == height else keep


def _body(grid: _Grid, positions: list[int], start: int) -> tuple[list[list[str | None]], list[int]]:
    """Cleaned cells of ``positions`` from grid row ``start`` on, fully empty rows dropped."""
    cleaned = [clean_column(grid.columns[p][start:]) for p in positions]
    keep = _kept_rows(cleaned, grid.height - start)
    if keep is None:
        return cleaned, list(range(start + 1, grid.height + 1))
    return [[col[i] for i in keep] for col in cleaned], [start + i + 1 for i in keep]


def _excel_rows(start: int, height: int) -> pl.Series:
    """``_row`` for grid rows ``start ..``: a slice of one shared Series (no allocation)."""
    global _ROWS  # noqa: PLW0603 - built once, on first use
    if _ROWS is None or start + height > _ROWS.len():
        _ROWS = pl.Series("_row", range(1, max(2**16, 2 * (start + height)) + 1), dtype=pl.Int32)
    return _ROWS.slice(start, height)


_ROWS: pl.Series | None = None


def _table_frame(grid: _Grid, names: list[str], positions: list[int], start: int) -> pl.DataFrame:
    """The data rows below the header as a frame: cleaned text plus ``_row``."""
    # Built with hstack and a column rename: the DataFrame constructor and
    # select() cost more than the whole sheet's data on frames this small.
    sliced = grid.frame.slice(start).get_columns()
    series: list[pl.Series] = []
    cleaned_all = []
    for i, pos in enumerate(positions):
        raw = grid.columns[pos][start:]
        cleaned = clean_column(raw)
        cleaned_all.append(cleaned)
        series.append(sliced[pos].alias(f"_{i}") if cleaned is raw else pl.Series(f"_{i}", cleaned, dtype=pl.Utf8))
    height = grid.height - start
    series.append(_excel_rows(start, height))
    frame = series[0].to_frame().hstack(series[1:])
    frame.columns = [*names, "_row"]
    keep = _kept_rows(cleaned_all, height)
    if keep is None:
        return frame
    if keep == list(range(len(keep))):  # only trailing rows were empty
        return frame.head(len(keep))
    return frame[keep]


_FOLDED: dict[int, tuple[Sheet, dict[str, str], frozenset[str], frozenset[str]]] = {}


def _folded_names(sheet: Sheet) -> tuple[dict[str, str], frozenset[str], frozenset[str]]:
    """Folded column/item name -> name, the folded key/value headers, the required names."""
    # Keyed by identity: hashing a frozen Sheet walks all its columns every call.
    hit = _FOLDED.get(id(sheet))
    if hit is None or hit[0] is not sheet:
        folded = {fold_key(c.name): c.name for c in sheet.columns}
        headers = frozenset(fold_key(h) for h in (sheet.key_header, sheet.value_header) if h)
        hit = _FOLDED[id(sheet)] = (sheet, folded, headers, frozenset(c.name for c in sheet.columns if c.required))
    return hit[1], hit[2], hit[3]


def _columns(sheet: Sheet, mapping: dict[str, int]) -> tuple[list[str], list[int], list[str]]:
    """The schema headers found (in schema order), their grid positions, and the headers missing."""
    wanted = _folded_names(sheet)[0]
    found = {wanted[f]: pos for f, pos in mapping.items()}
    names = [c.name for c in sheet.columns if c.name in found]
    missing = [c.name for c in sheet.columns if c.name not in found]
    return names, [found[n] for n in names], missing


def _read_table(grid: _Grid, sheet: Sheet) -> tuple[pl.DataFrame, dict[str, int], list[str], int | None]:
    header, mapping = _header_row(grid, set(_folded_names(sheet)[0]))
    names, positions, missing = _columns(sheet, mapping)
    if header is None:
        return pl.DataFrame(schema={"_row": pl.Int32}), {}, missing, None
    frame = _table_frame(grid, names, positions, header + 1)
    return frame, {n: grid.absolute[p] for n, p in zip(names, positions, strict=True)}, missing, header + 1


# Returns made from one template share their header row: a first row holding
# every header gives the same names and positions each time, so they are
# remembered by (sheet, that row). Only short rows are kept (at most
# _FIRST_ROWS_MAX of _FIRST_ROW_CHARS_MAX characters: a few MB at worst).
_FIRST_ROWS: dict[tuple[int, tuple[str | None, ...]],
                  tuple[Sheet, tuple[str, ...], tuple[int, ...], dict[str, int]]] = {}
_FIRST_ROWS_MAX, _FIRST_ROW_CHARS_MAX = 1024, 4096


def _read_as_read(grid: _Grid, sheet: Sheet, *, remember: bool = True,
                  ) -> tuple[pl.DataFrame | AsRead, dict[str, int], list[str], int | None]:
    """``_read_table`` without building the table: the header is found, its columns kept as read.

    ``remember=False`` neither uses nor keeps remembered header rows (``read_return(remember_layouts=False)``).
    """
    first = tuple(col[0] for col in grid.columns) if grid.height else ()
    key = (id(sheet), first)
    hit = _FIRST_ROWS.get(key) if remember else None
    # Columns numbered from A (the usual range): a remembered layout's column
    # index is the same dict each time (callers only read it).
    from_a = not grid.absolute or grid.absolute[0] == 0
    if hit is not None and hit[0] is sheet:
        names, positions, missing, header = hit[1], hit[2], [], 0
        col_index = hit[3] if from_a else {n: grid.absolute[p] for n, p in zip(names, positions, strict=True)}
    else:
        header, mapping = _header_row(grid, _folded_names(sheet)[0])
        found, positions, missing = _columns(sheet, mapping)
        names, positions = tuple(found), tuple(positions)
        col_index = {n: grid.absolute[p] for n, p in zip(names, positions, strict=True)}
        if remember and header == 0 and not missing and len(first) + sum(len(v) for v in first if v) <= _FIRST_ROW_CHARS_MAX:
            if len(_FIRST_ROWS) >= _FIRST_ROWS_MAX:
                _FIRST_ROWS.clear()
            _FIRST_ROWS[key] = (sheet, names, positions, dict(zip(names, positions, strict=True)))
    if header is None:
        return pl.DataFrame(schema={"_row": pl.Int32}), {}, missing, None
    columns = grid.columns
    data = AsRead(tuple([columns[p] for p in positions]), header + 1, names, grid.height)
    return data, col_index, missing, header + 1


_KV_KEYS: dict[int, tuple[Sheet, frozenset[str], str, str]] = {}


def _kv_keys(sheet: Sheet) -> tuple[frozenset[str], str, str]:
    """A key/value sheet's item names and its folded key and value headers (by identity, as ``_folded_names``)."""
    hit = _KV_KEYS.get(id(sheet))
    if hit is None or hit[0] is not sheet:
        names = frozenset(_folded_names(sheet)[0].values())
        hit = _KV_KEYS[id(sheet)] = (sheet, names, fold_key(sheet.key_header or ""), fold_key(sheet.value_header or ""))
    return hit[1], hit[2], hit[3]


def _read_keyvalue(grid: _Grid, sheet: Sheet) -> tuple[KeyValues, dict[str, int], list[str], int | None]:
    key_h, value_h = sheet.key_header or "", sheet.value_header or ""
    items, headers, _ = _folded_names(sheet)
    names, key_fold, value_fold = _kv_keys(sheet)
    header, mapping = _header_row(grid, headers)
    key_pos, value_pos = mapping.get(key_fold), mapping.get(value_fold)
    if key_pos is None and grid.columns:
        # No 项目 header: the item column is the one naming the most known items.
        counts = [sum(v is not None and fold_key(v) in items for v in col) for col in grid.columns]
        best = max(range(len(counts)), key=counts.__getitem__)
        key_pos = best if counts[best] else None
    if value_pos is None and key_pos is not None:
        # The value sits right of the item; columns are contiguous in the grid.
        value_pos = key_pos + 1 if key_pos + 1 < len(grid.columns) else None
    missing = [h for h, pos in ((key_h, key_pos), (value_h, value_pos)) if pos is None]
    header_row = None if header is None else header + 1
    if key_pos is None or value_pos is None:
        return KeyValues((), (), ()), {}, missing, header_row
    (raw_items, values), rows = _body(grid, [key_pos, value_pos], 0 if header is None else header + 1)
    canonical = [v if v is None or v in names else items.get(fold_key(v), v) for v in raw_items]
    value_abs = grid.absolute[value_pos]
    col_index = {key_h: grid.absolute[key_pos], value_h: value_abs}
    col_index.update({item: value_abs for item in canonical if item is not None})
    return KeyValues(tuple(canonical), tuple(values), tuple(rows)), col_index, missing, header_row
