"""Read a received workbook into raw, cleaned text frames (``RawReturn``).

The reader finds the six sheets and their columns by (folded) name, wherever
they sit in the workbook, and keeps every value's source position so a
finding can point at the cell. It parses no types: every cell arrives as
cleaned text, and ``jobs.core.normalize`` turns text into dates and numbers.

Every workbook the job reads is opened by :func:`open_workbook` — received
returns and 汇总 returns alike: preflight first (by content, within limits),
then fastexcel under a guard that turns anything it raises into
``UnreadableFile``. ``jobs.intake.read.sheet`` loads each needed sheet, finds
its header and pulls out its table or key/value list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import fastexcel
import polars as pl

from jobs.core.errors import UnreadableFile
from jobs.core.findings import Finding, make_finding
from jobs.core.schema import Schema, Sheet, load_schema
from jobs.intake.preflight.check import Preflight, preflight_findings, preflight_read
from jobs.intake.read.grid import AsRead, KeyValues
from jobs.intake.read.sheet import (
    _fastexcel_guard,
    _folded_names,
    _load_grid,
    _read_as_read,
    _read_keyvalue,
    _read_table,
    fold_key,
)
from jobs.office.config import Limits

__all__ = ["OpenWorkbook", "RawReturn", "RawSheet", "open_workbook", "read_return", "sheet_rows"]


@dataclass
class RawSheet:
    """One sheet as read: cleaned text plus source positions.

    Table sheets: one column per schema column found, named by the Chinese
    header, plus ``_row`` (Int32, 1-based Excel row). Key/value sheets:
    ``_item`` (schema item name, or the unrecognised text), ``_value``,
    ``_row``; ``col_index`` maps each item name to the value column.

    ``data`` is that frame, or for a table sheet read with
    ``read_return(clean=False)`` the grid as read (:class:`jobs.intake.read.grid.AsRead`),
    which the validator stacks a batch at a time; ``frame`` builds the table
    from it on first use (text as read, every row kept). Key/value sheets hold
    :class:`jobs.intake.read.grid.KeyValues` (plain lists), for the same reason.
    """

    key: str
    name: str
    source_name: str
    data: pl.DataFrame | AsRead | KeyValues
    col_index: dict[str, int]
    missing_columns: list[str]
    header_row: int | None = None  # 1-based Excel row of the header, if found
    hidden: bool = False

    @property
    def cleaned(self) -> bool:
        return not isinstance(self.data, AsRead)

    @cached_property
    def frame(self) -> pl.DataFrame:
        if isinstance(self.data, AsRead):
            return self.data.table()
        return self.data.frame() if isinstance(self.data, KeyValues) else self.data


@dataclass
class RawReturn:
    """A received workbook: the schema sheets found, by key."""

    path: Path
    sheets: dict[str, RawSheet]
    missing_sheets: list[str]
    warnings: list[Finding] = field(default_factory=list)
    kind: str | None = None
    # Cells whose value is unknown (formulas saved without their result), as
    # ``<schema sheet name>!A1``: they must not be judged empty.
    unknown_cells: frozenset[str] = frozenset()
    # SHA-256 of the bytes read (hex), when the reader held them all; else None.
    content_hash: str | None = None


def _open(path: Path, kind: str | None, data: bytes | None = None, *,
          fallback: bytes | None = None) -> tuple[fastexcel.ExcelReader, bool]:
    """Open the workbook; returns the reader and whether its extension lies.

    calamine picks its parser by extension, so a workbook whose extension does
    not match its content (an .xlsx saved as .xls) is opened from its bytes,
    where calamine sniffs the format. With preflight's ``kind`` that is decided
    up front; without it, a failed open by path is retried by content once.
    ``data`` (preflight's bytes) is opened first when given: cheaper than
    reading the file again; a failure there is retried by path, so errors are
    calamine's for the file's own format. ``fallback`` (the file's own bytes,
    when ``data`` is preflight's re-pack) is tried before the path.
    """
    family = _FAMILY.get(path.suffix.lower())
    if kind is not None:
        lying = family != ("xls" if kind == "xls" else "xlsx")
        sources = [s for s in (data, fallback) if s is not None]
        for source in sources:
            try:
                with _fastexcel_guard():
                    return fastexcel.read_excel(source), lying
            except UnreadableFile:
                if lying and source is sources[-1]:
                    raise
        with _fastexcel_guard():
            return (fastexcel.read_excel(path.read_bytes()) if lying else fastexcel.read_excel(str(path))), lying
    try:
        with _fastexcel_guard():
            return fastexcel.read_excel(str(path)), False
    except UnreadableFile as first:
        if first.kind == "encrypted":
            raise
        try:
            with _fastexcel_guard():
                return fastexcel.read_excel(path.read_bytes()), True
        except UnreadableFile:
            raise first from None


_FAMILY = {".xls": "xls", ".xlsx": "xlsx", ".xlsm": "xlsx"}


@dataclass(frozen=True, slots=True)
class OpenWorkbook:
    """A workbook past preflight, open in fastexcel (:func:`open_workbook`)."""

    book: fastexcel.ExcelReader
    preflight: Preflight | None  # None only for open_workbook(preflight=False)
    wrong_extension: bool
    sheet_names: tuple[str, ...]
    content_hash: str | None  # SHA-256 (hex) of the bytes preflight read, when it held them all


def open_workbook(
    path: str | Path, *, limits: Limits | None = None, preflight: bool = True, from_bytes: bool = True,
    repack: bool = True,
) -> OpenWorkbook:
    """Open a workbook the job reads: preflight, then fastexcel under its guard.

    The one way a workbook is opened (received returns, 汇总 returns given
    with ``--include-summary``, archived 汇总 returns): nothing reaches
    fastexcel unchecked, and anything it raises becomes ``UnreadableFile``.

    Parameters
    ----------
    path
        The workbook.
    limits
        Preflight's bounds (``jobs.office.config.Limits``); default the built-in limits.
    preflight
        False skips preflight and leaves the file to the reader's own guard
        (tests of that guard; never for received files).
    from_bytes
        Open the bytes preflight read (default); False opens the file by its path.
    repack
        Open preflight's verified parts re-packed uncompressed when it made
        them (default: calamine need not inflate again); False opens the file's own bytes.

    Raises
    ------
    UnreadableFile
        With a sub-code and Chinese reason: not a workbook, corrupt, encrypted, over a limit.
    """
    path = path if isinstance(path, Path) else Path(path)  # re-parsing a Path costs ~10 µs
    pf, data = preflight_read(path, limits=limits, unpack=repack) if preflight else (None, None)
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    # preflight's verified parts, uncompressed, when it could re-pack them (calamine need not inflate again)
    unpacked = pf.unpacked if pf is not None and repack else None
    if not from_bytes:
        data = unpacked = None
    book, wrong_extension = _open(path, pf.kind if pf is not None else None, unpacked or data,
                                  fallback=data if unpacked else None)
    with _fastexcel_guard():
        names = tuple(book.sheet_names)
    return OpenWorkbook(book=book, preflight=pf, wrong_extension=wrong_extension, sheet_names=names,
                        content_hash=digest)


def sheet_rows(opened: OpenWorkbook, name: str) -> list[list[str | None]] | None:
    """The rows of the sheet whose folded name is ``name``'s, as raw text (row i is Excel
    row i + 1); ``None`` when the workbook has no such sheet."""
    found = next((n for n in opened.sheet_names if fold_key(n) == fold_key(name)), None)
    if found is None:
        return None
    grid = _load_grid(opened.book, found, with_errors=False, frame=False)
    return [list(row) for row in zip(*grid.columns, strict=True)]


def _preflight_findings(pf: Preflight, source_names: list[str]) -> list[Finding]:
    """Preflight's findings for the sheets we read (uncached formulas are unknown
    values, an ``unreadable-file`` error, not empty cells)."""
    return preflight_findings(pf, sheets=source_names)


def _note(reason: str, schema: Schema, *, sheet: str | None = None) -> Finding:
    """A warning about the file itself (macros, hidden sheet, wrong extension)."""
    return make_finding("workbook-note", sheet=sheet, schema=schema, reason=reason)


def _needs_error_texts(raw: RawSheet, sheet: Sheet) -> bool:
    """Whether a required cell came out empty: it may hold an Excel error (``#NAME?``)
    that fastexcel turns into null; only then is the slower error-aware load worth it."""
    required = _folded_names(sheet)[2]
    if isinstance(raw.data, AsRead):
        return raw.data.has_holes(required)
    if isinstance(raw.data, KeyValues):
        return any(v is None and i in required for i, v in zip(raw.data.items, raw.data.values, strict=True))
    # a table read and cleaned sheet by sheet (read_return(clean=True))
    return any(s.null_count() for s in raw.frame.get_columns() if s.name in required)


def _read_sheet(book: fastexcel.ExcelReader, source_name: str, sheet: Sheet, *, with_errors: bool,
                clean: bool = True, hidden: bool | None = None, remember: bool = True) -> RawSheet:  # fmt: skip
    if not clean and not with_errors and sheet.layout == "table":
        grid = _load_grid(book, source_name, with_errors=False, frame=False, hidden=hidden)
        data, col_index, missing, header = _read_as_read(grid, sheet, remember=remember)
    elif sheet.layout == "keyvalue":
        grid = _load_grid(book, source_name, with_errors=with_errors, frame=False, hidden=hidden)
        data, col_index, missing, header = _read_keyvalue(grid, sheet)
    else:
        grid = _load_grid(book, source_name, with_errors=with_errors)
        data, col_index, missing, header = _read_table(grid, sheet)
    return RawSheet(
        key=sheet.key,
        name=sheet.name,
        source_name=source_name,
        data=data,
        col_index=col_index,
        missing_columns=missing,
        header_row=header,
        hidden=grid.hidden,
    )


def read_return(
    path: str | Path, *, schema: Schema | None = None, limits: Limits | None = None, clean: bool = True,
    preflight: bool = True, from_bytes: bool = True, repack: bool = True, eager: bool = True,
    remember_layouts: bool = True,
) -> RawReturn:
    """Read one received workbook (``.xlsx``, ``.xlsm``, ``.xls``).

    Parameters
    ----------
    path
        The received file.
    schema
        The return format; default :func:`jobs.core.schema.load_schema`.
    limits
        ``jobs.intake.preflight.Limits`` (size, ratio, rows ...); default the built-in limits.
    clean
        False leaves table sheets' text as read, every row kept (``RawSheet.cleaned``
        False), for callers that clean a whole batch in one pass
        (``jobs.validate.typing.stack_table``); key/value sheets are always cleaned.
    preflight, from_bytes, repack
        How the workbook is opened (:func:`open_workbook`); the defaults are the fast path.
    eager
        Load plain sheets in one eager call when preflight knows their visibility
        (default); False always loads through fastexcel's sheet object.
    remember_layouts
        Reuse header rows remembered from earlier returns of the same template
        (default); False finds every header afresh.

    The options after ``clean`` exist so tests can compare the fast paths with
    the exact ones; every combination reads the same.

    Returns
    -------
    RawReturn
        The schema sheets found (by key), the Chinese names of those missing,
        and warnings (hidden sheets, preflight notes).

    Raises
    ------
    UnreadableFile
        Not a workbook, corrupt, encrypted (a sub-code, and the Chinese ``reason`` for the clerk).
    """
    schema = schema or load_schema()
    path = path if isinstance(path, Path) else Path(path)  # re-parsing a Path costs ~10 µs
    opened = open_workbook(path, limits=limits, preflight=preflight, from_bytes=from_bytes, repack=repack)
    book, pf, wrong_extension, digest = opened.book, opened.preflight, opened.wrong_extension, opened.content_hash
    warnings = [_note(n, schema) for n in (pf.warnings if pf is not None else ())]
    if wrong_extension:
        warnings.append(_note("文件扩展名与实际格式不符，已按实际格式读取，请下次使用正确的文件类型保存", schema))
    source_names = list(opened.sheet_names)
    by_fold: dict[str, str] = {}
    for name in source_names:
        by_fold.setdefault(fold_key(name), name)

    # Visibility as preflight read it from the workbook part (.xlsx only; the
    # reader asks fastexcel otherwise): it lets plain sheets load eagerly.
    hidden_names = frozenset(pf.hidden_sheets) if eager and pf is not None and pf.kind in ("xlsx", "xlsm") \
        and not wrong_extension and pf.sheet_names == tuple(source_names) else None
    sheets: dict[str, RawSheet] = {}
    missing: list[str] = []
    for sheet in schema.sheets:
        source_name = by_fold.get(fold_key(sheet.name))
        if source_name is None:
            missing.append(sheet.name)
            continue
        hidden = None if hidden_names is None else source_name in hidden_names
        raw = _read_sheet(book, source_name, sheet, with_errors=False, clean=clean, hidden=hidden,
                          remember=remember_layouts)
        if _needs_error_texts(raw, sheet):
            raw = _read_sheet(book, source_name, sheet, with_errors=True)
        if raw.hidden:
            warnings.append(_note(f"工作表“{source_name}”处于隐藏状态，其内容已照常读取，请确认", schema, sheet=sheet.name))
        sheets[sheet.key] = raw
    unknown: frozenset[str] = frozenset()
    if pf is not None and pf.uncached_formulas:  # the usual file has none
        warnings.extend(_preflight_findings(pf, [raw.source_name for raw in sheets.values()]))
        unknown = _unknown_cells(pf.uncached_formulas, sheets)
    kind = pf.kind if pf is not None else None
    return RawReturn(
        path=path, sheets=sheets, missing_sheets=missing, warnings=warnings, kind=kind, unknown_cells=unknown,
        content_hash=digest,
    )


def _unknown_cells(cells: Iterable[str], sheets: dict[str, RawSheet]) -> frozenset[str]:
    """Preflight's uncached formula cells (source sheet names) under the schema sheet names findings use."""
    schema_name = {raw.source_name: raw.name for raw in sheets.values()}
    out = set()
    for cell in cells:
        source, _, a1 = cell.rpartition("!")
        if source in schema_name:
            out.add(f"{schema_name[source]}!{a1}")
    return frozenset(out)
