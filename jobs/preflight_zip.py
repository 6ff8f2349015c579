"""Bounded inspection of an OOXML (zip) workbook before any Excel reader sees it.

Everything here works on the zip directory and on our own streaming inflate:
declared sizes and ratios are checked before a byte is inflated; then every
entry is inflated in small chunks while counting the real output (a crafted
zip can declare small sizes and still inflate to gigabytes in a reader that
trusts the stream), and the XML parts that matter are fed to expat as they
stream: sheet extents, uncached formulas, oversized cells. No DTDs are
accepted (OOXML never has one), so entity tricks are refused outright.
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING
from xml.parsers import expat

from jobs.errors import UnreadableFile

if TYPE_CHECKING:
    from jobs.preflight import Limits

_MB = 1024 * 1024
_CHUNK = 256 * 1024
_REL_OFFICE_DOC = "/officeDocument"
_MAX_LISTED = 1000  # uncached formula cells kept by name; the rest are only counted
_EXCEL_MAX_ROWS = 1_048_576  # more <row> elements than Excel can hold is never a real sheet
# Longest stretch of XML without a '>' we feed to expat: a cell's text is at most
# 32,767 characters; a longer token (a giant attribute) would be buffered whole.
_MAX_TOKEN_BYTES = 1024 * 1024
_REF = re.compile(r"^\$?([A-Za-z]{1,4})\$?(\d{1,8})$")
CORRUPT = "文件已损坏（{what}），请用Excel重新打开并另存为.xlsx后重新报送"


@dataclass
class ZipScan:
    """What the zip inspection found; see :class:`jobs.preflight.Preflight`."""

    kind: str = "xlsx"
    warnings: list[str] = field(default_factory=list)
    uncached_formulas: list[str] = field(default_factory=list)
    uncached_total: int = 0
    hidden_sheets: list[str] = field(default_factory=list)
    sheet_names: list[str] = field(default_factory=list)


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def _entry_count(fp: IO[bytes], size: int) -> int | None:
    """Entry count from the end-of-central-directory record, read without zipfile."""
    tail_len = min(size, 65557 + 20)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + 22 > len(tail):
        return None
    count = struct.unpack_from("<H", tail, pos + 10)[0]
    if count == 0xFFFF and pos >= 20 and tail[pos - 20 : pos - 16] == b"PK\x06\x07":
        z64_offset = struct.unpack_from("<Q", tail, pos - 20 + 8)[0]
        fp.seek(z64_offset)
        rec = fp.read(56)
        if len(rec) == 56 and rec[:4] == b"PK\x06\x06":
            count = struct.unpack_from("<Q", rec, 32)[0]
    return count


def _inflate(fp: IO[bytes], info: zipfile.ZipInfo, budget: int) -> Iterator[bytes]:
    """Yield the entry's bytes in chunks, never more than its declared size or ``budget``."""
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise UnreadableFile(CORRUPT.format(what="压缩包结构不完整"))
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    allowed = min(info.file_size, budget)
    remaining, produced, crc = info.compress_size, 0, 0
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None

    def emit(data: bytes) -> bytes:
        nonlocal produced, crc
        produced += len(data)
        if produced > allowed:
            if produced > info.file_size:
                msg = "文件已损坏或被篡改（压缩数据比其声明的大小更多，疑似压缩炸弹），已拒收；请用Excel重新保存后报送"
                raise UnreadableFile(msg)
            # Unreachable while declared sizes are honoured (their sum was checked);
            # kept so the budget holds even if that check changes.
            msg = "文件解压后过大，疑似异常文件，已拒收"
            raise UnreadableFile(msg)
        crc = zlib.crc32(data, crc)
        return data

    try:
        while remaining > 0:
            raw = fp.read(min(_CHUNK, remaining))
            if not raw:
                raise UnreadableFile(CORRUPT.format(what="文件不完整，可能是传输中断"))
            remaining -= len(raw)
            if inflater is None:
                yield emit(raw)
                continue
            data = inflater.decompress(raw, _CHUNK)
            yield emit(data)
            while inflater.unconsumed_tail:
                yield emit(inflater.decompress(inflater.unconsumed_tail, _CHUNK))
        if inflater is not None:
            yield emit(inflater.flush())
    except zlib.error as exc:
        raise UnreadableFile(CORRUPT.format(what="压缩数据损坏")) from exc
    if produced != info.file_size or crc != info.CRC:
        raise UnreadableFile(CORRUPT.format(what=f"“{info.filename}”校验失败"))


