"""Minimal, bounded reader of an OLE2 (Compound File) container and of the BIFF records that matter.

Preflight needs the names of the streams and storages in the container: an
``.xls`` holds ``Workbook`` (or ``Book`` for Excel 95), an encrypted ``.xlsx``
holds ``EncryptionInfo`` and ``EncryptedPackage``, a Word file holds
``WordDocument``, macros live under ``_VBA_PROJECT_CUR``. For an ``.xls`` it
also reads the workbook stream's ``DIMENSIONS`` and cell records: calamine
allocates a sheet's whole rectangle up front, so one edited record (measured
on 5 KB files: a DIMENSIONS declaring 167 million rows asked for 13 GB, a
LABELSST cell moved to column 30964 for 38 GB) kills the process.
Every loop is bounded by the file size so a crafted container cannot make us
spin or allocate; any inconsistency returns ``None`` and the caller lets the
Excel reader decide.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_END_OF_CHAIN = 0xFFFFFFFE
_MAX_SPECIAL = 0xFFFFFFFA  # FATSECT, DIFSECT, ... and above are not data sectors
_FREE_SECT = 0xFFFFFFFF
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096
_BIFF_DIMENSIONS = 0x0200
_BIFF_FILEPASS = 0x002F
_BIFF_BOF = 0x0809
# Cell records starting with (row, column): FORMULA, RSTRING, LABELSST, BLANK,
# NUMBER, LABEL, BOOLERR, RK; MULRK and MULBLANK end with their last column.
_CELL_RECORDS = frozenset({0x0006, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
_MULTI_CELL_RECORDS = frozenset({0x00BD, 0x00BE})
_PAIR = struct.Struct("<HH")
_QUAD = struct.Struct("<HHHH")
_WATCHED_RECORDS = _MULTI_CELL_RECORDS | {_BIFF_DIMENSIONS, _BIFF_FILEPASS, _BIFF_BOF}


@dataclass(frozen=True)
class OleEntry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    start: int
    size: int


@dataclass(frozen=True)
class SheetExtent:
    """A sheet's extent: rows and columns up to the last one its ``DIMENSIONS``
    record declares or any cell record uses, whichever is larger."""

    rows: int
    columns: int


def _chain(fat: list[int], start: int, limit: int) -> list[int] | None:
    """Follow a FAT chain from ``start``; ``None`` on a cycle or a bad pointer."""
    out: list[int] = []
    seen: set[int] = set()
    sector = start
    while sector != _END_OF_CHAIN:
        if sector >= len(fat) or sector in seen or len(out) >= limit:
            return None
        seen.add(sector)
        out.append(sector)
        sector = fat[sector]
    return out


class _Container:
    """The parsed header, FAT and directory of one OLE2 file held in memory."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        shift = struct.unpack_from("<H", data, 0x1E)[0]
        if shift not in (9, 12):
            raise ValueError("sector size")
        self.size = 1 << shift
        self.n_sectors = max(0, (len(data) - self.size) // self.size)
        n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
        self.first_minifat, self.n_minifat = struct.unpack_from("<II", data, 0x3C)
        first_difat, n_difat = struct.unpack_from("<II", data, 0x44)
        # Counts the Excel reader allocates by before reading anything: each
        # names sectors of this file, so none can exceed the sectors it has.
        if max(n_fat, self.n_minifat, n_difat) > self.n_sectors + 1:
            raise ValueError("sector counts")
        difat = list(struct.unpack_from("<109I", data, 0x4C))
        next_difat, hops = first_difat, 0
        while next_difat < _MAX_SPECIAL and hops < n_difat and hops <= self.n_sectors:
            values = struct.unpack(f"<{self.size // 4}I", self.sector(next_difat))
            difat.extend(values[:-1])
            next_difat, hops = values[-1], hops + 1
        self.fat: list[int] = []
        for fat_sector in difat[:n_fat]:
            if fat_sector >= _MAX_SPECIAL:
                raise ValueError("FAT sector")
            self.fat.extend(struct.unpack(f"<{self.size // 4}I", self.sector(fat_sector)))
        directory = self.read_chain(first_dir)
        self.entries: list[OleEntry] = []
        for off in range(0, len(directory) - 127, 128):
            entry = directory[off : off + 128]
            name_len = struct.unpack_from("<H", entry, 64)[0]
            kind = entry[66]
            if kind == 0 or not 2 <= name_len <= 64:
                continue
            name = entry[: name_len - 2].decode("utf-16-le", errors="replace")
            start, size = struct.unpack_from("<IQ", entry, 116)
            if self.size == 512:
                size &= 0xFFFFFFFF  # version 3 files leave the high half undefined
            if size > len(data):
                raise ValueError("stream larger than the file")
            self.entries.append(OleEntry(name, kind, start, size))

    def sector(self, n: int) -> bytes:
        chunk = self.data[(n + 1) * self.size : (n + 2) * self.size]
        if not chunk:
            raise ValueError("sector past the end")
        # Some writers leave the last sector short; readers pad it.
        return chunk.ljust(self.size, b"\0")

    def read_chain(self, start: int) -> bytes:
        sectors = _chain(self.fat, start, self.n_sectors + 1)
        if sectors is None:
            raise ValueError("chain")
        return b"".join(self.sector(n) for n in sectors)

    def stream(self, entry: OleEntry) -> bytes:
        """The bytes of a stream, from the regular or the mini stream."""
        if entry.size > len(self.data):
            raise ValueError("stream larger than the file")
        if entry.size >= _MINI_CUTOFF:
            return self.read_chain(entry.start)[: entry.size]
        root = next(e for e in self.entries if e.kind == 5)
        mini_stream = self.read_chain(root.start)
        minifat_bytes = self.read_chain(self.first_minifat) if self.n_minifat else b""
        minifat = list(struct.unpack(f"<{len(minifat_bytes) // 4}I", minifat_bytes))
        sectors = _chain(minifat, entry.start, len(mini_stream) // _MINI_SECTOR + 1)
        if sectors is None:
            raise ValueError("mini chain")
        out = b"".join(mini_stream[n * _MINI_SECTOR : (n + 1) * _MINI_SECTOR] for n in sectors)
        return out[: entry.size]


def _container(data: bytes, max_bytes: int) -> _Container | None:
    data = data[: max_bytes + 1]
    if len(data) > max_bytes or len(data) < 512:
        return None
    try:
        return _Container(data)
    except (ValueError, struct.error, StopIteration, IndexError):
        return None


def ole_entry_names(path: Path, *, max_bytes: int) -> set[str] | None:
    """Names of all directory entries of the OLE2 file at ``path``.

    Returns ``None`` when the container is not well formed (truncated, bad
    chains) or larger than ``max_bytes``; names are returned as stored.
    """
    container = _container(path.read_bytes(), max_bytes)
    return None if container is None else {e.name for e in container.entries}


def container_complete(data: bytes, *, max_bytes: int) -> bool:
    """Whether an OLE2 file's bytes hold its whole container: header, FAT and
    directory parse, and every sector the FAT marks as used is in the file
    (a copy cut short lacks its last sectors; Excel's files always hold them)."""
    container = _container(data, max_bytes)
    if container is None:
        return False
    used = max((i for i, v in enumerate(container.fat) if v != _FREE_SECT), default=-1)
    return len(data) >= (used + 2) * container.size


def inspect_ole(data: bytes, *, max_bytes: int) -> tuple[set[str] | None, WorkbookInfo | None]:
    """:func:`ole_entry_names` and (when there are names) :func:`workbook_info` of
    an OLE2 file's bytes, parsing the container once."""
    container = _container(data, max_bytes)
    if container is None:
        return None, None
    names = {e.name for e in container.entries}
    return names, (_workbook_info(container) if names else None)


@dataclass(frozen=True)
class WorkbookInfo:
    """What the workbook stream of an ``.xls`` declares."""

    encrypted: bool
    extents: list[SheetExtent]


def workbook_info(path: Path, *, max_bytes: int) -> WorkbookInfo | None:
    """Encryption (a ``FILEPASS`` record) and the extent of every sheet of an ``.xls``
    (the globals substream comes first, with an empty extent).

    ``None`` when the container or its workbook stream cannot be read.
    """
    container = _container(path.read_bytes(), max_bytes)
    return None if container is None else _workbook_info(container)


def _workbook_info(container: _Container) -> WorkbookInfo | None:
    entry = next((e for e in container.entries if e.kind == 2 and e.name.lower() in ("workbook", "book")), None)
    if entry is None:
        return None
    try:
        stream = container.stream(entry)
    except (ValueError, struct.error, StopIteration, IndexError):
        return None
    return stream_info(stream)


def stream_info(stream: bytes) -> WorkbookInfo | None:
    """:func:`workbook_info` of a workbook stream's bytes (BIFF records)."""
    extents: list[SheetExtent] = []
    rows = cols = 0
    started = False
    # One record at a time without slicing bodies: an .xls holds a record per cell.
    # A record cut by the end of the stream keeps what is there (``size``).
    pair, quad, cells, watched = _PAIR.unpack_from, _QUAD.unpack_from, _CELL_RECORDS, _WATCHED_RECORDS
    pos, end = 0, len(stream)
    # Streams are padded with zeros, which read as empty records of type 0: stop there.
    stop = min(len(stream.rstrip(b"\0")), end - 3)  # and a record header must fit
    while pos < stop:
        if pos + 8 <= end:
            # header, row and column in one call: most records are cells
            kind, length, row, col = quad(stream, pos)
            if kind in cells:
                pos += 4 + length
                if length >= 4:
                    if row >= rows:
                        rows = row + 1
                    if col >= cols:
                        cols = col + 1
                continue
        else:
            kind, length = pair(stream, pos)
            if kind in cells:  # its row and column would lie past the end
                pos += 4 + length
                continue
        body, pos = pos + 4, pos + 4 + length
        if kind not in watched:
            continue
        size = min(pos, end) - body
        if kind in _MULTI_CELL_RECORDS:
            if size >= 6:
                row, first = pair(stream, body)
                last = struct.unpack_from("<H", stream, body + size - 2)[0]
                rows, cols = max(rows, row + 1), max(cols, first + 1, last + 1)
        elif kind == _BIFF_FILEPASS:
            # Records after FILEPASS are encrypted: their sizes mean nothing.
            return WorkbookInfo(encrypted=True, extents=extents)
        elif kind == _BIFF_BOF:  # each sheet's substream starts with a BOF
            if started:
                extents.append(SheetExtent(rows=rows, columns=cols))
            rows = cols = 0
            started = True
        elif kind == _BIFF_DIMENSIONS:
            if size >= 14:  # BIFF8: 32-bit rows
                first_row, last_row, first_col, last_col = struct.unpack_from("<IIHH", stream, body)
            elif size >= 8:  # BIFF5/7: 16-bit rows
                first_row, last_row, first_col, last_col = struct.unpack_from("<HHHH", stream, body)
            else:
                continue
            if first_row > last_row or first_col > last_col:
                return None  # the reader subtracts them: an inverted range wraps to gigabytes
            rows, cols = max(rows, last_row), max(cols, last_col)
    if started:
        extents.append(SheetExtent(rows=rows, columns=cols))
    return WorkbookInfo(encrypted=False, extents=extents)
