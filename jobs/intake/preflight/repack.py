"""Re-pack a checked workbook's parts uncompressed, for the Excel reader.

Preflight (``jobs.intake.preflight.zip_parts``) inflates and verifies every part of a
received ``.xlsx`` before any reader sees it. Handing the reader those very
bytes in a zip whose entries are *stored* (not deflated) spares calamine a
second inflate of every part (~20% of its time on a typical return) and means
it reads exactly what was checked. Names, order and checksums are the
original ones; only the compression differs.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

_LOCAL = struct.Struct("<4sHHHHHLLLHH")
_CENTRAL = struct.Struct("<4sHHHHHHLLLHHHHHLL")
_END = struct.Struct("<4sHHHHLLH")
_UTF8_NAME = 0x800
_VERSION = 20  # 2.0: the version every reader accepts for stored entries
_LIMIT = 0xFFFF_FFFF  # sizes and offsets beyond this need zip64: not re-packed
# A re-pack copies every part once more: only for workbooks this small in all
# (returns are tens of KB), never doubling the memory a large file already takes.
REPACK_MAX = 16 * 1024 * 1024


def stored_zip(entries: Sequence[tuple[str, bytes, int]]) -> bytes | None:
    """A zip of ``(name, data, crc32)`` entries, each stored uncompressed, in the given order.

    ``None`` when the result would need zip64 (over 65,535 entries or 4 GiB).
    """
    if len(entries) > 0xFFFF:
        return None
    pieces: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, data, crc in entries:
        raw = name.encode("utf-8")
        flags = 0 if raw.isascii() else _UTF8_NAME
        size = len(data)
        if offset > _LIMIT or size > _LIMIT:
            return None
        local = _LOCAL.pack(b"PK\x03\x04", _VERSION, flags, 0, 0, 0, crc, size, size, len(raw), 0)
        central.append(_CENTRAL.pack(b"PK\x01\x02", _VERSION, _VERSION, flags, 0, 0, 0, crc, size, size,
                                     len(raw), 0, 0, 0, 0, 0, offset) + raw)
        pieces += (local, raw, data)
        offset += len(local) + len(raw) + size
    directory = b"".join(central)
    if offset + len(directory) > _LIMIT:
        return None
    end = _END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), offset, 0)
    return b"".join([*pieces, directory, end])


def repack(infos: Sequence[Any], parts: Mapping[str, bytes], name_of: Any, *, max_bytes: int = REPACK_MAX) -> bytes | None:
    """The zip's entries (``infos``, in order) stored, from their verified bytes ``parts``
    (keyed by ``name_of(info.filename)``); ``None`` unless every entry's bytes are there
    and they total at most ``max_bytes`` (default ``REPACK_MAX``)."""
    if sum(info.file_size for info in infos) > max_bytes:
        return None
    entries = []
    for info in infos:
        data = parts.get(name_of(info.filename))
        if data is None or len(data) != info.file_size:
            return None
        entries.append((info.filename, data, info.CRC))
    return stored_zip(entries)
