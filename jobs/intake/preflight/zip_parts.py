"""Bounded inspection of an OOXML (zip) workbook before any Excel reader sees it.

Everything here works on the zip directory and on our own inflate: declared
sizes and ratios are checked before a byte is inflated; then every entry is
inflated while counting the real output (a crafted zip can declare small
sizes and still inflate to gigabytes in a reader that trusts the stream) —
ordinary parts in one libdeflate call into a buffer of their declared size,
large or damaged ones in small chunks, which give the exact reason — and the
XML parts that matter are checked: sheet extents, uncached formulas,
oversized cells (a byte-level proof for plain sheets, expat for the rest). No
DTDs are accepted (OOXML never has one), so entity tricks are refused outright.
"""

from __future__ import annotations

import io
import posixpath
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import deflate

from jobs.core.errors import UnreadableFile
from jobs.intake.preflight.fast import (
    checked_string_counts,
    sheet_is_plain,
    strings_are_short,
)
from jobs.intake.preflight.repack import repack
from jobs.intake.preflight.sheet_xml import (
    SheetScanner,
    ZipScan,
    big_shared_strings,
    parse,
    relationships,
    sheet_entries,
)

if TYPE_CHECKING:
    from jobs.office.config import Limits
_MB = 1024 * 1024
_CHUNK = 256 * 1024
# Parts up to this size are inflated in one bounded call and checked on their
# whole bytes; larger ones stream in _CHUNK pieces, as before.
_WHOLE_MAX = 16 * _MB
_CENTRAL = struct.Struct("<4s2xBxHH4xLLLHHH8xL")  # the central directory fields used (pad bytes skip the rest)
_LOCAL_NAMES = struct.Struct("<HH")
_VERIFIED: dict[tuple[bytes, int, int, int], bytes] = {}
_VERIFIED_MAX, _VERIFIED_PART_MAX = 256, 64 * 1024
_MAX_EXTRACT_VERSION = 63  # zipfile refuses higher versions
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


@dataclass(slots=True)
class _Entry:
    """The directory fields preflight uses (the names of :class:`zipfile.ZipInfo`)."""

    filename: str
    header_offset: int
    compress_size: int
    file_size: int
    CRC: int  # noqa: N815 - zipfile's name
    compress_type: int
    flag_bits: int


def _directory(data: bytes) -> tuple[int, list[_Entry]] | None:
    """Entry count and entries of an ordinary zip, read straight from its bytes.

    ``None`` for anything zipfile would treat specially (a comment, zip64,
    bytes before the archive, extra fields, unusual names or versions): the
    caller then reads the directory with zipfile, which gives the exact reasons.
    """
    end = len(data) - 22
    if end < 0 or data[end : end + 4] != b"PK\x05\x06" or data.find(b"PK\x05\x06", end + 1) >= 0:
        return None
    count, cd_size, cd_offset, comment = struct.unpack_from("<HIIH", data, end + 10)
    if comment or count == 0xFFFF or cd_offset + cd_size != end \
            or (end >= 20 and data[end - 20 : end - 16] == b"PK\x06\x07"):
        return None
    entries: list[_Entry] = []
    pos = cd_offset
    while pos < end:
        if pos + 46 > end:
            return None
        (sig, version, flags, method, crc, csize, usize, name_len, extra_len, comment_len,
         offset) = _CENTRAL.unpack_from(data, pos)
        stop = pos + 46 + name_len
        if sig != b"PK\x01\x02" or version > _MAX_EXTRACT_VERSION or extra_len or stop + comment_len > end:
            return None
        raw_name = data[pos + 46 : stop]
        try:
            # cp437 and UTF-8 both map ASCII to itself; ASCII decodes in C, cp437 through a Python codec
            encoding = "ascii" if raw_name.isascii() else "utf-8" if flags & 0x800 else "cp437"
            name = raw_name.decode(encoding)
        except UnicodeDecodeError:
            return None
        if "\x00" in name:
            return None
        entries.append(_Entry(name, offset, csize, usize, crc, method, flags))
        pos = stop + comment_len
    return count, entries