def _norm(name: str) -> str:
    # Some writers store Windows separators; Excel readers accept them.
    return name.replace("\\", "/")


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _parse(chunks: Iterator[bytes], start: Callable, end: Callable | None = None,
           text: Callable | None = None, *, part: str) -> None:
    """Feed streamed XML to expat with the given handlers; DTDs are refused."""
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def no_dtd(*_args: object) -> None:
        raise UnreadableFile(f"文件中的“{part}”含有不允许的XML声明（DTD/实体），疑似异常文件，已拒收")

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
                msg = f"文件中的“{part}”含有超长的XML片段（超过{_MAX_TOKEN_BYTES // _MB}MB），疑似异常文件，已拒收"
                raise UnreadableFile(msg)
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise UnreadableFile(CORRUPT.format(what=f"“{part}”不是有效的XML")) from exc


class _SheetScanner:
    """Streams one worksheet: value extent, uncached formulas, oversized cells."""

    def __init__(self, sheet: str, limits: Limits, big_strings: set[int], found: ZipScan) -> None:
        self.sheet, self.limits, self.big_strings, self.found = sheet, limits, big_strings, found
        self.row = 0
        self.col = 0
        self.max_row = self.max_col = 0
        self.row_elements = 0
        self.cell: dict[str, str] | None = None
        self.has_formula = False
        self.value: list[str] | None = None
        self.inline_len = 0
        self.in_inline_text = False
        self.has_value = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "c":
            self.col += 1
            ref = _REF.match(attrs.get("r", ""))
            if ref:
                self.col, self.row = _col_number(ref[1]), int(ref[2])
            self.cell, self.has_formula, self.value, self.inline_len = attrs, False, None, 0
            self.has_value = False
        elif tag == "row":
            # Rows without values (formatting only) are not data and readers skip
            # them; their number is bounded only to bound our own parsing time.
            self.row_elements += 1
            if self.row_elements > _EXCEL_MAX_ROWS:
                self._too_big(f"超过Excel上限{_EXCEL_MAX_ROWS}行")
            r = attrs.get("r", "")
            self.row = int(r) if r.isdigit() else self.row + 1
            self.col = 0
        elif tag == "f":
            self.has_formula = True
        elif tag == "v":
            self.value = []
        elif tag == "t" and self.cell is not None:
            self.in_inline_text = True

    def text(self, data: str) -> None:
        if self.value is not None:
            self.value.append(data)
            if sum(map(len, self.value)) > self.limits.max_cell_chars:
                self._long_cell()
        elif self.in_inline_text:
            self.inline_len += len(data)
            self.has_value = True
            if self.inline_len > self.limits.max_cell_chars:
                self._long_cell()

    def end(self, name: str) -> None:
        tag = _local(name)
        if tag == "t":
            self.in_inline_text = False
        elif tag == "v" and self.value is not None:
            self.has_value = self.has_value or bool("".join(self.value))
        elif tag == "c" and self.cell is not None:
            self._end_cell()

    def _end_cell(self) -> None:
        cell, text = self.cell or {}, "".join(self.value or ())
        where = f"{self.sheet}!{_col_letters(self.col)}{self.row}"
        # Excel stores an empty-string result as t="str" with an empty <v>; any
        # other formula without a value was never computed by the writing tool.
        cached_empty = cell.get("t") == "str" and self.value is not None
        if self.has_formula and not text and not cached_empty:
            self.found.uncached_total += 1
            if len(self.found.uncached_formulas) < _MAX_LISTED:
                self.found.uncached_formulas.append(where)
        if cell.get("t") == "s" and text.strip().isdigit() and int(text) in self.big_strings:
            self._long_cell()
        if self.has_value:
            self.max_row, self.max_col = max(self.max_row, self.row), max(self.max_col, self.col)
            lim = self.limits
            if self.max_row > lim.max_rows:
                self._too_big(f"数据到第{self.max_row}行，超过{lim.max_rows}行")
            if self.max_col > lim.max_columns:
                self._too_big(f"数据到第{_col_letters(self.max_col)}列，超过{lim.max_columns}列")
            if self.max_row * self.max_col > lim.max_cells:
                self._too_big(f"数据范围到{_col_letters(self.max_col)}{self.max_row}，超过{lim.max_cells}个单元格")
        self.cell = None

    def _too_big(self, what: str) -> None:
        msg = f"工作表“{self.sheet}”过大（{what}），疑似异常文件，已拒收；请删除多余的行列后重新保存报送"
        raise UnreadableFile(msg)

    def _long_cell(self) -> None:
        where = f"{self.sheet}!{_col_letters(self.col)}{self.row}"
        msg = (f"单元格{where}内容过长（超过{self.limits.max_cell_chars}个字符，超出Excel单元格上限），"
               "疑似异常文件，已拒收")
        raise UnreadableFile(msg)


