"""Read a received workbook into raw, cleaned text frames (``RawReturn``).

The reader finds the six sheets and their columns by (folded) name, wherever
they sit in the workbook, and keeps every value's source position so a
finding can point at the cell. It parses no types: every cell arrives as
cleaned text, and ``jobs.normalize`` turns text into dates and numbers.

fastexcel is opened once per file; each needed sheet is loaded with
``header_row=None, dtypes="string", skip_rows=0``. With ``skip_rows=0`` the
grid starts at Excel row 1 even when the used range does not (with the default
``None`` fastexcel silently drops leading empty rows), so grid index + 1 is the
Excel row; the Excel column is ``ColumnInfo.absolute_index``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl

from jobs.errors import UnreadableFile
from jobs.findings import Finding, make_finding
from jobs.normalize import clean_expr
from jobs.schema import Schema, Sheet, load_schema
from jobs.text import fold_key

# The header is looked for among the first rows only: templates put at most a
# title and a few notes above it.
HEADER_SCAN_ROWS = 30

REASON_ENCRYPTED = "文件已加密，请去除密码后重新报送"
REASON_CORRUPT = "文件已损坏或不是Excel工作簿，请重新导出后报送"
REASON_TOO_LARGE = "文件内容过大或结构异常，无法读取，请检查后重新导出报送"

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
# A real Excel date cell read as text: "2015-01-15 00:00:00". Midnight adds
# nothing, and the bare date is what the clerk sees in Excel.
_MIDNIGHT = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) 00:00:00$"


@dataclass
class RawSheet:
    """One sheet as read: cleaned text plus source positions.

    Table sheets: one column per schema column found, named by the Chinese
    header, plus ``_row`` (Int32, 1-based Excel row). Key/value sheets:
    ``_item`` (schema item name, or the unrecognised text), ``_value``,
    ``_row``; ``col_index`` maps each item name to the value column.
    """

    key: str
    name: str
    source_name: str
    frame: pl.DataFrame
    col_index: dict[str, int]
    missing_columns: list[str]
    header_row: int | None = None  # 1-based Excel row of the header, if found
    hidden: bool = False


@dataclass
class RawReturn:
    """A received workbook: the schema sheets found, by key."""

    path: Path
    sheets: dict[str, RawSheet]
    missing_sheets: list[str]
    warnings: list[Finding] = field(default_factory=list)
    kind: str | None = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return REASON_TOO_LARGE
    text = str(exc).lower()
    if "password" in text or "encrypt" in text:
        return REASON_ENCRYPTED
    if "limit exceeded" in text:
        return REASON_TOO_LARGE
    return REASON_CORRUPT


@contextmanager
def _fastexcel_guard() -> Iterator[None]:
    """Turn anything fastexcel raises, Rust panics included, into ``UnreadableFile``."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except UnreadableFile:
        raise
    # pyo3_runtime.PanicException derives from BaseException.
    except BaseException as exc:  # noqa: BLE001
        raise UnreadableFile(_reason(exc)) from None


def _open(path: Path) -> tuple[fastexcel.ExcelReader, bool]:
    """Open by path (calamine then reports encryption precisely); on failure retry
    by content, for workbooks whose extension lies (an .xlsx saved as .xls).

    Returns the reader and whether the extension was wrong.
    """
    try:
        with _fastexcel_guard():
            return fastexcel.read_excel(str(path)), False
    except UnreadableFile as first:
        if first.reason == REASON_ENCRYPTED:
            raise
        data = path.read_bytes()
        try:
            with _fastexcel_guard():
                return fastexcel.read_excel(data), True
        except UnreadableFile:
            raise first from None


def _preflight(path: Path) -> tuple[str | None, list[str]]:
    try:
        from jobs.preflight import preflight  # noqa: PLC0415 - optional until it lands
    except ImportError:
        return None, []
    result = preflight(path)
    return result.kind, list(result.warnings)


def _note(reason: str, schema: Schema, *, sheet: str | None = None) -> Finding:
    if "workbook-note" in schema.findings:
        return make_finding("workbook-note", sheet=sheet, schema=schema, reason=reason)
    return Finding(code="workbook-note", severity="warning", message=reason, sheet=sheet)