def _inflate_whole(data: bytes, info: _Entry | zipfile.ZipInfo, *, remember: bool = True) -> bytes | None:
    """The entry's bytes in one call into a buffer of its declared size.

    libdeflate fails rather than write past the buffer, so a size that lies
    costs no memory. ``None`` when anything is off (the streaming
    :func:`_inflate` then gives the exact reason) or the entry is larger than
    ``_WHOLE_MAX``.
    """
    size = info.file_size
    offset = info.header_offset
    if size > _WHOLE_MAX or offset + 30 > len(data) or not data.startswith(b"PK\x03\x04", offset):
        return None
    name_len, extra_len = _LOCAL_NAMES.unpack_from(data, offset + 26)
    start = offset + 30 + name_len + extra_len
    stop = start + info.compress_size
    if stop > len(data):
        return None
    raw = data[start:stop]
    # Returns made from one template share parts (styles, theme, rels) byte for
    # byte: the same compressed bytes, size and checksum verify the same way.
    key = (raw, size, info.CRC, info.compress_type)
    remember = remember and size <= _VERIFIED_PART_MAX
    out = _VERIFIED.get(key) if remember else None
    if out is not None:
        return out
    if info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            out = bytes(deflate.deflate_decompress(raw, size)) if size else b""
        except deflate.DeflateError:
            return None
        if not size and info.compress_size:
            return None  # an empty part with data: the stream decides
    elif info.compress_type == zipfile.ZIP_STORED:
        out = raw
    else:
        return None
    if len(out) != size or deflate.crc32(out) != info.CRC:
        return None
    if remember:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = out
    return out


def _inflate(fp: IO[bytes], info: _Entry | zipfile.ZipInfo, budget: int, *, limit_mb: float) -> Iterator[bytes]:
    """Yield the entry's bytes in chunks, never more than its declared size or ``budget``
    (what remains of the ``limit_mb`` all entries may inflate to)."""
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise UnreadableFile("zip-truncated")
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
                raise UnreadableFile("zip-bomb-overrun")
            # Unreachable while declared sizes are honoured (their sum was checked);
            # kept so the budget holds even if that check changes.
            raise UnreadableFile("uncompressed-too-large", limit_mb=f"{limit_mb:g}")
        crc = zlib.crc32(data, crc)
        return data

    try:
        while remaining > 0:
            raw = fp.read(min(_CHUNK, remaining))
            if not raw:
                raise UnreadableFile("zip-truncated")
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
        raise UnreadableFile("zip-data-corrupt") from exc
    if produced != info.file_size or crc != info.CRC:
        raise UnreadableFile("zip-checksum", part=info.filename)


def _norm(name: str) -> str:
    # Some writers store Windows separators; Excel readers accept them.
    return name.replace("\\", "/")