def _big_shared_strings(chunks: Iterator[bytes], limits: Limits) -> set[int]:
    """Indices of shared strings longer than the cell limit (the sheet scan names their cells)."""
    big: set[int] = set()
    state = {"index": -1, "length": 0, "in_t": False}

    def start(name: str, _attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "si":
            state["index"] += 1
            state["length"] = 0
        elif tag == "t":
            state["in_t"] = True

    def end(name: str) -> None:
        if _local(name) == "t":
            state["in_t"] = False

    def text(data: str) -> None:
        if state["in_t"]:
            state["length"] += len(data)
            if state["length"] > limits.max_cell_chars:
                big.add(state["index"])

    _parse(chunks, start, end, text, part="sharedStrings.xml")
    return big


def _relationships(chunks: Iterator[bytes], base: str, *, part: str) -> list[tuple[str, str, str]]:
    """``(id, type, resolved target)`` of a .rels part; targets resolved against ``base``."""
    rels: list[tuple[str, str, str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            resolved = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
            rels.append((attrs.get("Id", ""), attrs.get("Type", ""), posixpath.normpath(resolved)))
        elif _local(name) == "Relationship":
            rels.append((attrs.get("Id", ""), attrs.get("Type", ""), "external:" + attrs.get("Target", "")))

    _parse(chunks, start, part=part)
    return rels


def _declared_checks(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse before inflating anything: entry count, flags, sizes and ratios from the directory."""
    if len(infos) > limits.max_entries:
        msg = f"压缩包内条目过多（{len(infos)}个，超过{limits.max_entries}个），疑似异常文件，已拒收"
        raise UnreadableFile(msg)
    names = [_norm(i.filename) for i in infos]
    if len(set(names)) != len(names):
        raise UnreadableFile("压缩包内有重复的条目，疑似被篡改的文件，已拒收；请用Excel重新保存后报送")
    total_in = total_out = 0
    floor = limits.ratio_floor_mb * _MB
    too_big = f"文件解压后过大（超过{limits.max_uncompressed_mb}MB），疑似异常文件，已拒收"
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnreadableFile("文件已加密，请去除密码后重新报送")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableFile(CORRUPT.format(what="使用了Excel不使用的压缩方式"))
        total_in += info.compress_size
        total_out += info.file_size
        if info.file_size > limits.max_uncompressed_mb * _MB:
            raise UnreadableFile(too_big)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > floor and ratio > limits.max_ratio:
            msg = f"文件压缩比异常（“{info.filename}”压缩比{ratio:.0f}:1，超过{limits.max_ratio:.0f}:1），疑似压缩炸弹，已拒收"
            raise UnreadableFile(msg)
    if total_out > limits.max_uncompressed_mb * _MB:
        raise UnreadableFile(too_big)
    if total_out > floor and total_out / max(total_in, 1) > limits.max_ratio:
        msg = f"文件整体压缩比异常（{total_out / max(total_in, 1):.0f}:1），疑似压缩炸弹，已拒收"
        raise UnreadableFile(msg)


def _not_a_workbook(names: set[str], read: Callable[[str], Iterator[bytes]]) -> str | None:
    """A reason when the zip is another document type; ``None`` when it may be a workbook."""
    if "mimetype" in names:
        mime = next(read("mimetype"), b"")[:200].decode("ascii", errors="replace").strip()
        if "opendocument.spreadsheet" in mime:
            return "文件是OpenDocument表格（.ods，WPS/LibreOffice格式），请用Excel另存为.xlsx后重新报送"
        return "文件是OpenDocument文档，不是Excel工作簿，请用Excel另存为.xlsx后重新报送"
    if any(n.startswith("word/") for n in names):
        return "文件不是Excel工作簿（看起来是Word文档），请使用办公室下发的Excel模板填报"
    if any(n.startswith("ppt/") for n in names):
        return "文件不是Excel工作簿（看起来是PowerPoint演示文稿），请使用办公室下发的Excel模板填报"
    return None


def scan_zip(path: Path, limits: Limits) -> ZipScan:
    """Inspect an OOXML workbook; raise :class:`UnreadableFile` for anything unsafe or unusable."""
    found = ZipScan()
    size = path.stat().st_size
    with path.open("rb") as fp:
        count = _entry_count(fp, size)
        if count is None:
            raise UnreadableFile(CORRUPT.format(what="压缩包不完整，可能是传输中断"))
        if count > limits.max_entries:
            msg = f"压缩包内条目过多（{count}个，超过{limits.max_entries}个），疑似异常文件，已拒收"
            raise UnreadableFile(msg)
        try:
            infos = zipfile.ZipFile(fp).infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as exc:
            raise UnreadableFile(CORRUPT.format(what="压缩包不完整，可能是传输中断")) from exc
        _declared_checks(infos, limits)
        by_name = {_norm(i.filename): i for i in infos}
        budget = [limits.max_uncompressed_mb * _MB]
        done: set[str] = set()

        def stream(name: str) -> Iterator[bytes]:
            done.add(name)
            for chunk in _inflate(fp, by_name[name], budget[0]):
                budget[0] -= len(chunk)
                yield chunk

        names = set(by_name)
        other = _not_a_workbook(names, stream)
        if other:
            raise UnreadableFile(other)
        main = next((t for _i, typ, t in _relationships(stream("_rels/.rels"), "", part="_rels/.rels")
                     if typ.endswith(_REL_OFFICE_DOC)), None) if "_rels/.rels" in names else None
        main = main or ("xl/workbook.xml" if "xl/workbook.xml" in names else None)
        if main is None or main not in names:
            raise UnreadableFile("文件是压缩包（ZIP），不是Excel工作簿，请用Excel另存为.xlsx后重新报送")
        if main.endswith(".bin"):
            raise UnreadableFile("文件是Excel二进制工作簿（.xlsb），请用Excel另存为.xlsx后重新报送")
        sheets = _workbook_sheets(stream, main, names, found)
        # Worksheet parts the workbook does not list are scanned too: a reader
        # that finds them some other way must not meet an unchecked sheet.
        for name in sorted(names):
            if "/worksheets/" in f"/{name}" and name.endswith(".xml") and name not in sheets:
                sheets[name] = posixpath.basename(name)
        if any(n.lower().endswith("vbaproject.bin") for n in names) or any("/macrosheets/" in n for n in names):
            found.kind = "xlsm"
            found.warnings.append("含宏，已忽略宏，仅读取数据")
        if any("/externalLinks/" in f"/{n}" for n in names):
            found.warnings.append("含外部链接（引用其他文件的数据），已忽略外部链接，仅读取文件中保存的数值")
        strings = next((n for n in names if posixpath.basename(n).lower() == "sharedstrings.xml"), None)
        big = _big_shared_strings(stream(strings), limits) if strings else set()
        for part, sheet in sheets.items():
            scanner = _SheetScanner(sheet, limits, big, found)
            _parse(stream(part), scanner.start, scanner.end, scanner.text, part=part)
        for name in sorted(names - done):
            for _chunk in stream(name):
                pass  # inflate-and-count: sizes and checksums of every entry are verified
    return found


def _workbook_sheets(stream: Callable[[str], Iterator[bytes]], main: str, names: set[str], found: ZipScan) -> dict[str, str]:
    """Map worksheet part -> sheet name; record hidden sheets."""
    base = posixpath.dirname(main)
    rels_part = posixpath.join(base, "_rels", posixpath.basename(main) + ".rels")
    targets = {rid: target for rid, _t, target in _relationships(stream(rels_part), base, part=rels_part)} \
        if rels_part in names else {}
    entries: list[tuple[str, str, str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
            entries.append((attrs.get("name", ""), attrs.get("state", "visible"), rid))

    _parse(stream(main), start, part=main)
    sheets: dict[str, str] = {}
    for sheet, state, rid in entries:
        found.sheet_names.append(sheet)
        if state in ("hidden", "veryHidden"):
            found.hidden_sheets.append(sheet)  # the reader warns, naming the schema sheet
        part = targets.get(rid)
        if part in names:
            sheets[part] = sheet
    return sheets