def _patch_errors(grid: pl.DataFrame, errors: Any) -> pl.DataFrame:
    """Write Excel error texts (``#NAME?``) into the cells fastexcel left null."""
    if errors is None or not errors.errors:
        return grid
    columns = {name: grid[name].to_list() for name in grid.columns}
    for err in errors.errors:
        row, col = err.position
        match = _ERROR_DETAIL.search(err.detail)
        if match and col < grid.width and row < grid.height:
            columns[grid.columns[col]][row] = _EXCEL_ERRORS.get(match[1], f"#{match[1].upper()}")
    return pl.DataFrame(columns, schema=grid.schema)


def _load_grid(book: fastexcel.ExcelReader, name: str, *, with_errors: bool) -> tuple[pl.DataFrame, bool]:
    """Load a sheet as a cleaned text grid; columns ``c<absolute index>``, row i = Excel row i+1."""
    with _fastexcel_guard():
        sheet = book.load_sheet_by_name(name, header_row=None, dtypes="string", skip_rows=0)
        hidden = str(sheet.visible) != "visible"
        names = [f"c{c.absolute_index}" for c in sheet.selected_columns]
        if with_errors:
            batch, errors = sheet.to_arrow_with_errors()
            grid = _patch_errors(pl.DataFrame(pl.from_arrow(batch)), errors)
        else:
            grid = sheet.to_polars()
    if grid.width == 0:
        return pl.DataFrame(), hidden
    grid.columns = names
    grid = grid.with_columns(clean_expr(c).str.replace(_MIDNIGHT, "$1") for c in names)
    return grid, hidden


def _abs(column: str) -> int:
    return int(column[1:])


def _header_row(grid: pl.DataFrame, known: set[str]) -> tuple[int | None, dict[str, str]]:
    """The grid row holding the most known headers, and folded header -> grid column."""
    best, best_map = None, {}
    for idx, row in enumerate(grid.head(HEADER_SCAN_ROWS).iter_rows()):
        found: dict[str, str] = {}
        for column, value in zip(grid.columns, row, strict=True):
            folded = fold_key(value)
            if folded in known and folded not in found:
                found[folded] = column
        if len(found) > len(best_map):
            best, best_map = idx, found
    return best, best_map


def _with_rows(grid: pl.DataFrame, start: int) -> pl.DataFrame:
    return grid.with_row_index("_row", offset=1).slice(start).with_columns(pl.col("_row").cast(pl.Int32))


def _read_table(grid: pl.DataFrame, sheet: Sheet) -> tuple[pl.DataFrame, dict[str, int], list[str], int | None]:
    wanted = {fold_key(c.name): c.name for c in sheet.columns}
    header, mapping = _header_row(grid, set(wanted)) if grid.width else (None, {})
    found = {wanted[f]: column for f, column in mapping.items()}
    missing = [c.name for c in sheet.columns if c.name not in found]
    names = [c.name for c in sheet.columns if c.name in found]
    if header is None:
        frame = pl.DataFrame(schema={"_row": pl.Int32})
    else:
        body = _with_rows(grid, header + 1)
        frame = body.select([pl.col(found[n]).alias(n) for n in names] + [pl.col("_row")])
        frame = frame.filter(pl.any_horizontal(pl.col(n).is_not_null() for n in names))
    col_index = {n: _abs(found[n]) for n in names}
    return frame, col_index, missing, None if header is None else header + 1