def _declared_checks(infos: list[_Entry] | list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse before inflating anything: entry count, flags, sizes and ratios from the directory."""
    if len(infos) > limits.max_entries:
        raise UnreadableFile("too-many-entries", count=len(infos), limit=limits.max_entries)
    names = [_norm(i.filename) for i in infos]
    if len(set(names)) != len(names):
        raise UnreadableFile("duplicate-entries")
    total_in = total_out = 0
    floor = limits.ratio_floor_mb * _MB
    limit_mb = f"{limits.max_uncompressed_mb:g}"
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnreadableFile("encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableFile("zip-compression-method")
        total_in += info.compress_size
        total_out += info.file_size
        if info.file_size > limits.max_uncompressed_mb * _MB:
            raise UnreadableFile("uncompressed-too-large", limit_mb=limit_mb)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > floor and ratio > limits.max_ratio:
            raise UnreadableFile("zip-bomb-ratio", part=info.filename, ratio=f"{ratio:.0f}",
                                 limit=f"{limits.max_ratio:.0f}")
    if total_out > limits.max_uncompressed_mb * _MB:
        raise UnreadableFile("uncompressed-too-large", limit_mb=limit_mb)
    if total_out > floor and total_out / max(total_in, 1) > limits.max_ratio:
        raise UnreadableFile("zip-bomb-total-ratio", ratio=f"{total_out / max(total_in, 1):.0f}")


def _refuse_other_documents(names: set[str], read: Callable[[str], Iterator[bytes]]) -> None:
    """Raise :class:`UnreadableFile` when the zip is another document type (it may be a workbook otherwise)."""
    if "mimetype" in names:
        mime = next(read("mimetype"), b"")[:200].decode("ascii", errors="replace").strip()
        if "opendocument.spreadsheet" in mime:
            raise UnreadableFile("ods")
        raise UnreadableFile("opendocument")
    if not any(n.startswith(("word/", "ppt/")) for n in names):
        return
    if any(n.startswith("word/") for n in names):
        raise UnreadableFile("word-document")
    raise UnreadableFile("powerpoint-document")


def _listing(data: bytes, limits: Limits, *, exact: bool = False) -> list[_Entry] | list[zipfile.ZipInfo]:
    """The zip directory, refusing too many entries before anything is inflated."""
    listed = None if exact else _directory(data)
    if listed is not None:
        count, infos = listed
    else:
        fp = io.BytesIO(data)
        count = _entry_count(fp, len(data))
        if count is None:
            raise UnreadableFile("zip-truncated")
    if count > limits.max_entries:
        raise UnreadableFile("too-many-entries", count=count, limit=limits.max_entries)
    if listed is None:
        try:
            infos = zipfile.ZipFile(fp).infolist()
        # zipfile parses hostile bytes here: besides BadZipFile it raises
        # NotImplementedError (unknown versions), ValueError, struct.error ...
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFile("zip-truncated") from exc
    return infos


def scan_zip(
    path: Path, limits: Limits, *, data: bytes | None = None, unpack: bool = False, exact: bool = False
) -> ZipScan:
    """Inspect an OOXML workbook; raise :class:`UnreadableFile` for anything unsafe or unusable.

    ``data`` is the file's bytes when the caller has already read them;
    ``unpack`` also keeps the verified parts re-packed uncompressed
    (``ZipScan.unpacked``, see :mod:`jobs.intake.preflight.repack`) when all were held whole.
    ``exact`` takes no shortcut: the directory through :mod:`zipfile`, every
    entry inflated in chunks, every sheet and the shared strings through the
    full XML scan. Same outcome, slower: for tests of the fast paths and for
    looking into a disputed verdict.
    """
    found = ZipScan()
    data = path.read_bytes() if data is None else data
    fp = io.BytesIO(data)
    infos = _listing(data, limits, exact=exact)
    _declared_checks(infos, limits)
    by_name = {_norm(i.filename): i for i in infos}
    budget = [limits.max_uncompressed_mb * _MB]
    limit_mb = limits.max_uncompressed_mb
    done: set[str] = set()
    whole: dict[str, bytes] = {}

    def stream(name: str) -> Iterator[bytes]:
        if name in done:  # a second pass (the exact scan after a fast one): already counted
            yield from _inflate(fp, by_name[name], by_name[name].file_size, limit_mb=limit_mb)
            return
        done.add(name)
        for chunk in _inflate(fp, by_name[name], budget[0], limit_mb=limit_mb):
            budget[0] -= len(chunk)
            yield chunk

    def read_whole(name: str, *, shared: bool = True) -> bytes | None:
        """A first pass in one call (counted like ``stream``); ``None`` leaves the entry to ``stream``."""
        if name in whole:
            return whole[name]
        info = by_name[name]
        if exact or name in done or info.file_size > budget[0]:
            return None
        out = _inflate_whole(data, info, remember=shared)
        if out is not None:
            done.add(name)
            budget[0] -= len(out)
            if info.file_size <= _CHUNK:
                whole[name] = out
        return out

    def xml(name: str, *, shared: bool = True) -> Iterator[bytes] | tuple[bytes]:
        # The whole bytes when the stream would have yielded them as one chunk:
        # expat's token bound and the chunked checks then see the same pieces.
        info = by_name[name]
        if info.file_size <= _CHUNK and info.compress_size <= _CHUNK:
            out = read_whole(name, shared=shared)
            if out is not None:
                return (out,)
        return stream(name)

    names = set(by_name)
    _refuse_other_documents(names, stream)
    main = next((t for _i, typ, t in relationships(xml("_rels/.rels"), "", part="_rels/.rels")
                 if typ.endswith(_REL_OFFICE_DOC)), None) if "_rels/.rels" in names else None
    main = main or ("xl/workbook.xml" if "xl/workbook.xml" in names else None)
    if main is None or main not in names:
        raise UnreadableFile("zip-not-workbook")
    if main.endswith(".bin"):
        raise UnreadableFile("xlsb")
    sheets = _workbook_sheets(xml, main, names, found)
    # Worksheet parts the workbook does not list are scanned too: a reader
    # that finds them some other way must not meet an unchecked sheet.
    for name in sorted(n for n in names if n.endswith(".xml") and "worksheets/" in n):
        if "/worksheets/" in f"/{name}" and name not in sheets:
            sheets[name] = posixpath.basename(name)
    macros = external = False
    strings = None
    for name in names:  # one pass over the names (the set's order, as before, picks the strings part)
        lower = name.lower()
        macros = macros or lower.endswith("vbaproject.bin") or "/macrosheets/" in name
        found.binary_workbook = found.binary_workbook or lower.endswith(("workbook.bin", "workbook.bin.rels"))
        external = external or "/externalLinks/" in f"/{name}"
        if strings is None and lower.rpartition("/")[2] == "sharedstrings.xml":
            strings = name
    if macros:
        found.kind = "xlsm"
        found.warnings.append("含宏，已忽略宏，仅读取数据")
    if external:
        found.warnings.append("含外部链接（引用其他文件的数据），已忽略外部链接，仅读取文件中保存的数值")
    big: set[int] = set()
    if strings and exact:
        big = big_shared_strings(checked_string_counts(xml(strings), by_name[strings].file_size), limits)
    elif strings and not strings_are_short(
            checked_string_counts(xml(strings, shared=False), by_name[strings].file_size), limits):
        big = big_shared_strings(xml(strings), limits)
    for part, sheet in sheets.items():
        if not big and not exact:
            body = read_whole(part, shared=False)  # sheets are each return's own
            if sheet_is_plain(stream(part) if body is None else body, limits):
                continue
        scanner = SheetScanner(sheet, limits, big, found)
        parse(xml(part), scanner.start, scanner.end, scanner.text, part=part)
        scanner.finish()
    for name in sorted(names - done):
        if read_whole(name) is None:
            for _chunk in stream(name):
                pass  # inflate-and-count: sizes and checksums of every entry are verified
    if unpack and len(by_name) == len(infos) and not found.binary_workbook:
        found.unpacked = repack(infos, whole, _norm)
    return found


def _workbook_sheets(stream: Callable[[str], Iterator[bytes]], main: str, names: set[str], found: ZipScan) -> dict[str, str]:
    """Map worksheet part -> sheet name; record hidden sheets."""
    base = posixpath.dirname(main)
    rels_part = posixpath.join(base, "_rels", posixpath.basename(main) + ".rels")
    targets = {rid: target for rid, _t, target in relationships(stream(rels_part), base, part=rels_part)} \
        if rels_part in names else {}
    sheets: dict[str, str] = {}
    for sheet, state, rid in sheet_entries(stream(main), part=main):
        found.sheet_names.append(sheet)
        if state in ("hidden", "veryHidden"):
            found.hidden_sheets.append(sheet)  # the reader warns, naming the schema sheet
        part = targets.get(rid)
        if part in names:
            sheets[part] = sheet
    return sheets
