"""Streaming checks of the XML parts of an OOXML workbook (fed by :mod:`jobs.intake.preflight.zip_parts`).

Sheets are parsed with expat as they inflate, never held whole: value
extent (rows, columns, cells), cell length, formulas without a stored result.
No DTDs are accepted (OOXML never has one), so entity tricks are refused, and
a token longer than any real cell is refused before expat buffers it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.parsers import expat

from jobs.core.errors import UnreadableFile

if TYPE_CHECKING:
    from jobs.office.config import Limits

_MB = 1024 * 1024
_MAX_LISTED = 1000  # uncached formula cells kept by name; the rest are only counted
_EXCEL_MAX_ROWS = 1_048_576  # more <row> elements than Excel can hold is never a real sheet
# Longest stretch of XML without a '>' we feed to expat: a cell's text is at most
# 32,767 characters; a longer token (a giant attribute) would be buffered whole.
_MAX_TOKEN_BYTES = 1024 * 1024


@dataclass
class ZipScan:
    """What the zip inspection found; see :class:`jobs.intake.preflight.Preflight`."""

    kind: str = "xlsx"
    warnings: list[str] = field(default_factory=list)
    uncached_formulas: list[str] = field(default_factory=list)
    uncached_total: int = 0
    hidden_sheets: list[str] = field(default_factory=list)
    sheet_names: list[str] = field(default_factory=list)
    # A part named like a binary (.xlsb) workbook: a reader that sniffs the format
    # from the bytes could open that instead of the checked XML, so it gets the path.
    binary_workbook: bool = False
    # The verified parts re-packed uncompressed (scan_zip(unpack=True)), for the reader.
    unpacked: bytes | None = field(default=None, repr=False)


_COLUMNS: dict[str, int] = {}
_LOCAL: dict[str, str] = {}


def _col_number(letters: str) -> int:
    n = _COLUMNS.get(letters)
    if n is None:
        n = 0
        for ch in letters.upper():
            n = n * 26 + ord(ch) - 64
        if len(_COLUMNS) < 20_000:
            _COLUMNS[letters] = n
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def local_name(name: str) -> str:
    """``x:row`` -> ``row`` (some writers prefix the main namespace)."""
    tag = _LOCAL.get(name)
    if tag is None:
        tag = name.rpartition(":")[2]
        if len(_LOCAL) < 10_000:
            _LOCAL[name] = tag
    return tag


def parse(chunks: Iterator[bytes], start: Callable, end: Callable | None = None,
           text: Callable | None = None, *, part: str) -> None:
    """Feed streamed XML to expat with the given handlers; DTDs are refused."""
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def no_dtd(*_args: object) -> None:
        raise UnreadableFile("xml-dtd", part=part)

    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    run = 0
    try:
        for chunk in chunks:
            last = chunk.rfind(b">")
            run = run + len(chunk) if last < 0 else len(chunk) - last - 1
            if run > _MAX_TOKEN_BYTES:
                raise UnreadableFile("xml-token-too-long", part=part, limit_mb=_MAX_TOKEN_BYTES // _MB)
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UnreadableFile("xml-invalid", part=part) from exc


class SheetScanner:
    """Streams one worksheet: value extent, uncached formulas, oversized cells.

    Called once per XML element of every sheet, so it keeps per-cell work to
    a few comparisons and builds cell names only when it reports one.
    """

    def __init__(self, sheet: str, limits: Limits, big_strings: set[int], found: ZipScan) -> None:
        self.sheet, self.limits, self.big_strings, self.found = sheet, limits, big_strings, found
        self.max_chars = limits.max_cell_chars
        self.row = self.col = 0
        self.max_row = self.max_col = 0
        self.row_elements = 0
        self.cell_type: str | None = None
        self.in_cell = False
        self.has_formula = False
        self.in_value = False
        self.value_seen = False
        self.value_len = 0
        self.value_text: list[str] = []
        self.in_inline_text = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = local_name(name)
        if tag == "c":
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                digits = ref[len(letters):]
                if letters and digits:
                    self.col, self.row = _col_number(letters.lstrip("$")), int(digits)
                else:
                    self.col += 1
            else:
                self.col += 1
            self.cell_type = attrs.get("t")
            self.in_cell, self.has_formula, self.value_seen, self.value_len = True, False, False, 0
        elif tag == "v":
            self.in_value, self.value_seen = True, True
            self.value_text = []
        elif tag == "row":
            # Rows without values (formatting only) are not data and readers skip
            # them; their number is bounded only to bound our own parsing time.
            self.row_elements += 1
            if self.row_elements > _EXCEL_MAX_ROWS:
                raise UnreadableFile("too-many-row-elements", sheet=self.sheet, limit=_EXCEL_MAX_ROWS)
            r = attrs.get("r", "")
            self.row = int(r) if r.isdigit() else self.row + 1
            self.col = 0
        elif tag == "f":
            self.has_formula = True
        elif tag == "t" and self.in_cell:
            self.in_inline_text = True

    def text(self, data: str) -> None:
        if self.in_value:
            self.value_len += len(data)
            if self.big_strings:
                self.value_text.append(data)
        elif self.in_inline_text:
            self.value_len += len(data)
        else:
            return
        if self.value_len > self.max_chars:
            self._long_cell()

    def end(self, name: str) -> None:
        tag = local_name(name)
        if tag == "c":
            if self.in_cell:
                self._end_cell()
        elif tag == "v":
            self.in_value = False
        elif tag == "t":
            self.in_inline_text = False

    def _end_cell(self) -> None:
        self.in_cell = False
        if self.has_formula and not self.value_len and not (self.cell_type == "str" and self.value_seen):
            # Excel stores an empty-string result as t="str" with an empty <v>; any
            # other formula without a value was never computed by the writing tool.
            self.found.uncached_total += 1
            if len(self.found.uncached_formulas) < _MAX_LISTED:
                self.found.uncached_formulas.append(f"{self.sheet}!{_col_letters(self.col)}{self.row}")
        if not self.value_len:
            return
        if self.big_strings and self.cell_type == "s":
            text = "".join(self.value_text).strip()
            if text.isdigit() and int(text) in self.big_strings:
                self._long_cell()
        if self.row > self.max_row or self.col > self.max_col:
            self.max_row, self.max_col = max(self.max_row, self.row), max(self.max_col, self.col)
            lim = self.limits
            if self.max_row > lim.max_rows:
                raise UnreadableFile("too-many-rows", sheet=self.sheet, row=self.max_row, limit=lim.max_rows)
            if self.max_col > lim.max_columns:
                raise UnreadableFile("too-many-columns", sheet=self.sheet, column=_col_letters(self.max_col),
                                     limit=lim.max_columns)
            if self.max_row * self.max_col > lim.max_cells:
                raise UnreadableFile("too-many-cells", sheet=self.sheet,
                                     cell=f"{_col_letters(self.max_col)}{self.max_row}", limit=lim.max_cells)

    def finish(self) -> None:
        """After the whole sheet: the office's rows cap (:attr:`Limits.max_rows_per_sheet`),
        checked on the last row with a value, before any reader holds the rows.

        Checked at the end, not as rows stream by, so the reason names the
        sheet's real last row; the scan itself stays bounded by ``max_rows``.
        """
        if self.max_row > self.limits.max_rows_per_sheet:
            raise UnreadableFile("sheet-rows-over-cap", sheet=self.sheet, row=self.max_row,
                                 limit=self.limits.max_rows_per_sheet)

    def _long_cell(self) -> None:
        where = f"{self.sheet}!{_col_letters(self.col)}{self.row}"
        raise UnreadableFile("cell-too-long", cell=where, limit=self.limits.max_cell_chars)


def big_shared_strings(chunks: Iterator[bytes], limits: Limits) -> set[int]:
    """Indices of shared strings longer than the cell limit (the sheet scan names their cells)."""
    big: set[int] = set()
    state = {"index": -1, "length": 0, "in_t": False}

    def start(name: str, _attrs: dict[str, str]) -> None:
        tag = local_name(name)
        if tag == "si":
            state["index"] += 1
            state["length"] = 0
        elif tag == "t":
            state["in_t"] = True

    def end(name: str) -> None:
        if local_name(name) == "t":
            state["in_t"] = False

    def text(data: str) -> None:
        if state["in_t"]:
            state["length"] += len(data)
            if state["length"] > limits.max_cell_chars:
                big.add(state["index"])

    parse(chunks, start, end, text, part="sharedStrings.xml")
    return big


# Returns made from one template share their package parts byte for byte: what
# was read from the same small part is reused (results only; failures recur).
_READ: dict[tuple[str, str, bytes], tuple] = {}
_READ_MAX, _READ_PART_MAX = 256, 64 * 1024


def _remembered(kind: str, base: str, chunks: Iterator[bytes], read: Callable[[Iterator[bytes]], list]) -> list:
    if not (isinstance(chunks, tuple) and len(chunks) == 1 and len(chunks[0]) <= _READ_PART_MAX):
        return read(chunks)
    key = (kind, base, chunks[0])
    found = _READ.get(key)
    if found is None:
        found = tuple(read(chunks))
        if len(_READ) >= _READ_MAX:
            _READ.clear()
        _READ[key] = found
    return list(found)


def sheet_entries(chunks: Iterator[bytes], *, part: str) -> list[tuple[str, str, str]]:
    """``(name, state, relationship id)`` of every ``<sheet>`` of a workbook part."""

    def read(chunks: Iterator[bytes]) -> list[tuple[str, str, str]]:
        entries: list[tuple[str, str, str]] = []

        def start(name: str, attrs: dict[str, str]) -> None:
            if local_name(name) == "sheet":
                rid = next((v for k, v in attrs.items() if k == "id" or k.endswith(":id")), "")  # local name "id"
                entries.append((attrs.get("name", ""), attrs.get("state", "visible"), rid))

        parse(chunks, start, part=part)
        return entries

    return _remembered("workbook", "", chunks, read)


def relationships(chunks: Iterator[bytes], base: str, *, part: str) -> list[tuple[str, str, str]]:
    """``(id, type, resolved target)`` of a .rels part; targets resolved against ``base``."""
    return _remembered("rels", base, chunks, lambda c: _relationships(c, base, part=part))


def _relationships(chunks: Iterator[bytes], base: str, *, part: str) -> list[tuple[str, str, str]]:
    rels: list[tuple[str, str, str]] = []

    # posixpath.join(base, target) for a relative target, without its per-call checks.
    prefix = base if not base or base.endswith("/") else base + "/"

    def start(name: str, attrs: dict[str, str]) -> None:
        if local_name(name) != "Relationship":
            return
        target = attrs.get("Target", "")
        if attrs.get("TargetMode") != "External":
            resolved = target.lstrip("/") if target.startswith("/") else prefix + target
            rels.append((attrs.get("Id", ""), attrs.get("Type", ""), posixpath.normpath(resolved)))
        else:
            rels.append((attrs.get("Id", ""), attrs.get("Type", ""), "external:" + target))

    parse(chunks, start, part=part)
    return rels