def _read_keyvalue(grid: pl.DataFrame, sheet: Sheet) -> tuple[pl.DataFrame, dict[str, int], list[str], int | None]:
    key_h, value_h = sheet.key_header or "", sheet.value_header or ""
    items = {fold_key(c.name): c.name for c in sheet.columns}
    empty = pl.DataFrame(schema={"_item": pl.Utf8, "_value": pl.Utf8, "_row": pl.Int32})
    if grid.width == 0:
        return empty, {}, [key_h, value_h], None
    header, mapping = _header_row(grid, {fold_key(key_h), fold_key(value_h)})
    key_col, value_col = mapping.get(fold_key(key_h)), mapping.get(fold_key(value_h))
    if key_col is None:
        # No 项目 header: the item column is the one naming the most known items.
        counts = {c: sum(fold_key(v) in items for v in grid[c].to_list()) for c in grid.columns}
        best = max(counts, key=counts.__getitem__)
        key_col = best if counts[best] else None
    if value_col is None and key_col is not None and f"c{_abs(key_col) + 1}" in grid.columns:
        value_col = f"c{_abs(key_col) + 1}"
    missing = [h for h, c in ((key_h, key_col), (value_h, value_col)) if c is None]
    if key_col is None or value_col is None:
        return empty, {}, missing, None if header is None else header + 1
    body = _with_rows(grid, 0 if header is None else header + 1)
    raw = body.select(pl.col(key_col).alias("_item"), pl.col(value_col).alias("_value"), "_row")
    raw = raw.filter(pl.col("_item").is_not_null() | pl.col("_value").is_not_null())
    canonical = [items.get(fold_key(v), v) for v in raw["_item"].to_list()]
    frame = raw.with_columns(pl.Series("_item", canonical, dtype=pl.Utf8))
    value_abs = _abs(value_col)
    col_index = {key_h: _abs(key_col), value_h: value_abs}
    col_index.update({item: value_abs for item in canonical if item is not None})
    return frame, col_index, missing, None if header is None else header + 1


def _needs_error_texts(raw: RawSheet, sheet: Sheet) -> bool:
    """Whether a required cell came out empty: it may hold an Excel error (``#NAME?``)
    that fastexcel turns into null; only then is the slower error-aware load worth it."""
    frame = raw.frame
    if frame.is_empty():
        return False
    if sheet.layout == "keyvalue":
        return bool(frame["_value"].null_count())
    required = [c.name for c in sheet.columns if c.required and c.name in frame.columns]
    return any(frame[c].null_count() for c in required)


def _read_sheet(book: fastexcel.ExcelReader, source_name: str, sheet: Sheet, *, with_errors: bool) -> RawSheet:
    grid, hidden = _load_grid(book, source_name, with_errors=with_errors)
    reader = _read_keyvalue if sheet.layout == "keyvalue" else _read_table
    frame, col_index, missing, header = reader(grid, sheet)
    return RawSheet(
        key=sheet.key,
        name=sheet.name,
        source_name=source_name,
        frame=frame,
        col_index=col_index,
        missing_columns=missing,
        header_row=header,
        hidden=hidden,
    )


def read_return(path: str | Path, *, schema: Schema | None = None) -> RawReturn:
    """Read one received workbook (``.xlsx``, ``.xlsm``, ``.xls``).

    Parameters
    ----------
    path
        The received file.
    schema
        The return format; default :func:`jobs.schema.load_schema`.

    Returns
    -------
    RawReturn
        The schema sheets found (by key), the Chinese names of those missing,
        and warnings (hidden sheets, preflight notes).

    Raises
    ------
    UnreadableFile
        Not a workbook, corrupt, encrypted (Chinese ``reason`` for the clerk).
    """
    schema = schema or load_schema()
    path = Path(path)
    kind, notes = _preflight(path)
    warnings = [_note(n, schema) for n in notes]
    book, wrong_extension = _open(path)
    if wrong_extension:
        warnings.append(_note("文件扩展名与实际格式不符，已按实际格式读取，请下次使用正确的文件类型保存", schema))
    with _fastexcel_guard():
        source_names = list(book.sheet_names)
    by_fold: dict[str, str] = {}
    for name in source_names:
        by_fold.setdefault(fold_key(name), name)

    sheets: dict[str, RawSheet] = {}
    missing: list[str] = []
    for sheet in schema.sheets:
        source_name = by_fold.get(fold_key(sheet.name))
        if source_name is None:
            missing.append(sheet.name)
            continue
        raw = _read_sheet(book, source_name, sheet, with_errors=False)
        if _needs_error_texts(raw, sheet):
            raw = _read_sheet(book, source_name, sheet, with_errors=True)
        if raw.hidden:
            warnings.append(_note(f"工作表“{source_name}”处于隐藏状态，其内容已照常读取，请确认", schema, sheet=sheet.name))
        sheets[sheet.key] = raw
    return RawReturn(path=path, sheets=sheets, missing_sheets=missing, warnings=warnings, kind=kind)
