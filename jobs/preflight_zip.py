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
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from jobs.errors import UnreadableFile
from jobs.preflight_fast import checked_string_counts, sheet_is_plain, strings_are_short
from jobs.preflight_xml import (
    CORRUPT,
    SheetScanner,
    ZipScan,
    big_shared_strings,
    local_name,
    parse,
    relationships,
)

if TYPE_CHECKING:
    from jobs.preflight import Limits
_MB = 1024 * 1024
_CHUNK = 256 * 1024
_REL_OFFICE_DOC = "/officeDocument"


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
        # zipfile parses hostile bytes here: besides BadZipFile it raises
        # NotImplementedError (unknown versions), ValueError, struct.error ...
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFile(CORRUPT.format(what="压缩包不完整，可能是传输中断")) from exc
        _declared_checks(infos, limits)
        by_name = {_norm(i.filename): i for i in infos}
        budget = [limits.max_uncompressed_mb * _MB]
        done: set[str] = set()

        def stream(name: str) -> Iterator[bytes]:
            if name in done:  # a second pass (the exact scan after a fast one): already counted
                yield from _inflate(fp, by_name[name], by_name[name].file_size)
                return
            done.add(name)
            for chunk in _inflate(fp, by_name[name], budget[0]):
                budget[0] -= len(chunk)
                yield chunk

        names = set(by_name)
        other = _not_a_workbook(names, stream)
        if other:
            raise UnreadableFile(other)
        main = next((t for _i, typ, t in relationships(stream("_rels/.rels"), "", part="_rels/.rels")
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
        big: set[int] = set()
        if strings and not strings_are_short(checked_string_counts(stream(strings), by_name[strings].file_size),
                                             limits):
            big = big_shared_strings(stream(strings), limits)
        for part, sheet in sheets.items():
            if not big and sheet_is_plain(stream(part), limits):
                continue
            scanner = SheetScanner(sheet, limits, big, found)
            parse(stream(part), scanner.start, scanner.end, scanner.text, part=part)
        for name in sorted(names - done):
            for _chunk in stream(name):
                pass  # inflate-and-count: sizes and checksums of every entry are verified
    return found


def _workbook_sheets(stream: Callable[[str], Iterator[bytes]], main: str, names: set[str], found: ZipScan) -> dict[str, str]:
    """Map worksheet part -> sheet name; record hidden sheets."""
    base = posixpath.dirname(main)
    rels_part = posixpath.join(base, "_rels", posixpath.basename(main) + ".rels")
    targets = {rid: target for rid, _t, target in relationships(stream(rels_part), base, part=rels_part)} \
        if rels_part in names else {}
    entries: list[tuple[str, str, str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if local_name(name) == "sheet":
            rid = next((v for k, v in attrs.items() if local_name(k) == "id"), "")
            entries.append((attrs.get("name", ""), attrs.get("state", "visible"), rid))

    parse(stream(main), start, part=main)
    sheets: dict[str, str] = {}
    for sheet, state, rid in entries:
        found.sheet_names.append(sheet)
        if state in ("hidden", "veryHidden"):
            found.hidden_sheets.append(sheet)  # the reader warns, naming the schema sheet
        part = targets.get(rid)
        if part in names:
            sheets[part] = sheet
    return sheets
