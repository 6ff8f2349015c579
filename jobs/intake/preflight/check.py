"""Preflight: decide by content, within fixed bounds, whether a received file may be read.

Every received file passes here before any Excel reader touches it. The file
type comes from its magic bytes, never its extension: OLE2 (``D0CF11E0``) is a
legacy ``.xls`` or an encrypted ``.xlsx``; ZIP (``PK\\x03\\x04``) is checked from
its directory and a bounded streaming inflate (:mod:`jobs.intake.preflight.zip_parts`);
anything else is rejected, naming what it looks like. Failures are
``UnreadableFile`` sub-codes whose Chinese reasons (the schema's ``unreadable``
catalogue) are written for the clerk who must fix and resend the file. Nothing in a file is
ever executed: macros and external links are noted and ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jobs.core.errors import UnreadableFile
from jobs.core.files import RefusedFile, megabytes, open_regular, too_big
from jobs.core.findings import Finding, make_finding
from jobs.intake.preflight.ole import inspect_ole
from jobs.intake.preflight.zip_parts import scan_zip
from jobs.office.config import Limits

Kind = Literal["xlsx", "xlsm", "xls"]

_MB = 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


_DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Preflight:
    """What preflight learned about a readable file.

    Attributes
    ----------
    kind
        The real type by content (a ``.xlsx`` renamed ``.xls`` is ``"xlsx"``).
    warnings
        Chinese notes for the unit (macros ignored, external links, hidden sheets).
    uncached_formulas
        A1 cells such as ``"整改台账!L12"`` holding a formula without a stored
        result (the writing tool never computed it): their values are unknown,
        not empty. At most 1000 are listed; ``uncached_total`` counts all.
    hidden_sheets
        Names of hidden (or very hidden) sheets, read like the others (the
        reader warns about them; they are not repeated in ``warnings``).
    """

    kind: Kind
    warnings: tuple[str, ...] = ()
    uncached_formulas: tuple[str, ...] = ()
    uncached_total: int = 0
    hidden_sheets: tuple[str, ...] = ()
    sheet_names: tuple[str, ...] = ()
    # preflight_read(unpack=True): the checked parts re-packed uncompressed (jobs.intake.preflight.repack)
    unpacked: bytes | None = field(default=None, repr=False, compare=False)


def _looks_like(head: bytes) -> str:
    """Name what a non-workbook file looks like, for the rejection reason."""
    stripped = head.lstrip(b"\xef\xbb\xbf\xff\xfe\xfe\xff \t\r\n\x00")
    lower = stripped[:512].lower().replace(b"\x00", b"")
    if head.startswith(b"%PDF"):
        return "PDF文件"
    if lower.startswith((b"<!doctype html", b"<html", b"<table", b"<meta", b"<head")) or b"<html" in lower:
        return "网页（HTML）文件"
    if lower.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head.lower():
        return "Excel 2003 XML表格"
    if lower.startswith(b"<?xml") or lower.startswith(b"<"):
        return "XML文件"
    if head.startswith(b"{\\rtf"):
        return "RTF文档"
    signatures = {
        b"\x89PNG": "PNG图片", b"\xff\xd8\xff": "JPEG图片", b"GIF8": "GIF图片", b"BM": "BMP图片",
        b"Rar!": "RAR压缩包", b"7z\xbc\xaf": "7z压缩包", b"\x1f\x8b": "gzip压缩包", b"MZ": "可执行程序",
        b"\x7fELF": "可执行程序",
    }
    for magic, what in signatures.items():
        if head.startswith(magic):
            return what
    text = _decode_text(head)
    if text is not None:
        first_lines = text.splitlines()[:5]
        if any("," in line or "\t" in line or "，" in line for line in first_lines):
            return "CSV或文本文件"
        return "文本文件"
    return "无法识别的格式"


def _decode_text(head: bytes) -> str | None:
    for encoding in ("utf-8", "utf-16", "gb18030"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            # The head may cut a multi-byte character at its end.
            try:
                text = head[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
        if text and printable / len(text) > 0.95:
            return text
    return None


_XLS_MAX_ROWS, _XLS_MAX_COLUMNS = 65_536, 256


def _preflight_ole(data: bytes, limits: Limits) -> Preflight:
    try:
        names, info = inspect_ole(data, max_bytes=int(limits.max_file_mb * _MB))
    except Exception:  # noqa: BLE001 - hostile bytes: a parser failure is a broken container
        names, info = None, None
    if names is None:
        raise UnreadableFile("ole-broken")
    if {"EncryptionInfo", "EncryptedPackage"} & names:
        raise UnreadableFile("encrypted")
    if "WordDocument" in names:
        raise UnreadableFile("word-document")
    if "PowerPoint Document" in names:
        raise UnreadableFile("powerpoint-document")
    if not any(n.lower() in ("workbook", "book") for n in names):
        raise UnreadableFile("other-compound-document")
    # The reader allocates each sheet's rectangle at once: an edited DIMENSIONS
    # or cell record would make it ask for gigabytes, so extents are checked here.
    if info is None:
        raise UnreadableFile("ole-broken")
    if info.encrypted:
        raise UnreadableFile("encrypted")
    for extent in info.extents:
        rows, cols = extent.rows, extent.columns
        if rows > min(limits.max_rows, _XLS_MAX_ROWS) or cols > min(limits.max_columns, _XLS_MAX_COLUMNS) \
                or rows * cols > limits.max_cells:
            raise UnreadableFile("xls-sheet-too-large", rows=rows, columns=cols)
    # the globals substream comes first (no cells); then one extent per sheet, in workbook order
    for number, extent in enumerate(info.extents[1:], start=1):
        if extent.rows > limits.max_rows_per_sheet:
            raise UnreadableFile("sheet-rows-over-cap", sheet=f"第{number}张工作表", row=extent.rows,
                                 limit=limits.max_rows_per_sheet)
    warnings = ("含宏，已忽略宏，仅读取数据",) if {"_VBA_PROJECT_CUR", "VBA"} & names else ()
    return Preflight(kind="xls", warnings=warnings)


def preflight(path: str | Path, *, limits: Limits | None = None, exact: bool = False) -> Preflight:
    """Check a received file before reading it (:func:`preflight_read` without the bytes)."""
    return preflight_read(path, limits=limits, exact=exact)[0]


def preflight_read(
    path: str | Path, *, limits: Limits | None = None, unpack: bool = False, exact: bool = False
) -> tuple[Preflight, bytes | None]:
    """Check a received file before reading it; also hand back the bytes it read.

    Parameters
    ----------
    path
        The received file.
    limits
        Bounds on size, ratio, entries, rows, columns and cell length;
        defaults to :class:`Limits`.
    unpack
        Also re-pack a ``.xlsx``'s verified parts uncompressed
        (``Preflight.unpacked``): the Excel reader then need not inflate them again.
    exact
        Take none of the byte-level shortcuts of a ``.xlsx`` check (see
        :func:`jobs.intake.preflight.zip_parts.scan_zip`): the same verdict, slower.

    Returns
    -------
    tuple[Preflight, bytes | None]
        The real kind and notes for a file that may be read, and the file's
        bytes, which the Excel reader may open instead of reading the file
        again; ``None`` when it must open the path (a zip that also holds
        binary-workbook parts, which a format-sniffing reader could pick).

    Raises
    ------
    UnreadableFile
        With a sub-code and its Chinese reason: not a workbook (naming what it
        looks like), encrypted, corrupt, a zip bomb, or over a limit.
    """
    limits = limits or _DEFAULT_LIMITS
    path = path if isinstance(path, Path) else Path(path)  # re-parsing a Path costs ~10 µs
    try:
        with open_regular(path) as fp:  # one open and fstat instead of stat + open; no link, FIFO or device
            size = os.fstat(fp.fileno()).st_size
            # Within the size limit the whole file is read once; every later step works on these bytes.
            # (read(n) allocates n bytes up front: ask for the size fstat gave, never the limit)
            data = fp.read(size) if size <= limits.max_file_mb * _MB else fp.read(4096)
    except RefusedFile as exc:
        raise UnreadableFile(exc.kind, **exc.params) from exc
    except OSError as exc:
        raise UnreadableFile("cannot-open", error=exc.strerror or type(exc).__name__) from exc
    head = data[:4096]
    if size == 0:
        raise UnreadableFile("empty-file")
    if too_big(size, max_mb=limits.max_file_mb):
        raise UnreadableFile("file-too-large", size_mb=megabytes(size), limit_mb=f"{limits.max_file_mb:g}")
    if head.startswith(OLE_MAGIC):
        return _preflight_ole(data, limits), data
    if head.startswith(ZIP_MAGIC):
        try:
            found = scan_zip(path, limits, data=data, unpack=unpack, exact=exact)
        except UnreadableFile:
            raise
        except Exception as exc:  # noqa: BLE001 - hostile bytes: any parser failure is a damaged file
            raise UnreadableFile("corrupt") from exc
        return Preflight(
            kind="xlsm" if found.kind == "xlsm" else "xlsx",
            warnings=tuple(found.warnings),
            uncached_formulas=tuple(found.uncached_formulas),
            uncached_total=found.uncached_total,
            hidden_sheets=tuple(found.hidden_sheets),
            sheet_names=tuple(found.sheet_names),
            unpacked=found.unpacked,
        ), None if found.binary_workbook else data
    if head.startswith((b"PK\x05\x06", b"PK\x07\x08")):
        raise UnreadableFile("empty-zip")
    raise UnreadableFile("not-a-workbook", looks_like=_looks_like(head))


def preflight_findings(pf: Preflight, *, sheets: Iterable[str] | None = None) -> list[Finding]:
    """Findings the reader/validator attaches for a readable file.

    Uncached formulas inside ``sheets`` (source sheet names; all sheets when
    ``None``) are one ``unreadable-file`` error: their values are unknown and
    must not be counted as empty.
    """
    keep = None if sheets is None else set(sheets)
    cells = [c for c in pf.uncached_formulas if keep is None or c.rpartition("!")[0] in keep]
    if not cells:
        return []
    total = pf.uncached_total if keep is None else len(cells)
    return [make_finding("unreadable-file", subcode="uncached-formulas", cells=uncached_cells(cells, total))]


def uncached_cells(cells: Iterable[str], total: int | None = None, *, shown: int = 10) -> str:
    """The ``{cells}`` of the ``uncached-formulas`` reason: the first ``shown`` cells, and how many in all."""
    cells = list(cells)
    total = len(cells) if total is None else total
    return "、".join(cells[:shown]) + (f"等{total}处" if total > shown else "")
