"""Minimal, bounded reader of an OLE2 (Compound File) directory.

Preflight only needs the names of the streams and storages in the container:
an ``.xls`` holds ``Workbook`` (or ``Book`` for Excel 95), an encrypted
``.xlsx`` holds ``EncryptionInfo`` and ``EncryptedPackage``, a Word file holds
``WordDocument``, macros live under ``_VBA_PROJECT_CUR``. Every loop is bounded
by the file size so a crafted container cannot make us spin or allocate; any
inconsistency returns ``None`` and the caller lets the Excel reader decide.
"""

from __future__ import annotations

import struct
from pathlib import Path

_FREE = 0xFFFFFFFF
_END_OF_CHAIN = 0xFFFFFFFE
_MAX_SPECIAL = 0xFFFFFFFA  # FATSECT, DIFSECT, ... and above are not data sectors


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


def ole_entry_names(path: Path, *, max_bytes: int) -> set[str] | None:
    """Names of all directory entries of the OLE2 file at ``path``.

    Returns ``None`` when the container is not well formed (truncated, bad
    chains) or larger than ``max_bytes``; names are returned as stored.
    """
    data = path.read_bytes()[: max_bytes + 1]
    if len(data) > max_bytes or len(data) < 512:
        return None
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        return None
    size = 1 << shift
    n_sectors = max(0, (len(data) - size) // size)
    n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
    first_difat, n_difat = struct.unpack_from("<II", data, 0x44)
    if n_fat > n_sectors + 1:
        return None

    def sector(n: int) -> bytes | None:
        start = (n + 1) * size
        chunk = data[start : start + size]
        return chunk if len(chunk) == size else None

    difat = list(struct.unpack_from("<109I", data, 0x4C))
    next_difat, hops = first_difat, 0
    while next_difat < _MAX_SPECIAL and hops < n_difat and hops <= n_sectors:
        block = sector(next_difat)
        if block is None:
            return None
        values = struct.unpack(f"<{size // 4}I", block)
        difat.extend(values[:-1])
        next_difat, hops = values[-1], hops + 1
    fat: list[int] = []
    for fat_sector in difat[:n_fat]:
        block = sector(fat_sector) if fat_sector < _MAX_SPECIAL else None
        if block is None:
            return None
        fat.extend(struct.unpack(f"<{size // 4}I", block))
    dir_sectors = _chain(fat, first_dir, n_sectors + 1)
    if not dir_sectors:
        return None
    names: set[str] = set()
    for n in dir_sectors:
        block = sector(n)
        if block is None:
            return None
        for off in range(0, size, 128):
            entry = block[off : off + 128]
            name_len = struct.unpack_from("<H", entry, 64)[0]
            kind = entry[66]
            if kind == 0 or not 2 <= name_len <= 64:
                continue
            names.add(entry[: name_len - 2].decode("utf-16-le", errors="replace"))
    return names
